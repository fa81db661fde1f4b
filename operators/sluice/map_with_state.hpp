// map_with_state: state<S>, state_spec and the stateful reducer behind them
// (Spark's mapWithState, SEMANTICS §4). The mapping function runs once per
// record, in order; per batch the cost follows the keys that got data (and
// those timing out), not the number of keys in state.
#pragma once

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "sluice/detail/fn_checks.hpp"
#include "sluice/detail/initial_state.hpp"
#include "sluice/error.hpp"
#include "sluice/rdd.hpp"
#include "sluice/shuffle.hpp"
#include "sluice/state_store.hpp"

// update_state_by_key: a stateful reducer. Records travel by key without
// combining; each partition's operator actor keeps its keys' state and runs
// the update function for every key with data or state (SEMANTICS §3).
namespace sluice::detail {

/// Spark's default for stateful streams: the smallest multiple of the slide
/// that is at least 10 s (SEMANTICS §5.28).
inline duration default_state_checkpoint_interval(duration slide) {
  int64_t s = slide.count();
  return duration{s * ((10'000 + s - 1) / s)};
}

template <class K, class V, class S, class F>
class update_state_node final : public node<std::pair<K, S>> {
 public:
  using initial_type = std::shared_ptr<const std::vector<std::pair<K, S>>>;

  update_state_node(node_base* parent, int n, F f, initial_type initial)
      : node<std::pair<K, S>>(node_kind::shuffle, "update_state_by_key", parent->slide(),
                              {parent}),
        n_(n), f_(std::move(f)), initial_(std::move(initial)) {}

  int partitions() const override { return n_; }
  bool stateful() const override { return true; }
  std::string checkpoint_codec_problem() const override {
    if constexpr (encodable<K> && encodable<S>)
      return {};
    else
      return "its key and state types need a sluice::codec to be checkpointed";
  }
  std::vector<std::pair<std::string, std::string>> state_types() const override {
    if constexpr (encodable<K> && encodable<S>)
      return {{"key", codec_type_name<K>()}, {"state", codec_type_name<S>()}};
    else
      return {};
  }
  duration default_checkpoint_interval() const override {
    return default_state_checkpoint_interval(this->slide());
  }
  bool requires_checkpoint() const override { return true; }

  bool checkpoint_state(slot_state* raw, bool full, state_rows& upserts,
                        std::vector<std::string>& removed) const override {
    static_cast<partition_state&>(*raw).store.checkpoint(full, upserts, removed);
    return true;
  }

  void restore_state(slot_state* raw, const state_entries& entries) const override {
    auto& st = static_cast<partition_state&>(*raw);
    st.store.restore(entries);
    st.has_previous = true;
  }
  void restore_state_chunks(slot_state* raw,
                            const std::vector<std::string>& chunks) const override {
    auto& st = static_cast<partition_state&>(*raw);
    st.store.restore_chunks(chunks);
    st.has_previous = true;
  }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<route_writer<std::pair<K, V>, by_key>>(n_, by_key{});
  }

  struct partition_state final : slot_state {
    size_t keys() const override { return store.size(); }
    keyed_state_store<K, S> store;
    bool has_previous = false;  ///< a previous state RDD exists (Spark's prevStateRDD)
    dense_map<K, uint32_t> groups;       // scratch: key with data -> its values' slot
    std::vector<std::vector<V>> values;  // scratch: values per key with data
  };

  std::unique_ptr<slot_state> make_slot_state(int slot, const run_info& info,
                                              bool restoring) const override {
    auto st = std::make_unique<partition_state>();
    if (restoring)
      return st;
    if (auto initial = initial_.for_new_partition(this->label())) {
      st->has_previous = true;
      auto& store = st->store;
      store.reserve(initial->size() / static_cast<size_t>(n_) + initial->size() / 64 + 16);
      int64_t stamp = (info.zero + info.batch).ms;
      for (auto& [k, s] : *initial)
        if (auto h = hash_key(k); partition_of_hash(h, n_) == slot)
          store.put(k, h, s, stamp);
    }
    return st;
  }
  bool keeps_initial_state() const override { return initial_.given(); }
  void release_initial_state() const override { initial_.release(); }

  stateful_result reduce_at(batch_time t, bool parent_none,
                            std::vector<std::vector<erased>>& ports, slot_state* raw,
                            const run_info&) const override {
    auto& st = static_cast<partition_state&>(*raw);
    if (parent_none && !st.has_previous)
      return {true, std::nullopt}; // no previous state and no parent batch: None
    auto& store = st.store;
    // Values grouped per key with data, keys in arrival order.
    auto& groups = st.groups;
    auto& values = st.values;
    groups.clear();
    values.clear();
    if (!parent_none)
      for (auto& bucket : ports[0])
        for (auto& [k, v] : take<std::pair<K, V>>(bucket)) {
          uint64_t h = hash_key(k);
          auto [g, fresh] =
            groups.try_emplace(std::move(k), h, static_cast<uint32_t>(values.size()));
          if (fresh)
            values.emplace_back();
          values[groups.at(g).second].push_back(std::move(v));
        }
    auto f = f_;
    auto update = [&](const K& k, const std::vector<V>& vs, std::optional<S> previous) {
      if constexpr (std::is_invocable_v<F&, batch_time, const K&, const std::vector<V>&,
                                        std::optional<S>>)
        return std::optional<S>{f(t, k, vs, std::move(previous))};
      else
        return std::optional<S>{f(vs, std::move(previous))};
    };
    std::vector<std::pair<K, S>> out;
    out.reserve(store.size() + groups.size());
    // Keys with data first, in arrival order, their slots fetched ahead.
    auto group_hash = [&](size_t g) { return groups.hash_at(g); };
    for_each_prefetched(store, groups.size(), group_hash, [&](size_t g) {
      auto& k = groups.at(g).first;
      uint64_t h = groups.hash_at(g);
      size_t i = store.index_of(k, h);
      std::optional<S> previous;
      if (i != store.npos)
        previous = store.at(i).second.value;
      auto next = update(k, values[g], std::move(previous));
      if (next) {
        out.emplace_back(k, *next);
        if (i != store.npos)
          store.put_at(i, std::move(*next), t.ms);
        else
          store.put(k, h, std::move(*next), t.ms);
      } else if (i != store.npos) {
        store.remove_at(i);
      }
    });
    // Then every key with state and no data, with no values (SEMANTICS §3.17).
    const std::vector<V> no_values;
    store.sweep([&](size_t i) {
      auto& [k, e] = store.at(i);
      if (!groups.empty() && groups.find(k, store.hash_at(i)) != groups.npos)
        return true; // ran above
      auto next = update(k, no_values, std::optional<S>{e.value});
      if (!next)
        return false;
      out.emplace_back(k, *next);
      store.put_at(i, std::move(*next), t.ms);
      return true;
    });
    groups.clear();
    values.clear();
    st.has_previous = true;
    return {true, erase(std::move(out))};
  }

 private:
  int n_;
  F f_;
  initial_state<std::pair<K, S>> initial_;
};

} // namespace sluice::detail


namespace sluice {

/// The state of one key, handed to the mapping function. Not thread-safe;
/// valid only during the call.
template <class S>
class state {
 public:
  state(std::optional<S> current, bool timing_out)
      : value_(std::move(current)), timing_out_(timing_out) {}

  bool exists() const { return value_.has_value(); }

  /// Throws no_such_element when the state does not exist.
  const S& get() const {
    if (!value_)
      throw no_such_element("State is not set");
    return *value_;
  }

  std::optional<S> get_option() const { return value_; }

  /// Throws invalid_argument after remove() or while timing out.
  void update(S s) {
    if (removed_)
      throw invalid_argument("requirement failed: Cannot update the state after it has been "
                             "removed");
    if (timing_out_)
      throw invalid_argument("requirement failed: Cannot update the state that is timing out");
    value_ = std::move(s);
    updated_ = true;
  }

  /// Throws invalid_argument when already removed or timing out.
  void remove() {
    if (timing_out_)
      throw invalid_argument("requirement failed: Cannot remove the state that is timing out");
    if (removed_)
      throw invalid_argument("requirement failed: Cannot remove the state that has already "
                             "been removed");
    value_.reset();
    updated_ = false;
    removed_ = true;
  }

  bool is_timing_out() const { return timing_out_; }

  // -- engine access ----------------------------------------------------------
  bool updated() const { return updated_; }
  bool removed() const { return removed_; }
  std::optional<S>& value() { return value_; }

 private:
  std::optional<S> value_;
  bool timing_out_;
  bool updated_ = false;
  bool removed_ = false;
};

namespace detail {
template <class K, class V, class S, class M>
class map_with_state_node;
} // namespace detail

/// Spark's StateSpec: the mapping function and its options.
template <class K, class V, class S, class M>
class state_spec {
 public:
  using function_type =
    std::function<std::optional<M>(batch_time, const K&, std::optional<V>, state<S>&)>;

  /// `f(batch_time, const K&, std::optional<V>, state<S>&) -> std::optional<M>`
  /// or `f(const K&, std::optional<V>, state<S>&) -> M` (always emits).
  template <class F>
  static state_spec function(F f) {
    state_spec spec;
    if constexpr (!detail::check_state_spec_function<K, V, S, M, F>()) {
      return spec; // only the check's static_assert is reported
    } else if constexpr (std::is_invocable_v<F&, batch_time, const K&, std::optional<V>,
                                             state<S>&>) {
      spec.fn_ = std::move(f);
    } else {
      spec.fn_ = [f](batch_time, const K& k, std::optional<V> v, state<S>& s) mutable
        -> std::optional<M> { return f(k, std::move(v), s); };
    }
    return spec;
  }

  state_spec& initial_state(const rdd<std::pair<K, S>>& r) {
    initial_ = std::make_shared<const std::vector<std::pair<K, S>>>(r.collect());
    return *this;
  }

  state_spec& num_partitions(int n) {
    if (n < 1)
      throw invalid_argument("state_spec: num_partitions must be >= 1, got " + std::to_string(n));
    partitions_ = n;
    return *this;
  }

  state_spec& timeout(duration d) {
    if (d.count() <= 0)
      throw invalid_argument("state_spec: timeout must be positive, got " + to_string(d));
    timeout_ = d;
    return *this;
  }

  const function_type& fn() const { return fn_; }
  const std::shared_ptr<const std::vector<std::pair<K, S>>>& initial() const { return initial_; }
  int partitions() const { return partitions_; }
  duration timeout() const { return timeout_; }

 private:
  function_type fn_;
  template <class, class, class, class>
  friend class detail::map_with_state_node; // takes initial_ (it may release it)

  std::shared_ptr<const std::vector<std::pair<K, S>>> initial_;
  int partitions_ = 0;
  duration timeout_{0};
};

namespace detail {

/// One partition's output of map_with_state: the mapped records and, when
/// state_snapshots() is used, every (key, state) after the batch.
template <class K, class S, class M>
struct mws_batch {
  std::vector<M> mapped;
  std::vector<std::pair<K, S>> snapshot;
};

template <class K, class V, class S, class M>
class map_with_state_node final : public node<mws_batch<K, S, M>> {
 public:
  map_with_state_node(node_base* parent, int n, state_spec<K, V, S, M> spec)
      : node<mws_batch<K, S, M>>(node_kind::shuffle, "map_with_state", parent->slide(),
                                 {parent}),
        n_(n), initial_(std::exchange(spec.initial_, nullptr)), spec_(std::move(spec)) {}

  int partitions() const override { return n_; }
  bool stateful() const override { return true; }
  std::string checkpoint_codec_problem() const override {
    if constexpr (encodable<K> && encodable<S>)
      return {};
    else
      return "its key and state types need a sluice::codec to be checkpointed";
  }
  std::vector<std::pair<std::string, std::string>> state_types() const override {
    if constexpr (encodable<K> && encodable<S>)
      return {{"key", codec_type_name<K>()}, {"state", codec_type_name<S>()}};
    else
      return {};
  }
  duration default_checkpoint_interval() const override { return this->slide() * 10; }
  bool requires_checkpoint() const override { return true; }

  bool checkpoint_state(slot_state* raw, bool full, state_rows& upserts,
                        std::vector<std::string>& removed) const override {
    static_cast<partition_state&>(*raw).store.checkpoint(full, upserts, removed);
    return true;
  }

  void restore_state(slot_state* raw, const state_entries& entries) const override {
    static_cast<partition_state&>(*raw).store.restore(entries);
  }
  void restore_state_chunks(slot_state* raw,
                            const std::vector<std::string>& chunks) const override {
    static_cast<partition_state&>(*raw).store.restore_chunks(chunks);
  }
  void want_snapshots() { snapshots_ = true; }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<route_writer<std::pair<K, V>, by_key>>(n_, by_key{});
  }

  struct partition_state final : slot_state {
    size_t keys() const override { return store.size(); }
    keyed_state_store<K, S> store;
    std::vector<uint64_t> hashes;  // scratch: the hash of each record of a bucket
  };

  std::unique_ptr<slot_state> make_slot_state(int slot, const run_info& info,
                                              bool restoring) const override {
    auto st = std::make_unique<partition_state>();
    if (restoring)
      return st;
    // Stamped with the first batch's time (SEMANTICS §4.22).
    if (auto initial = initial_.for_new_partition(this->label())) {
      auto& store = st->store;
      store.reserve(initial->size() / static_cast<size_t>(n_) + initial->size() / 64 + 16);
      int64_t stamp = (info.zero + info.batch).ms;
      for (auto& [k, s] : *initial)
        if (auto h = hash_key(k); partition_of_hash(h, n_) == slot)
          store.put(k, h, s, stamp);
    }
    return st;
  }
  bool keeps_initial_state() const override { return initial_.given(); }
  void release_initial_state() const override { initial_.release(); }

  /// The interval of full-scan batches, where timeouts are found.
  duration interval() const {
    auto d = this->checkpoint_interval();
    return d.count() > 0 ? d : this->slide() * 10; // SEMANTICS §4.26
  }

  stateful_result reduce_at(batch_time t, bool parent_none,
                            std::vector<std::vector<erased>>& ports, slot_state* raw,
                            const run_info& info) const override {
    auto& st = static_cast<partition_state&>(*raw);
    auto& store = st.store;
    auto f = spec_.fn();
    bool timeouts = spec_.timeout().count() > 0;
    mws_batch<K, S, M> out;
    auto& hashes = st.hashes;
    if (!parent_none)
      for (auto& bucket : ports[0]) {
        auto records = take<std::pair<K, V>>(bucket);
        out.mapped.reserve(out.mapped.size() + records.size());
        // Hashes first, so each record's slot is fetched records ahead of
        // its lookup and the cache misses of a batch overlap.
        hashes.resize(records.size());
        for (size_t r = 0; r < records.size(); ++r)
          hashes[r] = hash_key(records[r].first);
        auto record_hash = [&](size_t r) { return hashes[r]; };
        for_each_prefetched(store, records.size(), record_hash, [&](size_t r) {
          auto& [k, v] = records[r];
          uint64_t h = hashes[r];
          size_t i = store.index_of(k, h); // one probe; the entry is updated in place
          bool had = i != store.npos;
          state<S> s{had ? std::optional<S>{store.at(i).second.value} : std::nullopt, false};
          auto mapped = f(t, k, std::optional<V>{std::move(v)}, s);
          if (s.removed()) {
            if (had)
              store.remove_at(i);
          } else if (s.updated()) {
            if (had)
              store.put_at(i, std::move(*s.value()), t.ms);
            else
              store.put(std::move(k), h, std::move(*s.value()), t.ms);
          } else if (timeouts && had) {
            store.touch_at(i, t.ms); // data alone re-stamps when timeouts are on
          }
          if (mapped)
            out.mapped.push_back(std::move(*mapped));
        });
      }
    // Timeouts are found only in full-scan batches (SEMANTICS §4.25). A key
    // with data in this batch was stamped t above (or is gone), so it is
    // never below the limit.
    if (timeouts && (t - info.zero).count() % interval().count() == 0) {
      int64_t limit = t.ms - spec_.timeout().count();
      std::vector<std::pair<K, uint64_t>> expired;
      store.for_each([&](const K& k, const auto& e) {
        if (e.updated_ms < limit)
          expired.emplace_back(k, store.hash(k));
      });
      for (auto& [k, h] : expired) {
        size_t i = store.index_of(k, h);
        state<S> s{store.at(i).second.value, true};
        auto mapped = f(t, k, std::nullopt, s);
        store.remove_at(i);
        if (mapped)
          out.mapped.push_back(std::move(*mapped));
      }
    }
    if (snapshots_) {
      out.snapshot.reserve(store.size());
      store.for_each([&](const K& k, const auto& e) { out.snapshot.emplace_back(k, e.value); });
    }
    std::vector<mws_batch<K, S, M>> one;
    one.push_back(std::move(out));
    return {true, erase(std::move(one))};
  }

 private:
  int n_;
  initial_state<std::pair<K, S>> initial_;  // taken from spec_ (released apart from it)
  state_spec<K, V, S, M> spec_;
  bool snapshots_ = false;
};

} // namespace detail
} // namespace sluice
