// rdd<T>: one batch of a stream, as immutable partitions (Spark's RDD, eager).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sluice/detail/erased.hpp"
#include "sluice/detail/fn_checks.hpp"
#include "sluice/detail/traits.hpp"

namespace sluice {

/// An immutable, partitioned collection of records. Copies share the data.
/// Operations are eager and local: use them inside `transform` and
/// `foreach_rdd`. Every member may be called from any thread.
template <class T>
class rdd {
 public:
  using value_type = T;
  using partition_vector = std::vector<std::vector<T>>;

  rdd() : parts_(std::make_shared<partition_vector>()) {}

  explicit rdd(partition_vector partitions, int default_parallelism = 1)
      : parts_(std::make_shared<partition_vector>(std::move(partitions))),
        parallelism_(default_parallelism) {}

  /// Slices `data` like Spark's makeRDD: partition i holds [i*n/p, (i+1)*n/p).
  /// Partition 0 is `data` itself, cut to its length (it keeps the whole
  /// capacity until its records are gone): slicing frees no memory. Freeing
  /// a large block makes glibc consolidate the free lists of its arena, which
  /// after a batch whose records were freed on other threads took the caller
  /// (the job scheduler, generating the next batch) 5-15 ms.
  static rdd slice(std::vector<T> data, int partitions, int default_parallelism = 1) {
    partition_vector ps(static_cast<size_t>(partitions > 1 ? partitions : 1));
    size_t n = data.size(), p = ps.size();
    for (size_t i = 1; i < p; ++i) {
      auto first = data.begin() + static_cast<ptrdiff_t>(i * n / p);
      auto last = data.begin() + static_cast<ptrdiff_t>((i + 1) * n / p);
      ps[i].assign(std::make_move_iterator(first), std::make_move_iterator(last));
    }
    if (p > 1)
      data.erase(data.begin() + static_cast<ptrdiff_t>(n / p), data.end());
    ps[0] = std::move(data);
    return rdd{std::move(ps), default_parallelism};
  }

  // -- actions ----------------------------------------------------------------

  /// Returns every record, in partition order.
  std::vector<T> collect() const {
    std::vector<T> out;
    out.reserve(static_cast<size_t>(count()));
    for (auto& p : *parts_)
      out.insert(out.end(), p.begin(), p.end());
    return out;
  }

  int64_t count() const {
    int64_t n = 0;
    for (auto& p : *parts_)
      n += static_cast<int64_t>(p.size());
    return n;
  }

  bool is_empty() const { return count() == 0; }
  int num_partitions() const { return static_cast<int>(parts_->size()); }
  const partition_vector& partitions() const { return *parts_; }
  int default_parallelism() const { return parallelism_; }

  // -- transformations (partitioning preserved unless noted) ------------------

  // A wrong function fails its check's one static_assert (listing the
  // accepted signatures); the `return *this` branch keeps the body out.

  template <class F>
  auto map(F f) const {
    if constexpr (!detail::check_rdd_map<T, F>()) {
      return *this;
    } else {
      using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
      return each<U>([&](const std::vector<T>& in, std::vector<U>& out) {
        out.reserve(in.size());
        for (auto& x : in)
          out.push_back(f(x));
      });
    }
  }

  template <class F>
  auto flat_map(F f) const {
    if constexpr (!detail::check_rdd_flat_map<T, F>()) {
      return *this;
    } else {
      using U = detail::range_value_t<std::invoke_result_t<F&, const T&>>;
      return each<U>([&](const std::vector<T>& in, std::vector<U>& out) {
        for (auto& x : in)
          for (auto&& y : f(x))
            out.push_back(std::move(y));
      });
    }
  }

  template <class F>
  rdd filter(F pred) const {
    if constexpr (!detail::check_rdd_filter<T, F>())
      return *this;
    else
      return each<T>([&](const std::vector<T>& in, std::vector<T>& out) {
        for (auto& x : in)
          if (pred(x))
            out.push_back(x);
      });
  }

  /// Partitions of `*this` followed by those of `other` (Spark's UnionRDD).
  rdd union_with(const rdd& other) const {
    partition_vector ps = *parts_;
    ps.insert(ps.end(), other.parts_->begin(), other.parts_->end());
    return rdd{std::move(ps), parallelism_};
  }

  /// Hash-partitions into `n` partitions (default: the default parallelism).
  template <class F>
  rdd reduce_by_key(F f, int n = 0) const requires detail::is_pair_v<T> {
    using K = typename T::first_type;
    using V = typename T::second_type;
    if constexpr (!detail::check_rdd_reduce_by_key<K, V, F>()) {
      return *this;
    } else {
      n = n > 0 ? n : parallelism_;
      std::vector<std::unordered_map<K, V, key_hash<K>>> maps(static_cast<size_t>(n));
      for (auto& p : *parts_)
        for (auto& [k, v] : p) {
          auto& m = maps[static_cast<size_t>(detail::partition_of(k, n))];
          auto [i, fresh] = m.try_emplace(k, v);
          if (!fresh)
            i->second = f(i->second, v);
        }
      partition_vector ps(static_cast<size_t>(n));
      for (size_t i = 0; i < maps.size(); ++i)
        ps[i].assign(maps[i].begin(), maps[i].end());
      return rdd{std::move(ps), parallelism_};
    }
  }

  template <class P>
  auto join(const rdd<P>& other, int n = 0) const requires detail::is_pair_v<T> {
    using K = typename T::first_type;
    using V = typename T::second_type;
    using W = typename P::second_type;
    using out_t = std::pair<K, std::pair<V, W>>;
    n = n > 0 ? n : parallelism_;
    std::vector<std::unordered_multimap<K, W, key_hash<K>>> right(static_cast<size_t>(n));
    for (auto& p : other.partitions())
      for (auto& [k, w] : p)
        right[static_cast<size_t>(detail::partition_of(k, n))].emplace(k, w);
    std::vector<std::vector<out_t>> ps(static_cast<size_t>(n));
    for (auto& p : *parts_)
      for (auto& [k, v] : p) {
        auto i = static_cast<size_t>(detail::partition_of(k, n));
        auto [b, e] = right[i].equal_range(k);
        for (; b != e; ++b)
          ps[i].emplace_back(k, std::pair<V, W>{v, b->second});
      }
    return rdd<out_t>{std::move(ps), parallelism_};
  }

  // -- engine access ----------------------------------------------------------

  /// Builds an rdd from engine partitions (sorted by index, moved).
  static rdd from_parts(detail::parts&& ps, int default_parallelism) {
    detail::sort_by_index(ps);
    partition_vector out;
    out.reserve(ps.size());
    for (auto& p : ps)
      out.push_back(detail::take<T>(p.data));
    return rdd{std::move(out), default_parallelism};
  }

  /// Returns the partitions as engine parts (copies only if shared).
  detail::parts to_parts() const {
    detail::parts out;
    out.reserve(parts_->size());
    bool sole = parts_.use_count() == 1;
    for (size_t i = 0; i < parts_->size(); ++i) {
      auto& src = (*parts_)[i];
      out.push_back({static_cast<int32_t>(i),
                     detail::erase(sole ? std::move(src) : std::vector<T>(src))});
    }
    return out;
  }

 private:
  template <class U, class Fn>
  rdd<U> each(Fn fn) const {
    std::vector<std::vector<U>> ps(parts_->size());
    for (size_t i = 0; i < ps.size(); ++i)
      fn((*parts_)[i], ps[i]);
    return rdd<U>{std::move(ps), parallelism_};
  }

  std::shared_ptr<partition_vector> parts_;
  int parallelism_ = 1;
};

} // namespace sluice

// rdd_queue<T>: the queue behind queue_stream (Spark's Queue[RDD] for
// StreamingContext.queueStream), filled by the user before and after start().
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
    std::vector<entry> items; ///< oldest first (a vector: <deque> costs every includer)
  };

  /// Removes and returns the oldest entry (or all, when `all`).
  std::vector<entry> take(bool all) {
    std::lock_guard<std::mutex> guard{state_->mtx};
    std::vector<entry> out;
    auto& items = state_->items;
    if (items.empty())
      return out;
    if (all) {
      out = std::move(items);
      items.clear();
    } else {
      out.push_back(std::move(items.front()));
      items.erase(items.begin());
    }
    return out;
  }

  std::shared_ptr<state> state_;
};

} // namespace sluice
