#include "sluice/initial_release.hpp"

#include <algorithm>

namespace sluice::detail {

initial_release::initial_release(const plan& p, bool checkpoints) {
  if (!checkpoints)
    return;
  for (auto& s : p.stages) {
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

bool initial_release::completed(const plan& p, batch_time zero, int64_t t, int64_t oldest_open) {
  if (released_ || stages_.empty())
    return false;
  // A stateful stage runs at every batch time of its parent (run_stateful).
  std::erase_if(waiting_, [&](int s) {
    auto& head = *p.stages[static_cast<size_t>(s)].head;
    if (!head.parents()[0]->valid_at(batch_time{t}, zero))
      return false;
    ran_by_ = std::max(ran_by_, t);
    return true;
  });
  if (!waiting_.empty() || oldest_open <= ran_by_)
    return false;
  released_ = true;
  return true;
}

} // namespace sluice::detail
