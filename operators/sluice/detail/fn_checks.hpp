// One check per operator that takes a user function. A wrong function fails
// exactly one static_assert, whose message lists what the operator accepts;
// the check then returns false and the operator, guarded by
// `if constexpr (check...())`, instantiates nothing else. So the user reads
// one error with the call in its "required from here" line, not pages from
// the engine's templates (WindFlow's builders do the same). The compiler
// names T, K, V and F in the "In instantiation of" line above the message.
// tests/compile_fail/ holds one case per check.
#pragma once

#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/detail/traits.hpp"
#include "sluice/time.hpp"

// What the operators call their user functions with, as concepts: a
// function that satisfies its operator's concept compiles in the engine's
// templates. fn_checks.hpp turns them into one static_assert per operator.
namespace sluice {

template <class T>
class rdd;
template <class S>
class state;

} // namespace sluice

namespace sluice::detail {

// -- what the engine calls ---------------------------------------------------

/// Callable as f(A...) with a result that is not void.
template <class F, class... A>
concept returns_value =
  std::is_invocable_v<F&, A...> && !std::is_void_v<std::invoke_result_t<F&, A...>>;

/// Callable as f(A...) with a result implicitly convertible to R.
template <class F, class R, class... A>
concept returns_as = std::is_invocable_r_v<R, F&, A...>;

/// Callable as f(A...) with a result that R can be built from.
template <class F, class R, class... A>
concept returns_constructible =
  std::is_invocable_v<F&, A...> && std::is_constructible_v<R, std::invoke_result_t<F&, A...>>;

template <class R>
concept iterable = requires(std::remove_reference_t<R>& r) {
  std::end(r);
  *std::begin(r);
};

/// Callable as f(A...) returning a range (what flat_map iterates).
template <class F, class... A>
concept returns_range = std::is_invocable_v<F&, A...> && iterable<std::invoke_result_t<F&, A...>>;

template <class R>
inline constexpr bool is_rdd_v = false;
template <class U>
inline constexpr bool is_rdd_v<rdd<U>> = true;

template <class F, class... A>
concept returns_rdd =
  std::is_invocable_v<F&, A...> && is_rdd_v<std::decay_t<std::invoke_result_t<F&, A...>>>;

/// transform's f: the (rdd, batch_time) form wins when f accepts it.
template <class F, class T>
concept rdd_transformer =
  returns_rdd<F, const rdd<T>&, batch_time>
  || (!std::is_invocable_v<F&, const rdd<T>&, batch_time> && returns_rdd<F, const rdd<T>&>);

/// The shuffles combine with f(V&&, V&&); the inverse window also folds
/// remembered batches with f(V&&, V&).
template <class F, class V>
concept reducer = returns_as<F, V, V&&, V&&>;
template <class F, class V>
concept window_reducer = reducer<F, V> && returns_as<F, V, V&&, V&>;

template <class R>
struct optional_value {};
template <class S>
struct optional_value<std::optional<S>> {
  using type = S;
};

/// update_state_by_key's S: as given, or read from f's declared result
/// std::optional<S>; no `type` when neither works.
template <class S, class F>
struct state_of {
  using type = S;
};
template <class F>
struct state_of<void, F> {};
template <class F>
  requires requires { typename optional_value<std::decay_t<typename fn_traits<F>::result>>::type; }
struct state_of<void, F> {
  using type = typename optional_value<std::decay_t<typename fn_traits<F>::result>>::type;
};
template <class S, class F>
concept state_known = requires { typename state_of<S, F>::type; };

/// update_state_by_key's f: the time-aware form wins when f accepts it.
template <class F, class K, class V, class S>
concept state_updater =
  returns_constructible<F, std::optional<S>, batch_time, const K&, const std::vector<V>&,
                        std::optional<S>>
  || (!std::is_invocable_v<F&, batch_time, const K&, const std::vector<V>&, std::optional<S>>
      && returns_constructible<F, std::optional<S>, const std::vector<V>&, std::optional<S>>);

/// state_spec::function's f: the time-aware form wins when f accepts it.
template <class F, class K, class V, class S, class M>
concept state_mapper =
  returns_as<F, std::optional<M>, batch_time, const K&, std::optional<V>, state<S>&>
  || (!std::is_invocable_v<F&, batch_time, const K&, std::optional<V>, state<S>&>
      && returns_as<F, std::optional<M>, const K&, std::optional<V>, state<S>&>);

} // namespace sluice::detail



namespace sluice::detail {

/// Every partition (and every batch) runs its own copy of an operator's
/// function, so it must be copyable.
template <class F>
constexpr bool check_copyable() {
  static_assert(std::is_copy_constructible_v<F>,
                "sluice: a function given to a dstream operator must be copy-constructible "
                "(each partition runs its own copy); a lambda that captures a move-only object "
                "(e.g. a std::unique_ptr) is not: capture a std::shared_ptr instead");
  return std::is_copy_constructible_v<F>;
}

// -- dstream<T> --------------------------------------------------------------

template <class T, class F>
constexpr bool check_map() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_value<F, T&&>,
                  "dstream<T>::map(f): f must be callable as U f(T), U f(const T&) or "
                  "U f(T&&), returning a value (not void)");
    return returns_value<F, T&&>;
  }
  return false;
}

template <class T, class F>
constexpr bool check_flat_map() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_range<F, T&&>,
                  "dstream<T>::flat_map(f): f must be callable as R f(T), R f(const T&) or "
                  "R f(T&&), where R is a range of U (e.g. std::vector<U>)");
    return returns_range<F, T&&>;
  }
  return false;
}

template <class T, class F>
constexpr bool check_filter() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_as<F, bool, const T&>,
                  "dstream<T>::filter(pred): pred must be callable as bool pred(const T&) or "
                  "bool pred(T), returning bool (or a type convertible to it)");
    return returns_as<F, bool, const T&>;
  }
  return false;
}

template <class T, class F>
constexpr bool check_map_partitions() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_range<F, const std::vector<T>&>,
                  "dstream<T>::map_partitions(f): f must be callable as "
                  "R f(const std::vector<T>&), where R is a range of U (e.g. std::vector<U>)");
    return returns_range<F, const std::vector<T>&>;
  }
  return false;
}

template <class T, class F>
constexpr bool check_reduce() {
  if constexpr (check_copyable<F>()) {
    static_assert(reducer<F, T>,
                  "dstream<T>::reduce(f) and reduce_by_window(f, w, s): f must be callable as "
                  "T f(T, T) or T f(const T&, const T&), returning T (or a type convertible "
                  "to it)");
    return reducer<F, T>;
  }
  return false;
}

template <class T, class F, class Inv>
constexpr bool check_reduce_by_window_inverse() {
  if constexpr (check_copyable<F>() && check_copyable<Inv>()) {
    static_assert(window_reducer<F, T>,
                  "dstream<T>::reduce_by_window(f, inv_f, w, s): f must be callable as "
                  "T f(T, T) or T f(const T&, const T&), returning T");
    static_assert(returns_as<Inv, T, T&&, T&>,
                  "dstream<T>::reduce_by_window(f, inv_f, w, s): inv_f must be callable as "
                  "T inv_f(T, T) or T inv_f(const T&, const T&), returning T (it undoes f: "
                  "inv_f(f(a, b), b) == a)");
    return window_reducer<F, T> && returns_as<Inv, T, T&&, T&>;
  }
  return false;
}

template <class T, class F>
constexpr bool check_transform() {
  if constexpr (check_copyable<F>()) {
    static_assert(rdd_transformer<F, T>,
                  "dstream<T>::transform(f): f must be callable as rdd<U> f(const rdd<T>&) or "
                  "rdd<U> f(const rdd<T>&, batch_time), returning a sluice::rdd");
    return rdd_transformer<F, T>;
  }
  return false;
}

template <class T, class U, class F>
constexpr bool check_transform_with() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_rdd<F, const rdd<T>&, const rdd<U>&>,
                  "dstream<T>::transform_with(other, f) with other a dstream<U>: f must be "
                  "callable as rdd<W> f(const rdd<T>&, const rdd<U>&), returning a sluice::rdd");
    return returns_rdd<F, const rdd<T>&, const rdd<U>&>;
  }
  return false;
}

template <class T, class F>
constexpr bool check_foreach_rdd() {
  constexpr bool ok = std::is_invocable_v<F&, const rdd<T>&, batch_time>
                      || std::is_invocable_v<F&, const rdd<T>&>;
  if constexpr (check_copyable<F>()) {
    static_assert(ok, "dstream<T>::foreach_rdd(f): f must be callable as "
                      "void f(const rdd<T>&) or void f(const rdd<T>&, batch_time) (a result is "
                      "ignored)");
    return ok;
  }
  return false;
}

// -- dstream<std::pair<K, V>> ------------------------------------------------

template <class K, class V, class F>
constexpr bool check_map_values() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_value<F, V&&>,
                  "dstream<std::pair<K, V>>::map_values(f): f must be callable as W f(V), "
                  "W f(const V&) or W f(V&&), returning a value (not void)");
    return returns_value<F, V&&>;
  }
  return false;
}

template <class K, class V, class F>
constexpr bool check_flat_map_values() {
  if constexpr (check_copyable<F>()) {
    static_assert(returns_range<F, V&&>,
                  "dstream<std::pair<K, V>>::flat_map_values(f): f must be callable as R f(V), "
                  "R f(const V&) or R f(V&&), where R is a range of W (e.g. std::vector<W>)");
    return returns_range<F, V&&>;
  }
  return false;
}

template <class K, class V, class F>
constexpr bool check_reduce_by_key() {
  if constexpr (check_copyable<F>()) {
    static_assert(reducer<F, V>,
                  "dstream<std::pair<K, V>>::reduce_by_key(f) and reduce_by_key_and_window(f, "
                  "w[, s[, n]]): f must be callable as V f(V, V) or V f(const V&, const V&), "
                  "returning V (or a type convertible to it)");
    static_assert(!holds_views<V>,
                  "dstream<std::pair<K, V>>::reduce_by_key(f): the reduced values outlive the "
                  "records they came from, so V must not hold views (std::string_view, "
                  "std::span): map the values to owning types first (sluice::owned_t<V>); keys "
                  "may view, they are made owning");
    return reducer<F, V> && !holds_views<V>;
  }
  return false;
}

template <class K, class V, class Create, class MergeValue, class MergeCombiners>
constexpr bool check_combine_by_key() {
  if constexpr (check_copyable<Create>() && check_copyable<MergeValue>()
                && check_copyable<MergeCombiners>()) {
    static_assert(returns_value<Create, V&&>,
                  "dstream<std::pair<K, V>>::combine_by_key(create, merge_value, "
                  "merge_combiners): create must be callable as C create(V) or "
                  "C create(const V&), returning the combiner C (not void)");
    if constexpr (returns_value<Create, V&&>) {
      using C = std::decay_t<std::invoke_result_t<Create&, V&&>>;
      static_assert(returns_as<MergeValue, C, C&&, V&&>,
                    "dstream<std::pair<K, V>>::combine_by_key(create, merge_value, "
                    "merge_combiners): merge_value must be callable as C merge_value(C, V) or "
                    "C merge_value(const C&, const V&), with C the result of create, "
                    "returning C");
      static_assert(returns_as<MergeCombiners, C, C&&, C&&>,
                    "dstream<std::pair<K, V>>::combine_by_key(create, merge_value, "
                    "merge_combiners): merge_combiners must be callable as "
                    "C merge_combiners(C, C) or C merge_combiners(const C&, const C&), with C "
                    "the result of create, returning C");
      static_assert(!holds_views<C>,
                    "dstream<std::pair<K, V>>::combine_by_key(create, merge_value, "
                    "merge_combiners): the combiner C outlives the records it came from, so it "
                    "must not hold views (std::string_view, std::span): let create return an "
                    "owning type (sluice::owned_t<C>); keys may view, they are made owning");
      return returns_as<MergeValue, C, C&&, V&&> && returns_as<MergeCombiners, C, C&&, C&&>
             && !holds_views<C>;
    }
  }
  return false;
}

template <class K, class V, class F, class Inv, class Filter>
constexpr bool check_inverse_window() {
  using T = std::pair<K, V>;
  if constexpr (check_copyable<F>() && check_copyable<Inv>() && check_copyable<Filter>()) {
    static_assert(window_reducer<F, V>,
                  "dstream<std::pair<K, V>>::reduce_by_key_and_window(f, inv_f, w, s[, n[, "
                  "filter]]): f must be callable as V f(V, V) or V f(const V&, const V&), "
                  "returning V");
    static_assert(returns_as<Inv, V, V&&, V&>,
                  "dstream<std::pair<K, V>>::reduce_by_key_and_window(f, inv_f, w, s[, n[, "
                  "filter]]): inv_f must be callable as V inv_f(V, V) or "
                  "V inv_f(const V&, const V&), returning V (it undoes f: "
                  "inv_f(f(a, b), b) == a)");
    static_assert(returns_as<Filter, bool, const T&>,
                  "dstream<std::pair<K, V>>::reduce_by_key_and_window(f, inv_f, w, s, n, "
                  "filter): filter must be callable as bool filter(const std::pair<K, V>&), "
                  "returning bool (or a type convertible to it)");
    static_assert(!holds_views<V>,
                  "dstream<std::pair<K, V>>::reduce_by_key_and_window(f, inv_f, w, s[, n[, "
                  "filter]]): the window keeps values across batches, so V must not hold views "
                  "(std::string_view, std::span): map the values to owning types first "
                  "(sluice::owned_t<V>); keys may view, they are made owning");
    return window_reducer<F, V> && returns_as<Inv, V, V&&, V&>
           && returns_as<Filter, bool, const T&> && !holds_views<V>;
  }
  return false;
}

/// S is void unless the caller named it: update_state_by_key<S>(f).
template <class K, class V, class S, class F>
constexpr bool check_update_state_by_key() {
  if constexpr (check_copyable<F>()) {
    static_assert(state_known<S, F>,
                  "dstream<std::pair<K, V>>::update_state_by_key(f): the state type S is read "
                  "from f's declared result std::optional<S>, and f has none (a generic or "
                  "overloaded callable, or one returning something else): name S, as in "
                  "update_state_by_key<S>(f)");
    if constexpr (state_known<S, F>) {
      using state_t = typename state_of<S, F>::type;
      static_assert(state_updater<F, K, V, state_t>,
                    "dstream<std::pair<K, V>>::update_state_by_key(f[, n[, initial]]): f must "
                    "be callable as std::optional<S> f(const std::vector<V>&, std::optional<S>) "
                    "or std::optional<S> f(batch_time, const K&, const std::vector<V>&, "
                    "std::optional<S>)");
      return state_updater<F, K, V, state_t>;
    }
  }
  return false;
}

/// update_state_by_key(f, n, initial) with initial an rdd<std::pair<K2, S2>>.
template <class K, class V, class S, class F, class K2, class S2>
constexpr bool check_update_state_initial() {
  if constexpr (check_update_state_by_key<K, V, S, F>()) {
    constexpr bool ok =
      std::is_same_v<K, K2> && std::is_same_v<typename state_of<S, F>::type, S2>;
    static_assert(ok, "dstream<std::pair<K, V>>::update_state_by_key(f, n, initial): initial "
                      "must be an rdd<std::pair<K, S>> of the stream's key type K and f's state "
                      "type S");
    return ok;
  }
  return false;
}

/// map_with_state(spec) with spec a state_spec<K, V, S, M>, on a
/// dstream<std::pair<K2, V2>>.
template <class K, class V, class K2, class V2>
constexpr bool check_map_with_state() {
  constexpr bool ok = std::is_same_v<K, K2> && std::is_same_v<V, V2>;
  static_assert(ok, "dstream<std::pair<K, V>>::map_with_state(spec): spec must be a "
                    "state_spec<K, V, S, M> of the stream's key type K and value type V");
  return ok;
}

template <class K, class V, class S, class M, class F>
constexpr bool check_state_spec_function() {
  if constexpr (check_copyable<F>()) {
    static_assert(state_mapper<F, K, V, S, M>,
                  "state_spec<K, V, S, M>::function(f): f must be callable as "
                  "std::optional<M> f(batch_time, const K&, std::optional<V>, state<S>&) or "
                  "M f(const K&, std::optional<V>, state<S>&)");
    return state_mapper<F, K, V, S, M>;
  }
  return false;
}

// -- rdd<T> (eager: the function is called in place, never copied) ----------

template <class T, class F>
constexpr bool check_rdd_map() {
  static_assert(returns_value<F, const T&>,
                "rdd<T>::map(f): f must be callable as U f(const T&) or U f(T), returning a "
                "value (not void)");
  return returns_value<F, const T&>;
}

template <class T, class F>
constexpr bool check_rdd_flat_map() {
  static_assert(returns_range<F, const T&>,
                "rdd<T>::flat_map(f): f must be callable as R f(const T&) or R f(T), where R is "
                "a range of U (e.g. std::vector<U>)");
  return returns_range<F, const T&>;
}

template <class T, class F>
constexpr bool check_rdd_filter() {
  static_assert(returns_constructible<F, bool, const T&>,
                "rdd<T>::filter(pred): pred must be callable as bool pred(const T&) or "
                "bool pred(T), returning something testable as bool");
  return returns_constructible<F, bool, const T&>;
}

template <class K, class V, class F>
constexpr bool check_rdd_reduce_by_key() {
  static_assert(returns_as<F, V, V&, const V&>,
                "rdd<std::pair<K, V>>::reduce_by_key(f): f must be callable as V f(V, V) or "
                "V f(const V&, const V&), returning V (or a type convertible to it)");
  return returns_as<F, V, V&, const V&>;
}

} // namespace sluice::detail
