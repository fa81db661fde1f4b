// rdd_queue<T>: the queue behind queue_stream (Spark's Queue[RDD] for
// StreamingContext.queueStream), filled by the user before and after start().
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "sluice/rdd.hpp"

namespace sluice {

namespace detail {
template <class T>
class queue_source;
} // namespace detail

/// A thread-safe queue of batches for `streaming_context::queue_stream`.
/// Copies share one queue (as Spark's mutable queue is shared by reference):
/// keep one, pass it to `queue_stream`, push from any thread at any time.
/// Each batch time takes the oldest queued batch (or all of them, without
/// one-at-a-time).
template <class T>
class rdd_queue {
 public:
  rdd_queue() : state_(std::make_shared<state>()) {}

  /// Queues `batch` as it is: its partitions become the batch's.
  void push(rdd<T> batch) {
    std::lock_guard<std::mutex> guard{state_->mtx};
    state_->items.push_back(entry{std::move(batch), {}});
  }

  /// Queues `records` as one batch, sliced into the context's default
  /// parallelism as `make_rdd` slices.
  void push(std::vector<T> records) {
    std::lock_guard<std::mutex> guard{state_->mtx};
    state_->items.push_back(entry{std::nullopt, std::move(records)});
  }

  /// Returns the number of batches queued and not taken yet.
  std::size_t size() const {
    std::lock_guard<std::mutex> guard{state_->mtx};
    return state_->items.size();
  }

  bool empty() const { return size() == 0; }

 private:
  template <class>
  friend class detail::queue_source;

  struct entry {
    std::optional<rdd<T>> batch; // pushed as an rdd
    std::vector<T> records;      // else pushed as records
  };

  struct state {
    mutable std::mutex mtx;
    std::deque<entry> items;
  };

  /// Removes and returns the oldest entry (or all, when `all`).
  std::vector<entry> take(bool all) {
    std::lock_guard<std::mutex> guard{state_->mtx};
    std::vector<entry> out;
    while (!state_->items.empty() && (all || out.empty())) {
      out.push_back(std::move(state_->items.front()));
      state_->items.pop_front();
    }
    return out;
  }

  std::shared_ptr<state> state_;
};

} // namespace sluice
