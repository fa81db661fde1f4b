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
  bool requires_checkpoint() const override { return true; }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<route_writer<std::pair<K, V>, by_key>>(n_, by_key{});
  }

  struct partition_state final : slot_state {
    keyed_state_store<K, S> store;
    bool has_previous = false;  ///< a previous state RDD exists (Spark's prevStateRDD)
  };

  std::unique_ptr<slot_state> make_slot_state(int slot, const run_info& info) const override {
    auto st = std::make_unique<partition_state>();
    if (initial_) {
      st->has_previous = true;
      for (auto& [k, s] : *initial_)
        if (partition_of(k, n_) == slot)
          st->store.put(k, s, (info.zero + info.batch).ms);
    }
    return st;
  }

  stateful_result reduce_at(batch_time t, bool parent_none,
                            std::vector<std::vector<erased>>& ports, slot_state* raw,
                            const run_info&) const override {
    auto& st = static_cast<partition_state&>(*raw);
    if (parent_none && !st.has_previous)
      return {true, std::nullopt}; // no previous state and no parent batch: None
    key_map<K, std::vector<V>> values;
    std::vector<K> order;
    if (!parent_none)
      for (auto& bucket : ports[0])
        for (auto& [k, v] : take<std::pair<K, V>>(bucket)) {
          auto [i, fresh] = values.try_emplace(k);
          if (fresh)
            order.push_back(k);
          i->second.push_back(std::move(v));
        }
    // Keys with state but no data run with no values (SEMANTICS §3.17).
    for (auto& [k, e] : st.store.entries())
      if (values.find(k) == values.end()) {
        values.try_emplace(k);
        order.push_back(k);
      }
    auto f = f_;
    std::vector<std::pair<K, S>> out;
    out.reserve(order.size());
    const std::vector<V> no_values;
    for (auto& k : order) {
      auto& vs = values[k];
      auto* e = st.store.find(k);
      std::optional<S> previous = e ? std::optional<S>{e->value} : std::nullopt;
      std::optional<S> next;
      if constexpr (std::is_invocable_v<F&, batch_time, const K&, const std::vector<V>&,
                                        std::optional<S>>)
        next = f(t, k, vs, std::move(previous));
      else
        next = f(vs, std::move(previous));
      if (next) {
        out.emplace_back(k, *next);
        st.store.put(k, std::move(*next), t.ms);
      } else {
        st.store.remove(k);
      }
    }
    st.has_previous = true;
    return {true, erase(std::move(out))};
  }

 private:
  int n_;
  F f_;
  initial_type initial_;
};

} // namespace sluice::detail
