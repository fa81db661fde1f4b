// update_state_by_key: a stateful reducer. Records travel by key without
// combining; each partition's operator actor keeps its keys' state and runs
// the update function for every key with data or state (SEMANTICS §3).
#pragma once

#include <type_traits>

#include "sluice/rdd.hpp"
#include "sluice/shuffle.hpp"
#include "sluice/state_store.hpp"

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

  bool checkpoint_state(slot_state* raw, bool full,
                        std::vector<std::pair<std::string, std::string>>& upserts,
                        std::vector<std::string>& removed) const override {
    static_cast<partition_state&>(*raw).store.checkpoint(full, upserts, removed);
    return true;
  }

  void restore_state(slot_state* raw,
                     const std::map<std::string, std::string>& entries) const override {
    auto& st = static_cast<partition_state&>(*raw);
    st.store.restore(entries);
    st.has_previous = true;
  }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<route_writer<std::pair<K, V>, by_key>>(n_, by_key{});
  }

  struct partition_state final : slot_state {
    keyed_state_store<K, S> store;
    bool has_previous = false;  ///< a previous state RDD exists (Spark's prevStateRDD)
    dense_map<K, uint32_t> groups;       // scratch: key with data -> its values' slot
    std::vector<std::vector<V>> values;  // scratch: values per key with data
  };

  std::unique_ptr<slot_state> make_slot_state(int slot, const run_info& info) const override {
    auto st = std::make_unique<partition_state>();
    if (initial_) {
      st->has_previous = true;
      auto& store = st->store;
      store.reserve(initial_->size() / static_cast<size_t>(n_) + initial_->size() / 64 + 16);
      int64_t stamp = (info.zero + info.batch).ms;
      for (auto& [k, s] : *initial_)
        if (auto h = hash_key(k); partition_of_hash(h, n_) == slot)
          store.put(k, h, s, stamp);
    }
    return st;
  }

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
    // Keys with data first, in arrival order.
    for (size_t g = 0; g < groups.size(); ++g) {
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
    }
    // Then every key with state and no data, with no values (SEMANTICS §3.17).
    const std::vector<V> no_values;
    for (size_t i = 0; i < store.size();) {
      auto& [k, e] = store.at(i);
      if (!groups.empty() && groups.find(k, store.hash_at(i)) != groups.npos) {
        ++i; // ran above
        continue;
      }
      auto next = update(k, no_values, std::optional<S>{e.value});
      if (next) {
        out.emplace_back(k, *next);
        store.put_at(i, std::move(*next), t.ms);
        ++i;
      } else {
        store.remove_at(i); // the last entry moves to i
      }
    }
    groups.clear();
    values.clear();
    st.has_previous = true;
    return {true, erase(std::move(out))};
  }

 private:
  int n_;
  F f_;
  initial_type initial_;
};

} // namespace sluice::detail
