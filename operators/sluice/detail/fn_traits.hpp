// The result type of a non-generic callable, for deducing state types.
// fn_traits<F> has no `result` (rather than failing to compile) when F is a
// generic or overloaded callable, so a caller can test for it.
#pragma once

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
