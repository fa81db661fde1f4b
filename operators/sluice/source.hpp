// Sources: nodes that make a batch on the driver at every batch time.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "sluice/detail/receiver_parts.hpp"
#include "sluice/listener.hpp"
#include "sluice/node.hpp"
#include "sluice/rdd.hpp"

namespace sluice::detail {

/// What a source may use while running.
struct source_env {
  run_info info;
  /// Reports a receiver event to the listeners: what is "started", "error"
  /// or "stopped". Thread-safe.
  std::function<void(const std::string& what, const receiver_info&)> report;
  /// Stops the context with an error (e.g. a failed WAL write). Thread-safe.
  std::function<void(std::string)> fail;
  /// How far back a recovery may go: it re-runs the batches after the
  /// newest state checkpoint, less than this before the last completed one
  /// (the longest state checkpoint interval; zero without checkpoints). A
  /// replayable source keeps what each batch of that span read.
  duration replay_window{0};
  /// Runs a receiver stream's buffer and receiver in a receiver pipeline of
  /// the engine's (spawned now; the receiver starts once every source has
  /// started). Throws what the pipeline throws (e.g. no checkpoint
  /// directory for the WAL).
  std::function<void(receiver_launch)> launch_receiver;
};

/// A source. `generate` is called by the job scheduler only, once per batch
/// time in increasing order; start/stop by the context's lifecycle thread.
class source_base {
 public:
  virtual ~source_base() = default;
  virtual void start(const source_env&) {}
  /// Stops ingesting. Data already received stays for later batches.
  virtual void stop() {}
  /// Bytes saying how far the source got, kept in metadata checkpoints
  /// (empty: nothing to keep). Called on the job scheduler's thread.
  virtual std::string position() const { return {}; }
  /// Recovering: called before start() with what position() returned.
  virtual void restore_position(const std::string&) {}
  /// Batch time `t` was generated (the tick): a source binds its input to
  /// it now, even if the batch starts later. Called in time order by the
  /// job scheduler.
  virtual void prepare(batch_time /*t*/) {}
  /// True for a receiver stream: its blocks come from its receiver
  /// pipeline's tracker, allocated at the tick (Spark's
  /// allocateBlocksToBatch), and generate() is not called.
  virtual bool receives() const { return false; }
  /// Returns the batch at `t` (never nullopt for an input stream).
  virtual std::optional<parts> generate(batch_time t) = 0;
  /// Batch `info` completed; `records` of it came from this source. Called
  /// by the job scheduler (rate control, cleanup of received blocks).
  virtual void on_batch_completed(const batch_info& /*info*/, int64_t /*records*/) {}
};

template <class T>
class source_node : public node<T>, public source_base {
 public:
  source_node(std::string name, duration batch)
      : node<T>(node_kind::source, std::move(name), batch, {}) {}
};

/// queue_stream: one queued batch per batch time (or all at once), then the
/// default batch or empty batches (Spark's QueueInputDStream). A batch
/// pushed as records is sliced into the default parallelism; one pushed as
/// an rdd keeps its partitions. Taking all: the records of every batch
/// pushed as records, sliced together, then the partitions of every rdd.
template <class T>
class queue_source final : public source_node<T> {
 public:
  queue_source(duration batch, rdd_queue<T> queue, bool one_at_a_time,
               std::optional<rdd<T>> default_rdd)
      : source_node<T>("queue_stream", batch), queue_(std::move(queue)),
        one_at_a_time_(one_at_a_time), default_(std::move(default_rdd)) {}

  void start(const source_env& env) override { parallelism_ = env.info.parallelism; }

  std::optional<parts> generate(batch_time) override {
    auto taken = queue_.take(!one_at_a_time_);
    if (taken.empty()) {
      if (default_) {
        rdd<T> shared = *default_; // a second owner: to_parts copies, the default stays
        return shared.to_parts();
      }
      return rdd<T>::slice({}, parallelism_).to_parts();
    }
    std::vector<T> records;
    std::vector<rdd<T>> batches;
    bool any_records = false;
    for (auto& e : taken) {
      if (e.batch) {
        batches.push_back(std::move(*e.batch));
      } else {
        any_records = true;
        if (records.empty())
          records = std::move(e.records);
        else
          records.insert(records.end(), std::make_move_iterator(e.records.begin()),
                         std::make_move_iterator(e.records.end()));
      }
    }
    taken.clear(); // the rdds below are the sole owners of what was queued
    parts out;
    if (any_records)
      out = rdd<T>::slice(std::move(records), parallelism_).to_parts();
    for (auto& b : batches)
      for (auto& p : b.to_parts()) {
        p.index = static_cast<int32_t>(out.size());
        out.push_back(std::move(p));
      }
    return out;
  }

  /// Appends a batch to the queue (thread-safe).
  void push(std::vector<T> batch) { queue_.push(std::move(batch)); }

 private:
  rdd_queue<T> queue_;
  bool one_at_a_time_;
  std::optional<rdd<T>> default_;
  int parallelism_ = 1;
};

} // namespace sluice::detail
