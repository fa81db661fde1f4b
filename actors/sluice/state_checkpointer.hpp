// When and how one partition of a node's state goes to the checkpoint store
// (SEMANTICS §5.28), shared by the operator actors (stateful reducers) and
// the gather actors (window history).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/wiring.hpp"

namespace sluice::detail {

class state_checkpointer {
 public:
  using rows = std::vector<std::pair<std::string, std::string>>;
  /// Appends the state's rows (all when `full`) and removed keys; false
  /// when it keeps no checkpointable state.
  using produce_fn = std::function<bool(bool full, rows& upserts, std::vector<std::string>& removed)>;

  /// At the node's checkpoint interval (and the other checkpointed nodes'
  /// intervals, `wiring::checkpoint_intervals_ms`), and at the first batch of
  /// a run (so a recovery never re-runs more than one interval of batches,
  /// which is what sources keep for replay): writes a delta of the changed
  /// state, a full snapshot every 10th time, and deletes the rows no
  /// recovery needs.
  /// Throws what the store throws (storage_error).
  void at_batch(const node_base& n, const wiring& w, int partition, int64_t t,
                const produce_fn& produce);

  /// The checkpointed rows to restore at the start of a recovered run;
  /// empty when not recovering.
  static std::map<std::string, std::string> restored(const node_base& n, const wiring& w,
                                                     int partition);

 private:
  int checkpoints_ = 0;    // written in this run (every 10th is full)
  int64_t last_full_ = -1; // time of the previous full snapshot
};

} // namespace sluice::detail
