// receiver_tracker: the driver's record of received blocks; allocates them to
// batches (logging each allocation to the WAL first, when it is on) and, as
// Spark's ReceiverRateController, turns completed batches into rate limits.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "sluice/block.hpp"
#include "sluice/messages.hpp"
#include "sluice/rate_estimator.hpp"

namespace sluice {
class receiver_wal;
} // namespace sluice

namespace sluice::detail {

/// Cluster mode's driver half of a receiver stream (receiver_pipeline's
/// home role): the block manager runs on a worker and asks before its
/// `store` returns, so a block the tracker answered is safe on the driver
/// (and, with the WAL on, in the WAL) whatever happens to the worker.
struct tracker_home {
  bool remote = false;                       ///< the block manager is on a worker
  std::shared_ptr<receiver_wal> block_log;   ///< with the WAL on: blocks are logged here
  std::shared_ptr<block_source> source;      ///< encodes blocks for block_log
};

struct receiver_tracker_state {
  std::deque<block> unallocated;
  std::map<int64_t, int64_t> last_block_of_batch;  ///< batch time -> last block id
  /// The last block id the block manager was told is processed.
  int64_t released = -1;
  /// batch time -> blocks the WAL replay gave back to that batch
  std::map<int64_t, std::vector<block>> replayed;
  std::shared_ptr<receiver_wal> wal;
  std::shared_ptr<rate_estimator> estimator;  ///< null without backpressure
  caf::actor manager;
  caf::actor supervisor;
  std::shared_ptr<transport> net;
  std::function<void(std::string)> on_error;
  duration wal_retention{0};  ///< WAL entries outlive their batch by this much
  tracker_home home;          ///< default (not remote) in one process
  int64_t last_id = -1;       ///< the highest block id received (replayed ones too)
  int32_t home_stream = -1;   ///< home: the stream of the blocks received
  int64_t home_wal_bytes = 0; ///< home: record bytes appended to home.block_log
  static inline const char* name = "sluice.receiver_tracker";
};

/// Handles:
/// - `(caf::actor manager, caf::actor supervisor)`: the pipeline's other
///   actors, sent once after they were spawned.
/// - `(block_msg)`: a stored block (reported by the block manager). With a
///   remote block manager (`home.remote`): refused unless it comes from the
///   current one (or from the driver's own WAL replay, without a sender),
///   and logged to `home.block_log` before the reply when the WAL is on.
/// - `(last_atom) -> int64_t`: the highest block id received, -1 for none
///   (a receiver placed again continues after it).
/// - `(error_atom, std::string)`: a remote half failed: `on_error`.
/// - `(allocate_atom, int64_t t) -> allocation_msg`: every unallocated block,
///   one partition each, after the blocks replayed for t; logged before the
///   reply. Fault point tracker.allocate. The job scheduler asks without
///   waiting: the reply is pushed to it when ready.
/// - `(allocate_atom, int64_t t, block_msg)`: sent by the WAL replay after a
///   restart, before batch t is allocated: a block the re-run of t takes
///   from the WAL. The allocation logged for t lists these before the new
///   blocks; logging the new ones alone would make a second crash replay
///   them as never allocated, into a later batch as well.
/// - `(rate_atom, int64_t end_ms, int64_t records, int64_t processing_ms,
///   int64_t scheduling_ms)`: a batch completed with `records` from this
///   stream; with an estimator, a new rate goes to the supervisor.
/// - `(cleanup_atom, int64_t done, int64_t t)`: batch `done` completed: the
///   block manager is told its blocks are processed, so the receiver's
///   buffer bounds (maxBufferedBlocks/Records) count them no more. Batches
///   up to t (a batch earlier, as Spark's remember duration) are forgotten,
///   and their WAL entries go once they are `wal_retention` old (a recovery
///   re-runs the batches since the last state checkpoint on them).
caf::behavior receiver_tracker(caf::stateful_actor<receiver_tracker_state>* self,
                               std::shared_ptr<receiver_wal> wal,
                               std::shared_ptr<rate_estimator> estimator,
                               std::function<void(std::string)> on_error,
                               duration wal_retention, std::shared_ptr<transport> net,
                               tracker_home home);

} // namespace sluice::detail
