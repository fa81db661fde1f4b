// streaming_listener: Spark's StreamingListener callbacks and their infos.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/time.hpp"

namespace sluice {

/// Wall-clock times are microseconds since the Unix epoch.
struct output_operation_info {
  batch_time batch;
  int id = 0;                       ///< registration order, from 0
  std::string name;                 ///< e.g. "print", "foreach_rdd"
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::optional<std::string> failure_reason;
};

/// What one input stream gave a batch (Spark's StreamInputInfo).
struct stream_input_info {
  int input_stream_id = 0;  ///< the input stream's id: a receiver's stream_id
  int64_t num_records = 0;
};

struct batch_info {
  batch_time time;
  int64_t num_records = 0;          ///< input records of all sources
  int64_t submission_us = 0;        ///< when the batch was generated
  int64_t processing_start_us = 0;  ///< when its first source was read
  int64_t processing_end_us = 0;    ///< when its last output operation ended
  /// Per input stream, by its id (Spark's streamIdToInputInfo): the records
  /// each gave the batch. Complete in on_batch_completed.
  std::map<int, stream_input_info> stream_id_to_input_info;

  int64_t scheduling_delay_us() const { return processing_start_us - submission_us; }
  int64_t processing_delay_us() const { return processing_end_us - processing_start_us; }
  int64_t total_delay_us() const { return processing_end_us - submission_us; }
};

struct receiver_info {
  int stream_id = 0;
  std::string name;
  bool active = false;
  std::string last_error;
  int64_t last_error_us = 0;
  /// Cluster mode: the worker running the receiver ("host:pid", Spark's
  /// ReceiverInfo.location); empty when it runs in the driver's process.
  std::string location;
};

/// A worker process in cluster mode (Spark's executor added and removed
/// events, which Spark reports to its core listener).
struct worker_info {
  std::string name;    ///< host:pid, as the worker logs it
  int cores = 0;
  int64_t time_us = 0;
  std::string reason;  ///< why it was removed; "" when added
};

/// The operators were placed on the workers: at start, and again after a
/// worker was lost or joined (sluice's own event).
struct placement_info {
  std::vector<std::string> workers;       ///< the worker names, slot i on workers[i % n]
  std::optional<batch_time> state_as_of;  ///< state restored as of; nullopt: none restored
  bool replaced = false;                  ///< placed again while running
  int64_t time_us = 0;
};

/// A checkpoint was stored in sluice.db (sluice's own event): the metadata
/// of a batch, or one partition's state of a stateful operator.
struct checkpoint_info {
  enum class kind : uint8_t { metadata, state } what = kind::metadata;
  batch_time batch;
  int operator_id = -1;  ///< state: the operator's id; metadata: -1
  int partition = -1;    ///< state: the partition; metadata: -1
  bool full = false;     ///< state: the whole state (not only changes)
  int64_t entries = 0;   ///< state: keys written or removed
  int64_t bytes = 0;     ///< state: bytes of the keys and values written
  int64_t duration_us = 0;  ///< how long the write took, its commit included
  int64_t time_us = 0;      ///< when it ended
};

/// The context stopped on an error (sluice's own event): the same message
/// await_termination rethrows, e.g. "kafka: offset out of range reading
/// topic 't' partition 0 offset 7 ...". Sent once, for the first error that
/// ends a running context (an operator's or output's exception, a source
/// failing at a batch's generation, a checkpoint that cannot be stored);
/// errors start() throws are the caller's, and a receiver's restarts go to
/// on_receiver_error.
struct failure_info {
  std::string message;
  /// The sluice::error kind await_termination throws: "error",
  /// "storage_error", "invalid_argument", "illegal_state", "no_such_element".
  std::string type = "error";
  int64_t time_us = 0;
};

/// Receives the engine's events on the listener bus thread, one at a time,
/// in the order they happened. Callbacks must not block for long.
class streaming_listener {
 public:
  virtual ~streaming_listener() = default;
  virtual void on_streaming_started(int64_t /*time_us*/) {}
  virtual void on_batch_submitted(const batch_info&) {}
  virtual void on_batch_started(const batch_info&) {}
  virtual void on_batch_completed(const batch_info&) {}
  virtual void on_output_operation_started(const output_operation_info&) {}
  virtual void on_output_operation_completed(const output_operation_info&) {}
  virtual void on_receiver_started(const receiver_info&) {}
  virtual void on_receiver_error(const receiver_info&) {}
  virtual void on_receiver_stopped(const receiver_info&) {}
  // Cluster mode only.
  virtual void on_worker_added(const worker_info&) {}
  virtual void on_worker_removed(const worker_info&) {}
  virtual void on_operators_placed(const placement_info&) {}
  // With ssc.checkpoint(dir) only.
  virtual void on_checkpoint_written(const checkpoint_info&) {}
  virtual void on_streaming_failed(const failure_info&) {}
};

} // namespace sluice
