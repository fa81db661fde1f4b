// Type traits shared by the operator templates.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice::detail {

template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T>
inline constexpr bool is_pair_v = is_pair<T>::value;

template <class T>
struct pair_traits {};
template <class K, class V>
struct pair_traits<std::pair<K, V>> {
  using key = K;
  using value = V;
};

/// The element type of whatever range a flat_map function returns.
template <class R>
using range_value_t = std::decay_t<decltype(*std::begin(std::declval<R&>()))>;

} // namespace sluice::detail
