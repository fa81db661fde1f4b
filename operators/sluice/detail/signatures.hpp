// What the operators call their user functions with, as concepts: a
// function that satisfies its operator's concept compiles in the engine's
// templates. fn_checks.hpp turns them into one static_assert per operator.
#pragma once

#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/detail/fn_traits.hpp"
#include "sluice/time.hpp"

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
