// Every message the engine's actors exchange, with its `inspect` overload,
// announced to CAF in one type-id block (add_message_types below). No message
// holds a pointer, a shared_ptr or a closure: records travel as a handle into
// the sending process's transport (same process) or as codec bytes (another
// process), and other process-local objects (output jobs, exceptions) as
// handles (DESIGN.md "Actors"; bytes in persistence/FORMAT.md "Messages").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "sluice/checkpoint_store.hpp"
#include "sluice/listener.hpp"
#include "sluice/time.hpp"

namespace sluice::detail {

/// The records of one partition (or none: every field zero and empty).
struct records_msg {
  uint64_t origin = 0;  ///< the transport that holds `local`
  uint64_t local = 0;   ///< handle of the records in that transport, or 0
  uint64_t type = 0;    ///< with `bytes`: the record type's key (record_ops)
  std::string bytes;    ///< codec<std::vector<T>> bytes of the records
  friend bool operator==(const records_msg&, const records_msg&) = default;
};

/// One partition of a batch: its index in the RDD and its records.
struct part_msg {
  int32_t index = 0;
  records_msg data;
  friend bool operator==(const part_msg&, const part_msg&) = default;
};

/// Partitions of one batch travelling to a stage slot or a gather.
struct batch_msg {
  int64_t t = 0;      ///< batch time in ms
  int32_t port = 0;   ///< which parent of the receiving node sent it
  int32_t from = 0;   ///< the sending slot (orders shuffle input deterministically)
  bool none = false;  ///< the parent had no batch at t (Spark's None)
  std::vector<part_msg> data;
  friend bool operator==(const batch_msg&, const batch_msg&) = default;
};

/// A gather or output node finished batch t (gather -1: a stateful stage
/// slot that only updated its state).
struct gather_done {
  int64_t t = 0;
  int32_t gather = 0;
  uint64_t job = 0;  ///< the output function, kept in the driver's transport; 0: none
  friend bool operator==(const gather_done&, const gather_done&) = default;
};

/// User code failed while computing batch t.
struct batch_failed {
  int64_t t = 0;
  std::string what;
  /// The exception in the sender's transport (its type reaches
  /// await_termination), or 0 when there is none or it stayed on another node.
  uint64_t cause = 0;
  friend bool operator==(const batch_failed&, const batch_failed&) = default;
};

/// A block of received records on its way to storage and the tracker.
struct block_msg {
  int32_t stream = 0;
  int64_t id = 0;
  int64_t created_ms = 0;
  int64_t records = 0;
  records_msg data;
  bool queued = false;  ///< cut from the block queue (release() once stored)
  friend bool operator==(const block_msg&, const block_msg&) = default;
};

/// The blocks allocated to one batch of one receiver stream.
struct allocation_msg {
  int64_t t = 0;
  std::vector<part_msg> data;  ///< one partition per block, in arrival order
  int64_t records = 0;
  friend bool operator==(const allocation_msg&, const allocation_msg&) = default;
};

/// A state checkpoint of one (operator, partition) for the checkpoint
/// writer: a delta or a full snapshot of codec bytes (FORMAT.md "Checkpoint
/// tables"), and how far older checkpoints may go.
struct state_write_msg {
  int32_t op = 0;
  int32_t partition = 0;
  int64_t t = 0;
  bool full = false;
  state_rows upserts;
  std::vector<std::string> removed;
  int64_t delete_before = -1;  ///< >= 0: delete what a full snapshot at this time supersedes
  friend bool operator==(const state_write_msg&, const state_write_msg&) = default;
};

/// The state of one (operator, partition) as of a recovered batch.
struct state_rows_msg {
  /// StateCheckpointChunk payloads in the order they apply
  /// (checkpoint_store::read_state_chunks; `sluice/state_chunk.hpp` reads them)
  std::vector<std::string> chunks;
  state_chain chain;   ///< what `chunks` were read from
  friend bool operator==(const state_rows_msg&, const state_rows_msg&) = default;
};

/// Cluster mode: what a worker executor hosts and what it must know before
/// its operator actors start (they read the recovery point and the
/// checkpoint writer when spawned).
struct placement_msg {
  std::vector<int32_t> stages;  ///< with `slots`: the (stage, slot) pairs to host
  std::vector<int32_t> slots;
  int64_t zero_ms = 0;
  bool recovering = false;
  int64_t restore_from = 0;     ///< with `recovering`: state as of this batch
  std::vector<int64_t> checkpoint_intervals_ms;
  caf::actor scheduler;
  caf::actor checkpoint_writer;  ///< on the driver; null without checkpoints
  friend bool operator==(const placement_msg&, const placement_msg&) = default;
};

/// Cluster mode: the driver asks a worker to host the receiver of stream
/// `stream` (supervisor, block generator, block manager) for the tracker on
/// the driver. The worker answers with {block manager, block generator,
/// supervisor} and does not start the receiver: the driver first tells the
/// tracker the new block manager, then sends the supervisor `start`.
struct receiver_placement_msg {
  int32_t stream = 0;
  int64_t last_block = -1;  ///< the tracker's highest block id; new blocks come after it
  caf::actor tracker;       ///< on the driver: blocks, reports of errors
  caf::actor bus;           ///< on the driver: the receiver's listener events
  friend bool operator==(const receiver_placement_msg&, const receiver_placement_msg&) = default;
};

/// Cluster mode: every stage slot's actor (wherever it runs) and the
/// driver's gathers, so operators send to each other directly.
struct stage_table_msg {
  std::vector<int32_t> slots;     ///< per stage: how many of `actors` are its
  std::vector<caf::actor> actors;  ///< stage 0's slots, then stage 1's, ...
  std::vector<caf::actor> gathers;
  friend bool operator==(const stage_table_msg&, const stage_table_msg&) = default;
};

/// Cluster mode: a worker asking the driver to join.
struct worker_hello {
  std::string name;         ///< "host:pid", for log lines
  int32_t cores = 1;
  int32_t context = 0;      ///< which context of the program it serves (1 = first)
  std::string fingerprint;  ///< its graph's description (one node a line)
  caf::actor executor;      ///< hosts operator actors
  caf::actor control;       ///< answers heartbeats, ends the worker
  /// Where the worker's peer endpoint listens (worker_peers.hpp): empty
  /// host when it listens on every interface (the driver fills in the
  /// address the worker reached it from), port 0 when it has none.
  std::string peer_host;
  int32_t peer_port = 0;
  friend bool operator==(const worker_hello&, const worker_hello&) = default;
};

/// Cluster mode: one worker's peer endpoint, as the driver lists it to every
/// worker after placement (in join order) so workers link directly.
struct peer_endpoint {
  std::string name;  ///< the worker's name ("host:pid")
  std::string host;
  int32_t port = 0;
  friend bool operator==(const peer_endpoint&, const peer_endpoint&) = default;
};

/// One event for the listeners.
struct listener_event {
  enum class kind : uint8_t {
    streaming_started, batch_submitted, batch_started, batch_completed,
    output_started, output_completed, receiver_started, receiver_error, receiver_stopped,
    worker_added, worker_removed, operators_placed, checkpoint_written, streaming_failed,
  } what = kind::streaming_started;
  batch_info batch;
  output_operation_info output;
  receiver_info receiver;
  int64_t time_us = 0;
  worker_info worker;
  placement_info placement;
  checkpoint_info checkpoint;
  failure_info failure;
};

/// One actor, as a live view of the engine sees it: the reply to
/// `introspect_atom` (actor_probe.hpp). Taken by the actor itself, between
/// two messages.
struct actor_report {
  std::string id;      ///< unique in the context, e.g. "stage 1 slot 0"
  std::string parent;  ///< the id of the actor that spawned or supervises it, or "context"
  std::string kind;    ///< the actor's name, e.g. "sluice.operator"
  int64_t mailbox = 0;      ///< messages waiting when it answered
  int64_t restarts = 0;     ///< receiver supervisors: restarts of their receiver
  int32_t stage = -1;       ///< operator actors: their stage and slot
  int32_t slot = -1;
  int32_t op = -1;          ///< a stateful reducer's operator id, else -1
  int64_t state_keys = 0;   ///< its partition's keys
  int32_t stream = -1;      ///< receiver actors: their stream id
  int64_t wal_bytes = 0;    ///< block managers: record bytes written to the WAL
  /// False: the actor did not answer the newest round in time (busy with a
  /// long batch, or gone); the report is its last answer.
  bool answered = true;
  friend bool operator==(const actor_report&, const actor_report&) = default;
};

// -- inspect ------------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, records_msg& x) {
  return f(caf::meta::type_name("records_msg"), x.origin, x.local, x.type, x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, part_msg& x) {
  return f(caf::meta::type_name("part_msg"), x.index, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_msg& x) {
  return f(caf::meta::type_name("batch_msg"), x.t, x.port, x.from, x.none, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gather_done& x) {
  return f(caf::meta::type_name("gather_done"), x.t, x.gather, x.job);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_failed& x) {
  return f(caf::meta::type_name("batch_failed"), x.t, x.what, x.cause);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, block_msg& x) {
  return f(caf::meta::type_name("block_msg"), x.stream, x.id, x.created_ms, x.records, x.data,
           x.queued);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, allocation_msg& x) {
  return f(caf::meta::type_name("allocation_msg"), x.t, x.data, x.records);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_write_msg& x) {
  return f(caf::meta::type_name("state_write_msg"), x.op, x.partition, x.t, x.full, x.upserts,
           x.removed, x.delete_before);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_rows_msg& x) {
  return f(caf::meta::type_name("state_rows_msg"), x.chunks, x.chain.checkpoints, x.chain.full_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_msg& x) {
  return f(caf::meta::type_name("placement_msg"), x.stages, x.slots, x.zero_ms, x.recovering,
           x.restore_from, x.checkpoint_intervals_ms, x.scheduler, x.checkpoint_writer);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, receiver_placement_msg& x) {
  return f(caf::meta::type_name("receiver_placement_msg"), x.stream, x.last_block, x.tracker,
           x.bus);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stage_table_msg& x) {
  return f(caf::meta::type_name("stage_table_msg"), x.slots, x.actors, x.gathers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_hello& x) {
  return f(caf::meta::type_name("worker_hello"), x.name, x.cores, x.context, x.fingerprint,
           x.executor, x.control, x.peer_host, x.peer_port);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_endpoint& x) {
  return f(caf::meta::type_name("peer_endpoint"), x.name, x.host, x.port);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, listener_event& x) {
  auto what = static_cast<uint8_t>(x.what);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (what > static_cast<uint8_t>(listener_event::kind::streaming_failed))
      return caf::make_error(caf::sec::invalid_argument,
                             "listener_event: unknown kind " + std::to_string(what));
    x.what = static_cast<listener_event::kind>(what);
    return caf::none;
  });
  return f(caf::meta::type_name("listener_event"), what, load, x.batch, x.output, x.receiver,
           x.time_us, x.worker, x.placement, x.checkpoint, x.failure);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_report& x) {
  return f(caf::meta::type_name("actor_report"), x.id, x.parent, x.kind, x.mailbox, x.restarts,
           x.stage, x.slot, x.op, x.state_keys, x.stream, x.wal_bytes, x.answered);
}

} // namespace sluice::detail

namespace sluice {

// The listener infos are public types without CAF; their inspect overloads
// live here, with the messages that carry them.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_input_info& x) {
  return f(caf::meta::type_name("stream_input_info"), x.input_stream_id, x.num_records);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_info& x) {
  return f(caf::meta::type_name("batch_info"), x.time, x.num_records, x.submission_us,
           x.processing_start_us, x.processing_end_us, x.stream_id_to_input_info);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_info& x) {
  return f(caf::meta::type_name("worker_info"), x.name, x.cores, x.time_us, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_info& x) {
  bool restored = x.state_as_of.has_value();
  int64_t as_of = x.state_as_of ? x.state_as_of->ms : 0;
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (restored)
      x.state_as_of = batch_time{as_of};
    else
      x.state_as_of.reset();
    return caf::none;
  });
  return f(caf::meta::type_name("placement_info"), x.workers, restored, as_of, load, x.replaced,
           x.time_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_operation_info& x) {
  bool failed = x.failure_reason.has_value();
  std::string reason = x.failure_reason.value_or("");
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (failed)
      x.failure_reason = std::move(reason);
    else
      x.failure_reason.reset();
    return caf::none;
  });
  return f(caf::meta::type_name("output_operation_info"), x.batch, x.id, x.name, x.start_us,
           x.end_us, failed, reason, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metadata_checkpoint& x) {
  bool has_zero = x.zero_time_ms.has_value();
  int64_t zero = x.zero_time_ms.value_or(0);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (has_zero)
      x.zero_time_ms = zero;
    else
      x.zero_time_ms.reset();
    return caf::none;
  });
  return f(caf::meta::type_name("metadata_checkpoint"), x.batch_time_ms, x.graph_fingerprint,
           x.conf, x.pending_batches, x.source_offsets, x.checkpoint_interval_hint, has_zero, zero,
           load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkpoint_info& x) {
  auto what = static_cast<uint8_t>(x.what);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (what > static_cast<uint8_t>(checkpoint_info::kind::state))
      return caf::make_error(caf::sec::invalid_argument,
                             "checkpoint_info: unknown kind " + std::to_string(what));
    x.what = static_cast<checkpoint_info::kind>(what);
    return caf::none;
  });
  return f(caf::meta::type_name("checkpoint_info"), what, load, x.batch, x.operator_id,
           x.partition, x.full, x.entries, x.bytes, x.duration_us, x.time_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, failure_info& x) {
  return f(caf::meta::type_name("failure_info"), x.message, x.type, x.time_us);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, receiver_info& x) {
  return f(caf::meta::type_name("receiver_info"), x.stream_id, x.name, x.active, x.last_error,
           x.last_error_us, x.location);
}

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using advance_atom = caf::atom_constant<caf::atom("advance")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using allocate_atom = caf::atom_constant<caf::atom("allocate")>;
using cleanup_atom = caf::atom_constant<caf::atom("cleanup")>;
using rate_atom = caf::atom_constant<caf::atom("rate")>;
using error_atom = caf::atom_constant<caf::atom("error")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using prove_atom = caf::atom_constant<caf::atom("prove")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using end_atom = caf::atom_constant<caf::atom("end")>;
using spawn_atom = caf::atom_constant<caf::atom("spawn")>;
using wire_atom = caf::atom_constant<caf::atom("wire")>;
using workers_atom = caf::atom_constant<caf::atom("workers")>;
using introspect_atom = caf::atom_constant<caf::atom("introspect")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using link_atom = caf::atom_constant<caf::atom("link")>;
using host_atom = caf::atom_constant<caf::atom("host")>;
using last_atom = caf::atom_constant<caf::atom("last")>;
/// To a stateful operator actor: its node's initial state is no longer needed.
using release_initial_atom = caf::atom_constant<caf::atom("relinitial")>;

} // namespace sluice

// Every sluice message type, announced once: add_message_types(cfg) below.
CAF_BEGIN_TYPE_ID_BLOCK(sluice, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::records_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::part_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::batch_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::gather_done))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::batch_failed))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::block_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::allocation_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::listener_event))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::state_write_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::state_rows_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::metadata_checkpoint))
  CAF_ADD_TYPE_ID(sluice, (std::vector<std::pair<int32_t, int64_t>>))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::placement_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::stage_table_msg))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::worker_hello))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::actor_report))
  CAF_ADD_TYPE_ID(sluice, (std::vector<sluice::detail::actor_report>))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::peer_endpoint))
  CAF_ADD_TYPE_ID(sluice, (std::vector<sluice::detail::peer_endpoint>))
  CAF_ADD_TYPE_ID(sluice, (sluice::detail::receiver_placement_msg))
  CAF_ADD_TYPE_ID(sluice, (std::vector<sluice::detail::listener_event>))
CAF_END_TYPE_ID_BLOCK(sluice)

namespace sluice::detail {

/// Announces every sluice message type to an actor system's configuration
/// (needed before a message can be deserialized on another node).
inline void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::sluice>();
}

} // namespace sluice::detail
