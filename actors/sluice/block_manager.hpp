// block_manager: stores a receiver's blocks (and, with the receiver WAL on,
// writes each one to the write-ahead log first), then reports them to the
// receiver tracker.
#pragma once

#include <functional>
#include <map>
#include <memory>

#include <caf/all.hpp>

#include "sluice/block.hpp"
#include "sluice/messages.hpp"

namespace sluice {
class receiver_wal;
} // namespace sluice

namespace sluice::detail {

struct block_manager_state {
  std::shared_ptr<block_source> source;
  caf::actor tracker;
  std::shared_ptr<transport> net;
  std::shared_ptr<receiver_wal> wal;  ///< null when the WAL is off
  std::function<void(std::string)> on_error;
  bool confirm = false;   ///< the tracker is remote: wait for its answer (see below)
  int32_t stream = -1;    ///< from the first block on
  int64_t wal_bytes = 0;  ///< record bytes appended to the WAL
  /// id -> records, until cleanup. Only the count: the records went to the
  /// tracker, and a reference kept here would make the operator that runs
  /// the batch copy every record instead of moving it (take() moves only
  /// what nothing else holds).
  std::map<int64_t, int64_t> blocks;
  static inline const char* name = "sluice.block_manager";
};

/// Handles `(block_msg) -> bool`: fault point block.write, WAL append when on,
/// then holds the block, tells the tracker and frees its queue slot; replies
/// once stored. A failed write calls `on_error` and replies with an error.
/// `(cleanup_atom, int64_t last_block)`: blocks with ids <= last_block were
/// processed: they leave the receiver's buffer bounds.
/// With `confirm` (cluster mode: this manager on a worker, the tracker on
/// the driver) the manager keeps only each block's record count and
/// replies once the tracker answered, so the block is on the driver (and in
/// its WAL when on) before `store` returns: a lost worker loses no block it
/// stored. A refusal (the driver declared this worker lost) is the reply.
/// Without `confirm` the process is one: the tracker is told without waiting.
caf::behavior block_manager(caf::stateful_actor<block_manager_state>* self,
                            std::shared_ptr<block_source> source, caf::actor tracker,
                            std::shared_ptr<receiver_wal> wal,
                            std::function<void(std::string)> on_error,
                            std::shared_ptr<transport> net, bool confirm);

} // namespace sluice::detail
