// The result type of a non-generic callable, for deducing state types.
#pragma once

#include <tuple>

namespace sluice::detail {

template <class F>
struct fn_traits : fn_traits<decltype(&F::operator())> {};

template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const> {
  using result = R;
};

template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...)> {
  using result = R;
};

template <class R, class... A>
struct fn_traits<R (*)(A...)> {
  using result = R;
};

} // namespace sluice::detail
