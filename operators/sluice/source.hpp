// Sources: nodes that make a batch on the driver at every batch time.
#pragma once

#include <deque>
#include <mutex>

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
  /// Batch time `t` was generated (the tick): receiver streams allocate
  /// their blocks to it now, even if the batch starts later (Spark's
  /// allocateBlocksToBatch). Called in time order by the job scheduler.
  virtual void prepare(batch_time /*t*/) {}
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

/// queue_stream: one queued batch per batch time (or all at once), then
/// empty batches; each queued batch is sliced into the default parallelism.
template <class T>
class queue_source final : public source_node<T> {
 public:
  queue_source(duration batch, std::vector<std::vector<T>> batches, bool one_at_a_time)
      : source_node<T>("queue_stream", batch), queue_(batches.begin(), batches.end()),
        one_at_a_time_(one_at_a_time) {}

  void start(const source_env& env) override { parallelism_ = env.info.parallelism; }

  std::optional<parts> generate(batch_time) override {
    std::vector<T> data;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (one_at_a_time_ && !queue_.empty()) {
        data = std::move(queue_.front());
        queue_.pop_front();
      } else {
        for (auto& b : queue_)
          data.insert(data.end(), b.begin(), b.end());
        queue_.clear();
      }
    }
    return rdd<T>::slice(std::move(data), parallelism_).to_parts();
  }

  /// Appends a batch to the queue (thread-safe; Spark's mutable queue).
  void push(std::vector<T> batch) {
    std::lock_guard<std::mutex> guard{mtx_};
    queue_.push_back(std::move(batch));
  }

 private:
  std::mutex mtx_;
  std::deque<std::vector<T>> queue_;
  bool one_at_a_time_;
  int parallelism_ = 1;
};

} // namespace sluice::detail
