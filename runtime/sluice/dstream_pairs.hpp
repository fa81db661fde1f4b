// dstream<T>'s key-value operations (T = std::pair<K, V>) and state
// (SEMANTICS §3-4): the definitions of members declared, with their
// contracts, in dstream.hpp. map_with_state is in map_with_state_dstream.hpp.
#pragma once

#include <optional>

#include "sluice/dstream.hpp"

namespace sluice {

// -- key-value transformations ------------------------------------------------

template <class T>
template <class F>
auto dstream<T>::map_values(F f) const requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_map_values<K, V, F>())
    return *this;
  else
    return map([f](T p) mutable {
      return std::pair{std::move(p.first), f(std::move(p.second))};
    });
}

template <class T>
template <class F>
auto dstream<T>::flat_map_values(F f) const requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_flat_map_values<K, V, F>()) {
    return *this;
  } else {
    using W = detail::range_value_t<std::invoke_result_t<F&, V&&>>;
    return flat_map([f](T p) mutable {
      std::vector<std::pair<K, W>> out;
      for (auto&& w : f(std::move(p.second)))
        out.emplace_back(p.first, std::move(w));
      return out;
    });
  }
}

template <class T>
template <class F>
auto dstream<T>::reduce_by_key(F f, int n) const requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_reduce_by_key<K, V, F>())
    return *this;
  else
    return combine_by_key([](V v) { return v; }, f, f, n);
}

template <class T>
template <class Create, class MergeValue, class MergeCombiners>
auto dstream<T>::combine_by_key(Create create, MergeValue merge_value,
                                MergeCombiners merge_combiners, int n) const
  requires detail::is_pair_v<T> {
  using Kin = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_combine_by_key<Kin, V, Create, MergeValue, MergeCombiners>()) {
    return *this;
  } else {
    using C = std::decay_t<std::invoke_result_t<Create&, V&&>>;
    // Keys that view (std::string_view) are made owning where the map side
    // inserts them: the result's keys are owned_t<Kin>.
    using K = owned_t<Kin>;
    n = default_partitions(n, "combine_by_key");
    using node_t = detail::combine_node<K, V, C, Create, MergeValue, MergeCombiners, Kin>;
    return add<std::pair<K, C>>(std::make_unique<node_t>("combine_by_key", n_, n,
                                                         std::move(create),
                                                         std::move(merge_value),
                                                         std::move(merge_combiners)));
  }
}

template <class T>
auto dstream<T>::group_by_key(int n) const requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  using out_t = std::pair<K, std::vector<V>>;
  auto emit = [](const K& k, std::vector<V>&& vs, std::vector<V>&&, std::vector<out_t>& out) {
    out.emplace_back(k, std::move(vs));
  };
  return cogroup_impl<V, out_t>("group_by_key", {n_}, n, emit);
}

template <class T>
template <class P>
auto dstream<T>::cogroup(const dstream<P>& other, int n) const requires detail::is_pair_v<T> {
  using W = typename P::second_type;
  using K = typename T::first_type;
  using V = typename T::second_type;
  using out_t = std::pair<K, std::pair<std::vector<V>, std::vector<W>>>;
  auto emit = [](const K& k, std::vector<V>&& vs, std::vector<W>&& ws, std::vector<out_t>& out) {
    out.emplace_back(k, std::pair{std::move(vs), std::move(ws)});
  };
  return two_sided<W, out_t>("cogroup", other, n, emit);
}

template <class T>
template <class P>
auto dstream<T>::join(const dstream<P>& other, int n) const requires detail::is_pair_v<T> {
  using W = typename P::second_type;
  using K = typename T::first_type;
  using V = typename T::second_type;
  using out_t = std::pair<K, std::pair<V, W>>;
  auto emit = [](const K& k, std::vector<V>&& vs, std::vector<W>&& ws, std::vector<out_t>& out) {
    for (auto& v : vs)
      for (auto& w : ws)
        out.emplace_back(k, std::pair<V, W>{v, w});
  };
  return two_sided<W, out_t>("join", other, n, emit);
}

template <class T>
template <class P>
auto dstream<T>::left_outer_join(const dstream<P>& other, int n) const
  requires detail::is_pair_v<T> {
  using W = typename P::second_type;
  using K = typename T::first_type;
  using V = typename T::second_type;
  using out_t = std::pair<K, std::pair<V, std::optional<W>>>;
  auto emit = [](const K& k, std::vector<V>&& vs, std::vector<W>&& ws, std::vector<out_t>& out) {
    for (auto& v : vs) {
      if (ws.empty())
        out.emplace_back(k, std::pair<V, std::optional<W>>{v, std::nullopt});
      for (auto& w : ws)
        out.emplace_back(k, std::pair<V, std::optional<W>>{v, w});
    }
  };
  return two_sided<W, out_t>("left_outer_join", other, n, emit);
}

template <class T>
template <class P>
auto dstream<T>::right_outer_join(const dstream<P>& other, int n) const
  requires detail::is_pair_v<T> {
  using W = typename P::second_type;
  using K = typename T::first_type;
  using V = typename T::second_type;
  using out_t = std::pair<K, std::pair<std::optional<V>, W>>;
  auto emit = [](const K& k, std::vector<V>&& vs, std::vector<W>&& ws, std::vector<out_t>& out) {
    for (auto& w : ws) {
      if (vs.empty())
        out.emplace_back(k, std::pair<std::optional<V>, W>{std::nullopt, w});
      for (auto& v : vs)
        out.emplace_back(k, std::pair<std::optional<V>, W>{v, w});
    }
  };
  return two_sided<W, out_t>("right_outer_join", other, n, emit);
}

template <class T>
template <class P>
auto dstream<T>::full_outer_join(const dstream<P>& other, int n) const
  requires detail::is_pair_v<T> {
  using W = typename P::second_type;
  using K = typename T::first_type;
  using V = typename T::second_type;
  using ov = std::optional<V>;
  using ow = std::optional<W>;
  using out_t = std::pair<K, std::pair<ov, ow>>;
  auto emit = [](const K& k, std::vector<V>&& vs, std::vector<W>&& ws, std::vector<out_t>& out) {
    if (vs.empty())
      for (auto& w : ws)
        out.emplace_back(k, std::pair<ov, ow>{std::nullopt, w});
    else if (ws.empty())
      for (auto& v : vs)
        out.emplace_back(k, std::pair<ov, ow>{v, std::nullopt});
    else
      for (auto& v : vs)
        for (auto& w : ws)
          out.emplace_back(k, std::pair<ov, ow>{v, w});
  };
  return two_sided<W, out_t>("full_outer_join", other, n, emit);
}

template <class T>
template <class W, class Out, class Emit>
auto dstream<T>::cogroup_impl(const char* name, std::vector<detail::node_base*> parents, int n,
                              Emit emit) const {
  using K = typename T::first_type;
  using V = typename T::second_type;
  n = default_partitions(n, name);
  using node_t = detail::cogroup_node<K, V, W, Out, Emit>;
  return add<Out>(std::make_unique<node_t>(name, std::move(parents), n, std::move(emit)));
}

template <class T>
template <class W, class Out, class P, class Emit>
auto dstream<T>::two_sided(const char* name, const dstream<P>& other, int n, Emit emit) const {
  static_assert(std::is_same_v<typename P::first_type, typename T::first_type>,
                "joins and cogroup need streams with the same key type");
  same_context_and_slide(other, name);
  return cogroup_impl<W, Out>(name, {n_, other.node()}, n, std::move(emit));
}

// -- state --------------------------------------------------------------------

template <class T>
template <class S, class F>
auto dstream<T>::update_state_by_key(F f, int n) const requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_update_state_by_key<K, V, S, F>())
    return *this;
  else
    return update_state_impl<typename detail::state_of<S, F>::type>(std::move(f), n, nullptr);
}

template <class T>
template <class S, class F, class K2, class S2>
auto dstream<T>::update_state_by_key(F f, int n, const rdd<std::pair<K2, S2>>& initial) const
  requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_update_state_initial<K, V, S, F, K2, S2>()) {
    return *this;
  } else {
    auto init = std::make_shared<const std::vector<std::pair<K2, S2>>>(initial.collect());
    return update_state_impl<typename detail::state_of<S, F>::type>(std::move(f), n,
                                                                    std::move(init));
  }
}

template <class T>
template <class S, class F, class Init>
auto dstream<T>::update_state_impl(F f, int n, Init init) const {
  using K = typename T::first_type;
  using V = typename T::second_type;
  n = default_partitions(n, "update_state_by_key");
  using node_t = detail::update_state_node<K, V, S, F>;
  typename node_t::initial_type initial = std::move(init);
  return add<std::pair<K, S>>(std::make_unique<node_t>(n_, n, std::move(f), std::move(initial)));
}

} // namespace sluice
