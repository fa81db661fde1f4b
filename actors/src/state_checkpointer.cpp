#include "sluice/state_checkpointer.hpp"

#include <algorithm>

#include "sluice/checkpoint_store.hpp"

namespace sluice::detail {

void state_checkpointer::at_batch(const node_base& n, const wiring& w, int partition, int64_t t,
                                  const produce_fn& produce) {
  if (!w.checkpoints)
    return;
  auto interval = n.checkpoint_interval();
  if (interval.count() == 0)
    interval = n.default_checkpoint_interval();
  if (interval.count() == 0)
    return;
  auto due = [&](int64_t every) { return every > 0 && (t - w.info.zero.ms) % every == 0; };
  if (checkpoints_ > 0 && !due(interval.count())
      && std::none_of(w.checkpoint_intervals_ms.begin(), w.checkpoint_intervals_ms.end(), due))
    return;
  bool full = checkpoints_ % 10 == 0;
  rows upserts;
  std::vector<std::string> removed;
  if (!produce(full, upserts, removed))
    return;
  w.checkpoints->write_state(n.id(), partition, t, full, upserts, removed);
  if (full) {
    // Keep the previous full generation: a crash before this batch's
    // metadata checkpoint recovers from it. Older rows go (bounded disk).
    if (last_full_ >= 0)
      w.checkpoints->delete_state_before(n.id(), partition, last_full_);
    last_full_ = t;
  }
  ++checkpoints_;
}

std::map<std::string, std::string> state_checkpointer::restored(const node_base& n,
                                                                const wiring& w, int partition) {
  if (!w.checkpoints || !w.restore_from)
    return {};
  return w.checkpoints->read_state(n.id(), partition, *w.restore_from);
}

} // namespace sluice::detail
