// When the job scheduler releases the initial states of update_state_by_key
// and map_with_state (node_base::release_initial_state), so a run does not
// keep a copy of every initial pair in every process until it stops.
//
// Why it is safe then: a stateful slot stores a state checkpoint at the
// first batch it runs (state_checkpointer), before that batch's result goes
// on, so a completed batch at which a stage ran means each of its slots has
// one at or before it. A worker's replacement restores the state as of the
// newest checkpoint at or before the last batch all of whose predecessors
// completed (cluster_replace.cpp's cut). Once every such stage has run a
// completed batch and every batch up to those completed, every later
// placement restores from a checkpoint, and none needs the initial state.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <caf/fwd.hpp>

#include "sluice/wiring.hpp"

namespace sluice::detail {

class initial_release {
 public:
  initial_release() = default;

  /// Follows the stages of `w`'s plan whose head keeps an initial state;
  /// none when the context has no checkpoints or a head stores no state
  /// checkpoints (no interval), as then nothing may be released.
  explicit initial_release(const wiring& w);

  /// Batch `t` completed; `oldest_open` is the oldest batch still running
  /// or queued other than t (max: none). True exactly once: when the
  /// initial states are to be released (then call release).
  bool completed(const wiring& w, int64_t t, int64_t oldest_open);

  bool released() const { return released_; }

  /// Releases the initial states of this process's graph, and tells every
  /// slot's actor of those stages to release its own (a worker's graph
  /// holds its own; in one process the same node is released again).
  void release(caf::event_based_actor* self, const wiring& w) const;

 private:
  std::vector<int> stages_;
  std::vector<int> waiting_;  ///< stages that ran no completed batch yet
  int64_t ran_by_ = std::numeric_limits<int64_t>::min();  ///< newest such first batch
  bool released_ = false;
};

} // namespace sluice::detail
