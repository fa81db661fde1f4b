// ui statistics: a streaming_listener that keeps what the web UI, the REST
// API and /metrics show (Spark's StreamingJobProgressListener).
#pragma once

#include <cstdint>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sluice/listener.hpp"
#include "sluice/messages.hpp"

namespace sluice::detail::ui {

/// Upper bounds, in seconds, of the delay histograms' buckets (+Inf implied).
inline constexpr double delay_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,  5,     10,   30,  60,  120};
inline constexpr size_t num_delay_buckets = sizeof(delay_buckets) / sizeof(delay_buckets[0]);

/// A Prometheus histogram: counts[i] observations <= delay_buckets[i] and
/// above the bound before (not cumulative), counts.back() the rest.
struct histogram {
  std::vector<uint64_t> counts = std::vector<uint64_t>(num_delay_buckets + 1, 0);
  double sum = 0;    ///< seconds
  uint64_t count = 0;
  void observe(double seconds);
};

struct output_op_record {
  int id = 0;
  std::string name;
  std::optional<int64_t> start_us;
  std::optional<int64_t> end_us;
  std::optional<std::string> failure_reason;
};

enum class batch_status { queued, processing, completed };

struct batch_record {
  int64_t time_ms = 0;
  batch_status status = batch_status::queued;
  int64_t num_records = 0;         ///< known once completed (0 before)
  int64_t submission_us = 0;
  std::optional<int64_t> processing_start_us;
  std::optional<int64_t> processing_end_us;
  std::map<int, output_op_record> ops;  ///< by output operation id
  std::map<int, int64_t> stream_records;  ///< per input stream id, known once completed

  std::optional<int64_t> scheduling_delay_ms() const;
  std::optional<int64_t> processing_time_ms() const;
  std::optional<int64_t> total_delay_ms() const;
};

struct receiver_record {
  receiver_info info;
  int64_t restarts = 0;  ///< starts after the first one
  int64_t errors = 0;    ///< on_receiver_error events
  bool started = false;
};

/// A worker process of cluster mode, from its added event on.
struct worker_record {
  std::string name;
  int cores = 0;
  int64_t added_us = 0;
  std::optional<int64_t> removed_us;
  std::string removed_reason;
};

/// The stored checkpoints of one stateful operator (all its partitions), or
/// of the metadata.
struct checkpoint_record {
  int64_t count = 0;
  int64_t bytes = 0;             ///< state: key and value bytes written, in all
  int64_t last_batch_ms = 0;
  int64_t last_time_us = 0;      ///< when the newest one was stored
  int64_t last_duration_us = 0;
  histogram durations;
};

/// The operator graph as the planner fused it; fixed at start().
struct graph_view {
  struct node {
    int id = 0;
    std::string name;
  };
  struct consumer {
    std::string kind;  ///< "forward", "shuffle" or "gather"
    int target = 0;    ///< a stage id, or a gather id for "gather"
  };
  struct stage {
    int id = 0;
    int slots = 1;
    std::string input;          ///< "scatter", "forward" or "shuffle"
    std::vector<node> nodes;    ///< the head, then the fused narrow nodes
    std::vector<consumer> consumers;
    std::optional<node> stateful;  ///< a stateful head (its slots report state keys)
  };
  struct gather {
    int id = 0;
    node n;
    int stage = -1;  ///< the stage it scatters into, or -1
    bool checkpointed = false;  ///< keeps window history in checkpoints
    std::vector<int> to_gathers;  ///< the gathers it sends to itself (no stage)
  };
  std::vector<stage> stages;
  std::vector<gather> gathers;
};

/// A consistent copy of everything the listener knows, taken at one moment.
struct statistics_snapshot {
  int64_t batch_ms = 0;
  std::optional<int64_t> start_us;         ///< when streaming started
  std::vector<batch_record> completed;     ///< retained, oldest first
  std::vector<batch_record> active;        ///< queued and processing, oldest first
  std::vector<receiver_record> receivers;  ///< by stream id
  int64_t total_completed = 0;
  int64_t total_records = 0;               ///< input records of completed batches
  int64_t output_ops_completed = 0;        ///< ended without failure
  int64_t output_ops_failed = 0;
  histogram scheduling_delay;              ///< over every completed batch
  histogram processing_time;
  histogram total_delay;
  std::map<int, int64_t> stream_records;   ///< per input stream id, over every completed batch
  std::vector<worker_record> workers;      ///< cluster mode, in the order they were added
  int64_t replacements = 0;                ///< times the operators were placed again
  std::vector<std::string> placement;      ///< cluster mode: slot i runs on placement[i % n]
  /// By operator id; -1 holds the metadata checkpoints.
  std::map<int, checkpoint_record> checkpoints;
  std::vector<actor_report> actors;        ///< the newest sample of the live view
  std::optional<int64_t> actors_sampled_us;
  graph_view graph;
};

/// Fed on the listener bus thread; snapshot() may be called from any thread.
/// Each callback and snapshot() holds one mutex for a copy's time only, so a
/// slow HTTP client never holds up the bus (and so the batches).
class statistics : public streaming_listener {
 public:
  /// Keeps the newest `retained` completed batches
  /// (sluice.streaming.ui.retainedBatches).
  statistics(int64_t batch_ms, size_t retained);

  /// What of the completed batches a snapshot copies.
  enum class batches { all, times_only, newest, none };

  /// Copies everything, but of the completed batches: all of them, all
  /// without their output operations and per-stream records (the
  /// statistics' averages need no more), the newest one (/metrics), or none
  /// (the live view). The fewer, the shorter the lock.
  statistics_snapshot snapshot(batches which = batches::all) const;

  void on_streaming_started(int64_t time_us) override;
  void on_batch_submitted(const batch_info& b) override;
  void on_batch_started(const batch_info& b) override;
  void on_batch_completed(const batch_info& b) override;
  void on_output_operation_started(const output_operation_info& op) override;
  void on_output_operation_completed(const output_operation_info& op) override;
  void on_receiver_started(const receiver_info& r) override;
  void on_receiver_error(const receiver_info& r) override;
  void on_receiver_stopped(const receiver_info& r) override;
  void on_worker_added(const worker_info& w) override;
  void on_worker_removed(const worker_info& w) override;
  void on_operators_placed(const placement_info& p) override;
  void on_checkpoint_written(const checkpoint_info& c) override;

  /// The actor sampler's newest round (any thread).
  void on_actors(std::vector<actor_report> reports, int64_t time_us);
  /// The planned graph, once at start (any thread).
  void set_graph(graph_view g);

 private:
  batch_record& active_batch(int64_t time_ms);  // mtx_ held
  receiver_record& receiver(const receiver_info& r); // mtx_ held

  const size_t retained_;
  mutable std::mutex mtx_;
  statistics_snapshot s_;  ///< guarded by mtx_; `completed` and `active` unused
  std::deque<batch_record> completed_;     ///< guarded by mtx_
  std::map<int64_t, batch_record> active_; ///< guarded by mtx_; by batch time
  std::map<int, receiver_record> receivers_; ///< guarded by mtx_
};

} // namespace sluice::detail::ui
