// dstream<T>'s window operations, keyed ones included (SEMANTICS §2): the
// definitions of members declared, with their contracts, in dstream.hpp.
#pragma once

#include "sluice/dstream.hpp"

namespace sluice {

// -- windows ------------------------------------------------------------------

template <class T>
dstream<T> dstream<T>::window(duration w, duration s) const {
  detail::check_window(w, s, slide_duration(), "windowed DStream", false);
  return add<T>(std::make_unique<detail::window_node<T>>(n_, w, s));
}

template <class T>
template <class F>
dstream<T> dstream<T>::reduce_by_window(F f, duration w, duration s) const {
  if constexpr (!detail::check_reduce<T, F>())
    return *this;
  else
    return reduce(f).window(w, s).reduce(f);
}

template <class T>
template <class F, class Inv>
  requires(!std::is_convertible_v<Inv, duration>)
dstream<T> dstream<T>::reduce_by_window(F f, Inv inv, duration w, duration s) const {
  if constexpr (!detail::check_reduce_by_window_inverse<T, F, Inv>())
    return *this;
  else
    return map([](T x) { return std::pair<int, T>{1, std::move(x)}; })
      .reduce_by_key_and_window(f, inv, w, s, 1)
      .map([](std::pair<int, T> p) { return std::move(p.second); });
}

template <class T>
dstream<int64_t> dstream<T>::count_by_window(duration w, duration s) const {
  return map([](const T&) { return int64_t{1}; })
    .reduce_by_window(std::plus<int64_t>{}, std::minus<int64_t>{}, w, s);
}

template <class T>
dstream<std::pair<owned_t<T>, int64_t>> dstream<T>::count_by_value_and_window(duration w,
                                                                              duration s,
                                                                              int n) const {
  return map([](T x) { return std::pair<T, int64_t>{std::move(x), 1}; })
    .reduce_by_key_and_window(std::plus<int64_t>{}, std::minus<int64_t>{}, w, s, n,
                              [](const std::pair<owned_t<T>, int64_t>& p) { return p.second != 0; });
}

template <class T>
std::vector<rdd<T>> dstream<T>::slice(batch_time from, batch_time to) const {
  std::vector<rdd<T>> out;
  for (auto& batch : g_->slice(n_->id(), n_->name(), slide_duration(), from, to))
    out.push_back(*std::static_pointer_cast<const rdd<T>>(batch));
  return out;
}

// -- key-value windows --------------------------------------------------------

template <class T>
auto dstream<T>::group_by_key_and_window(duration w, duration s, int n) const
  requires detail::is_pair_v<T> {
  using V = typename T::second_type;
  return group_by_key(n).window(w, s).reduce_by_key(
    [](std::vector<V> a, std::vector<V> b) {
      a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
      return a;
    },
    n);
}

template <class T>
template <class F>
dstream<detail::owned_key_t<T>> dstream<T>::reduce_by_key_and_window(F f, duration w, duration s,
                                                                     int n) const
  requires detail::is_pair_v<T> {
  using K = typename T::first_type;
  using V = typename T::second_type;
  if constexpr (!detail::check_reduce_by_key<K, V, F>())
    return {g_, nullptr};  // the check's static_assert has failed the build
  else
    return reduce_by_key(f, n).window(w, s).reduce_by_key(f, n);
}

template <class T>
template <class F, class Inv>
  requires(detail::is_pair_v<T> && !std::is_convertible_v<Inv, duration>)
dstream<detail::owned_key_t<T>> dstream<T>::reduce_by_key_and_window(F f, Inv inv, duration w,
                                                                     duration s, int n) const {
  auto keep = [](const detail::owned_key_t<T>&) { return true; };
  return inverse_window(f, inv, w, s, n, keep, false);
}

template <class T>
template <class F, class Inv, class Filter>
  requires(detail::is_pair_v<T> && !std::is_convertible_v<Inv, duration>)
dstream<detail::owned_key_t<T>> dstream<T>::reduce_by_key_and_window(F f, Inv inv, duration w,
                                                                     duration s, int n,
                                                                     Filter filter) const {
  return inverse_window(f, inv, w, s, n, std::move(filter), true);
}

template <class T>
template <class F, class Inv, class Filter>
dstream<detail::owned_key_t<T>> dstream<T>::inverse_window(F f, Inv inv, duration w, duration s,
                                                           int n, Filter filter,
                                                           bool filtered) const {
  using Kin = typename T::first_type;
  using K = owned_t<Kin>;  // made owning by the map-side combine
  using V = typename T::second_type;
  if constexpr (!detail::check_inverse_window<K, V, F, Inv, Filter>()) {
    return {g_, nullptr};  // the check's static_assert has failed the build
  } else {
    detail::check_window(w, s, slide_duration(), "ReducedWindowedDStream", true);
    n = default_partitions(n, "reduce_by_key_and_window");
    using node_t = detail::inverse_window_node<K, V, F, Inv, Filter, Kin>;
    return add<std::pair<K, V>>(std::make_unique<node_t>(n_, w, s, n, std::move(f), std::move(inv),
                                           std::move(filter), filtered));
  }
}

} // namespace sluice
