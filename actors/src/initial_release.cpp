#include "sluice/initial_release.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

initial_release::initial_release(const wiring& w) {
  if (!w.checkpoint_writer)
    return;
  for (auto& s : w.layout->stages) {
    if (!s.head->stateful() || !s.head->keeps_initial_state())
      continue;
    auto interval = s.head->checkpoint_interval();
    if (interval.count() == 0)
      interval = s.head->default_checkpoint_interval();
    if (interval.count() == 0) { // never checkpointed: its initial state stays
      stages_.clear();
      return;
    }
    stages_.push_back(s.id);
  }
  waiting_ = stages_;
}

bool initial_release::completed(const wiring& w, int64_t t, int64_t oldest_open) {
  if (released_ || stages_.empty())
    return false;
  // A stateful stage runs at every batch time of its parent (run_stateful).
  std::erase_if(waiting_, [&](int s) {
    auto& head = *w.layout->stages[static_cast<size_t>(s)].head;
    if (!head.parents()[0]->valid_at(batch_time{t}, w.info.zero))
      return false;
    ran_by_ = std::max(ran_by_, t);
    return true;
  });
  if (!waiting_.empty() || oldest_open <= ran_by_)
    return false;
  released_ = true;
  return true;
}

void initial_release::release(caf::event_based_actor* self, const wiring& w) const {
  for (int s : stages_) {
    w.layout->stages[static_cast<size_t>(s)].head->release_initial_state();
    for (auto& a : w.stages[static_cast<size_t>(s)])
      if (a)
        self->send(a, release_initial_atom::value);
  }
}

} // namespace sluice::detail
