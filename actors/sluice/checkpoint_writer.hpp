// checkpoint_writer: the one owner of a context's checkpoint store
// (sluice.db). Operator and gather actors send it their state checkpoints and
// ask it for the state to restore; the job scheduler and start() send it the
// metadata checkpoints. Being messages, they may come from another node.
// Spawn it detached: SQLite writes block.
#pragma once

#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "sluice/messages.hpp"
#include "sluice/transport.hpp"

namespace sluice {
class checkpoint_store;
} // namespace sluice

namespace sluice::detail {

struct checkpoint_writer_state {
  std::shared_ptr<checkpoint_store> store;
  std::shared_ptr<transport> net;
  caf::actor bus;  ///< gets a checkpoint_written event per write; may be null
  /// Metadata checkpoints received and not written yet, with their
  /// requesters' promises and nodes: written in one transaction by the
  /// flush the first of them sent the writer (after what its mailbox held).
  struct queued_metadata {
    metadata_checkpoint m;
    caf::response_promise promise;
    caf::node_id reader;
  };
  std::vector<queued_metadata> metadata;
  static inline const char* name = "sluice.checkpoint_writer";
};

/// Handles, in arrival order:
/// - `(state_write_msg) -> bool`: writes the checkpoint, then deletes what
///   `delete_before` allows;
/// - `(restore_atom, int32_t op, int32_t partition, int64_t t) ->
///   state_rows_msg`: the state as of batch t, read and sent by a detached
///   helper actor (so partitions restore in parallel; the reply may come
///   after replies to later messages);
/// - `(metadata_checkpoint) -> bool`: writes a metadata checkpoint; the ones
///   that arrive together (while the writer was busy) are stored in one
///   transaction, so one sync of the disk serves them all, before any
///   message that came after them is handled;
/// - `(introspect_atom) -> std::vector<actor_report>`: actor_probe.hpp;
/// - `(drain_atom) -> bool`: replies once everything before it was handled;
/// - `(cut_atom, ops, partitions, bound) -> int64_t`: the newest consistent
///   state cut of those operators up to `bound` (replace_atoms.hpp).
/// A failed store call replies with an error whose context is the
/// exception's message and its handle in `net` (so a requester in this
/// process can rethrow it as what it was, e.g. storage_error). Each stored
/// checkpoint is reported to `bus` (the listener bus, if any) with the
/// write's duration.
caf::behavior checkpoint_writer(caf::stateful_actor<checkpoint_writer_state>* self,
                                std::shared_ptr<checkpoint_store> store,
                                std::shared_ptr<transport> net, caf::actor bus);

/// What went wrong, from an error the checkpoint writer replied with.
struct writer_failure {
  std::string what;
  uint64_t cause = 0;  ///< the exception's handle in the writer's transport, or 0
};
writer_failure failure_of(const caf::error& err);

} // namespace sluice::detail
