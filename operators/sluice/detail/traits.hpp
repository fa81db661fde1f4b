// Type traits shared by the operator templates.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/detail/string_keys.hpp"

// Hash partitioning (Spark's HashPartitioner) and hashing of composite keys.
namespace sluice {

/// Hash used for shuffles and keyed state. Specialize for user key types
/// that std::hash does not cover.
template <class T>
struct key_hash {
  size_t operator()(const T& x) const { return std::hash<T>{}(x); }
};

#ifdef SLUICE_INLINE_STRING_HASH
// std::hash's own values, computed inline (detail/string_keys.hpp).
template <>
struct key_hash<std::string> {
  size_t operator()(const std::string& s) const { return detail::hash_bytes(s.data(), s.size()); }
};

template <>
struct key_hash<std::string_view> {
  size_t operator()(std::string_view s) const { return detail::hash_bytes(s.data(), s.size()); }
};
#endif

namespace detail {
inline size_t mix(size_t seed, size_t h) {
  return seed ^ (h + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}
} // namespace detail

template <class A, class B>
struct key_hash<std::pair<A, B>> {
  size_t operator()(const std::pair<A, B>& p) const {
    return detail::mix(key_hash<A>{}(p.first), key_hash<B>{}(p.second));
  }
};

template <class... Ts>
struct key_hash<std::tuple<Ts...>> {
  size_t operator()(const std::tuple<Ts...>& t) const {
    size_t seed = 0;
    std::apply([&](const auto&... x) {
      ((seed = detail::mix(seed, key_hash<std::decay_t<decltype(x)>>{}(x))), ...);
    }, t);
    return seed;
  }
};

template <class T>
struct key_hash<std::vector<T>> {
  size_t operator()(const std::vector<T>& v) const {
    size_t seed = v.size();
    for (auto& x : v)
      seed = detail::mix(seed, key_hash<T>{}(x));
    return seed;
  }
};

namespace detail {

/// Hashes `key` once for shuffles: the low bits index hash tables, the high
/// bits pick the partition. Integer hashes are mixed (std::hash of an integer
/// is the identity).
template <class K>
uint64_t hash_key(const K& key) {
  uint64_t h = key_hash<K>{}(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/// Maps the hash's high bits onto [0, n) by multiply-shift (no division).
inline int partition_of_hash(uint64_t h, int n) {
  return static_cast<int>(((h >> 32) * static_cast<uint64_t>(n)) >> 32);
}

/// Returns the partition in [0, n) of `key` (Spark's HashPartitioner).
template <class K>
int partition_of(const K& key, int n) {
  return partition_of_hash(hash_key(key), n);
}

} // namespace detail
} // namespace sluice


// The result type of a non-generic callable, for deducing state types.
// fn_traits<F> has no `result` (rather than failing to compile) when F is a
// generic or overloaded callable, so a caller can test for it.
namespace sluice::detail {

template <class F>
struct fn_traits {};

template <class F>
  requires requires { &F::operator(); }
struct fn_traits<F> : fn_traits<decltype(&F::operator())> {};

template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const> {
  using result = R;
};

template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const noexcept> {
  using result = R;
};

template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...)> {
  using result = R;
};

template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) noexcept> {
  using result = R;
};

template <class R, class... A>
struct fn_traits<R (*)(A...)> {
  using result = R;
};

template <class R, class... A>
struct fn_traits<R (*)(A...) noexcept> {
  using result = R;
};

} // namespace sluice::detail


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


// Records that view their input (README "Records that view their input").
namespace sluice {

/// The owning type of a record type that may hold views: std::string for
/// std::string_view, std::vector<T> for std::span<T>, applied to the members
/// of pairs, tuples, vectors and optionals; T itself otherwise. Specialize it
/// for a view type of your own (then key_hash must hash a view and its owner
/// alike, and the two must compare with ==).
template <class T>
struct owned {
  using type = T;
};
template <class C, class Tr>
struct owned<std::basic_string_view<C, Tr>> {
  using type = std::basic_string<C, Tr>;
};
template <class T, size_t N>
struct owned<std::span<T, N>> {
  using type = std::vector<std::remove_cv_t<T>>;
};
template <class A, class B>
struct owned<std::pair<A, B>> {
  using type = std::pair<typename owned<A>::type, typename owned<B>::type>;
};
template <class... Ts>
struct owned<std::tuple<Ts...>> {
  using type = std::tuple<typename owned<Ts>::type...>;
};
template <class T>
struct owned<std::vector<T>> {
  using type = std::vector<typename owned<T>::type>;
};
template <class T>
struct owned<std::optional<T>> {
  using type = std::optional<typename owned<T>::type>;
};

template <class T>
using owned_t = typename owned<T>::type;

/// True if records of type T hold views: they are valid only while what
/// they view is, so start() lets them flow only where that holds.
template <class T>
inline constexpr bool holds_views = !std::is_same_v<T, owned_t<T>>;

} // namespace sluice

namespace sluice::detail {

/// A key-value record type with its key made owning: what a combine by key
/// (combine_by_key, an inverse window) makes of records whose keys view.
template <class T>
struct owned_key {
  using type = T;
};
template <class K, class V>
struct owned_key<std::pair<K, V>> {
  using type = std::pair<owned_t<K>, V>;
};
template <class T>
using owned_key_t = typename owned_key<T>::type;

} // namespace sluice::detail
