// The job scheduler in cluster mode, when a worker is lost or joins: the
// scheduler pauses, the graph is placed again, and the batches after the
// cut run again on the input it kept for them.
#include "sluice/job_scheduler_steps.hpp"

#include <algorithm>
#include <deque>
#include <limits>

namespace sluice::detail::scheduling {

void drop_kept_inputs(self_ptr self, int64_t t) {
  auto& st = self->state;
  if (!st.cfg.on_workers_changed)
    return;
  auto& w = *st.w;
  auto drop_through = [&](int64_t until) {
    st.retained.erase(st.retained.begin(), st.retained.upper_bound(until));
    st.dropped_through = std::max(st.dropped_through, until);
  };
  if (w.checkpoint_intervals_ms.empty()) {
    st.retained.erase(t);
    return;
  }
  bool checkpoint_time = false;
  for (auto every : w.checkpoint_intervals_ms)
    checkpoint_time = checkpoint_time || (every > 0 && (t - w.info.zero.ms) % every == 0);
  if (!checkpoint_time || t <= st.checkpointed.second)
    return;
  st.checkpointed = {st.checkpointed.second, t};
  if (st.checkpointed.first >= 0)
    drop_through(st.checkpointed.first);
}

void pause_for_replacement(self_ptr self) {
  auto& st = self->state;
  if (st.replacing)
    return;
  st.replacing = true;
  st.first_open = std::numeric_limits<int64_t>::max();
  if (!st.running.empty())
    st.first_open = st.running.begin()->first;
  for (auto& q : st.queued)
    st.first_open = std::min(st.first_open, q.first);
  for (auto& row : st.w->stages)
    for (auto& a : row)
      if (a)
        st.retired.insert(a.address());
  for (auto& a : st.w->gathers)
    if (a)
      st.retired.insert(a.address());
  st.running.clear();
}

void resume(self_ptr self, int64_t cut) {
  auto& st = self->state;
  if (!st.replacing || st.stopped || st.failed)
    return;
  st.replacing = false;
  if (st.dropped_through >= 0 && cut < st.dropped_through) {
    fail(self, "cluster: cannot re-run the batches after " + to_string(batch_time{cut})
                 + " on the remaining workers: the input of the batches up to "
                 + to_string(batch_time{st.dropped_through})
                 + " is no longer kept (its state checkpoint was expected to be stored)");
    check_drains(self);
    return;
  }
  st.retained.erase(st.retained.begin(), st.retained.upper_bound(cut));
  std::deque<std::pair<int64_t, int64_t>> again;
  for (auto& [t, kept] : st.retained)
    again.emplace_back(t, now_us());
  for (auto& q : st.queued)
    again.push_back(q);
  st.queued = std::move(again);
  if (st.initial && st.initial->released()) // the slots placed again hold their process's
    st.initial->release(self, *st.w);
  try_start(self);
}

bool retired_sender(self_ptr self) {
  auto& st = self->state;
  if (st.retired.empty())
    return false;
  return st.retired.count(caf::actor_cast<caf::actor_addr>(self->current_sender())) > 0;
}

} // namespace sluice::detail::scheduling
