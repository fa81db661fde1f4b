#include "sluice/state_checkpointer.hpp"

#include <algorithm>

namespace sluice::detail {

std::optional<state_write_msg> state_checkpointer::at_batch(const node_base& n, const wiring& w,
                                                            int partition, int64_t t,
                                                            const produce_fn& produce) {
  if (!w.checkpoint_writer)
    return std::nullopt;
  auto interval = n.checkpoint_interval();
  if (interval.count() == 0)
    interval = n.default_checkpoint_interval();
  if (interval.count() == 0)
    return std::nullopt;
  auto due = [&](int64_t every) { return every > 0 && (t - w.info.zero.ms) % every == 0; };
  if (checkpoints_ > 0 && !due(interval.count())
      && std::none_of(w.checkpoint_intervals_ms.begin(), w.checkpoint_intervals_ms.end(), due))
    return std::nullopt;
  state_write_msg m;
  m.op = n.id();
  m.partition = partition;
  m.t = t;
  m.full = chain_ == 0 || chain_ >= 10;
  if (!produce(m.full, m.upserts, m.removed))
    return std::nullopt;
  if (m.full) {
    // Keep the previous full generation: a crash before this batch's
    // metadata checkpoint recovers from it. Older rows go (bounded disk).
    m.delete_before = last_full_;
    last_full_ = t;
    chain_ = 0;
  }
  ++chain_;
  ++checkpoints_;
  return m;
}

void state_checkpointer::restored(const state_chain& chain) {
  // A chain without a full snapshot (none was read) starts with one.
  if (chain.checkpoints > 0 && chain.full_ms >= 0) {
    chain_ = chain.checkpoints;
    last_full_ = chain.full_ms;
  }
}

} // namespace sluice::detail
