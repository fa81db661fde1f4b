// receiver_tracker: the driver's record of received blocks; allocates them to
// batches (logging each allocation to the WAL first, when it is on).
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

namespace sluice {
class receiver_wal;
} // namespace sluice

namespace sluice::detail {

struct receiver_tracker_state {
  std::deque<block> unallocated;
  std::map<int64_t, int64_t> last_block_of_batch;  ///< batch time -> last block id
  /// batch time -> (stream, block id) the WAL replay gave back to that batch
  std::map<int64_t, std::vector<std::pair<int32_t, int64_t>>> replayed;
  std::shared_ptr<receiver_wal> wal;
  caf::actor manager;
  std::shared_ptr<transport> net;
  std::function<void(std::string)> on_error;
  duration wal_retention{0};  ///< WAL entries outlive their batch by this much
  static inline const char* name = "sluice.receiver_tracker";
};

/// Handles `(block_msg)` (reported by the block manager),
/// `(allocate_atom, int64_t t) -> allocation_msg` (every unallocated block, one
/// partition each, logged before the reply) and `(cleanup_atom, int64_t t)`
/// (batches up to t are done: their blocks may go from memory, and their WAL
/// entries once they are `wal_retention` old: a recovery re-runs the batches
/// since the last state checkpoint on them).
/// `(allocate_atom, int64_t t, ids)`, sent by the WAL replay after a restart
/// before batch t is allocated: blocks the re-run of t takes from the WAL.
/// The allocation logged for t lists them before the new blocks; logging
/// the new ones alone would make a second crash replay them as never
/// allocated, into a later batch as well.
caf::behavior receiver_tracker(caf::stateful_actor<receiver_tracker_state>* self,
                               std::shared_ptr<receiver_wal> wal,
                               std::function<void(std::string)> on_error,
                               duration wal_retention, std::shared_ptr<transport> net);

} // namespace sluice::detail
