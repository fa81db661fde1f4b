// When one partition of a node's state is checkpointed (SEMANTICS §5.28) and
// what goes to the checkpoint writer, shared by the operator actors
// (stateful reducers) and the gather actors (window history).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/messages.hpp"
#include "sluice/wiring.hpp"

namespace sluice::detail {

class state_checkpointer {
 public:
  using rows = state_rows;
  /// Appends the state's rows (all when `full`) and removed keys; false
  /// when it keeps no checkpointable state.
  using produce_fn = std::function<bool(bool full, rows& upserts, std::vector<std::string>& removed)>;

  /// At the node's checkpoint interval (and the other checkpointed nodes'
  /// intervals, `wiring::checkpoint_intervals_ms`), and at the first batch of
  /// a run (so a recovery never re-runs more than one interval of batches,
  /// which is what sources keep for replay): returns the checkpoint to send
  /// to the checkpoint writer, a delta of the changed state or a full
  /// snapshot every 10th time (which lets the rows no recovery needs go).
  /// Nothing when no checkpoint is due or the context has no checkpoints.
  std::optional<state_write_msg> at_batch(const node_base& n, const wiring& w, int partition,
                                          int64_t t, const produce_fn& produce);

  /// The state was restored from `chain`: the checkpoints go on with deltas
  /// on it until it holds 10, instead of starting with a full snapshot. Only
  /// for a state whose deltas are the changes since its restore (the keyed
  /// state stores): the recovered run's first batch then writes what it
  /// changed, not the whole state again.
  void restored(const state_chain& chain);

 private:
  int checkpoints_ = 0;    // written in this run
  int chain_ = 0;          // checkpoints in the chain written to (every 10th is full)
  int64_t last_full_ = -1; // time of the chain's full snapshot
};

} // namespace sluice::detail
