// Narrow operators: map, flat_map, filter, glom, map_partitions. Each one
// wraps the next emitter of its chain, so a chain runs as one pass. Each
// attributes its user function's exceptions to its node (user_failure).
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/node.hpp"

// Attributing an exception of a user function to the operator that ran it,
// so the error that stops the context names the operator (issue 9).
namespace sluice::detail {

/// Carries the exception a node's user function threw, with the node, up to
/// the actor that runs the node: it reports "<name> (operator <id>) failed at
/// batch <t>: <message>" and keeps the original exception's type.
class user_failure : public std::exception {
 public:
  user_failure(const node_base* n, std::exception_ptr cause, std::string message)
      : node_(n), cause_(std::move(cause)), message_(std::move(message)) {}

  const node_base* node() const noexcept { return node_; }
  /// The exception the user function threw.
  const std::exception_ptr& cause() const noexcept { return cause_; }
  /// Its what().
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  const node_base* node_;
  std::exception_ptr cause_;
  std::string message_;
};

/// Returns `f()`. A std::exception from it leaves as a user_failure of `n`,
/// unless it already is one (thrown further down a chain). Other exceptions
/// pass unchanged: they end the actor, whose death the executor reports.
/// The try block costs nothing until something throws.
template <class F>
decltype(auto) attributed(const node_base* n, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const user_failure&) {
    throw;
  } catch (const std::exception& e) {
    throw user_failure{n, std::current_exception(), e.what()};
  }
}

/// Returns what stops the context when node `n` fails at batch time `t`:
/// "map (operator 2) failed at batch 1000 ms: <what>". Out of line in
/// operators/src/narrow.cpp.
std::string failure_message(const node_base& n, int64_t t, std::string_view what);

} // namespace sluice::detail


namespace sluice::detail {

template <class T, class U, class F>
class map_link final : public emitter<T> {
 public:
  map_link(F f, emitter_base* down, const node_base* n)
      : f_(std::move(f)), down_(static_cast<emitter<U>*>(down)), node_(n) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override {
    down_->push(attributed(node_, [&]() -> U { return f_(std::move(x)); }));
  }
  void expect(size_t n) override { down_->expect(n); } // one record out per record in
  void close() override { down_->close(); }

 private:
  F f_; // a copy per slot and batch: user closures never run concurrently
  emitter<U>* down_;
  const node_base* node_;
};

template <class T, class U, class F>
class flat_map_link final : public emitter<T> {
 public:
  flat_map_link(F f, emitter_base* down, const node_base* n)
      : f_(std::move(f)), down_(static_cast<emitter<U>*>(down)), node_(n) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override {
    auto&& range = attributed(node_, [&]() -> decltype(auto) { return f_(std::move(x)); });
    for (auto&& y : range) {
      if constexpr (std::is_same_v<std::decay_t<decltype(y)>, U>)
        down_->push(std::move(y));
      else
        down_->push(U(std::move(y)));
    }
  }
  void close() override { down_->close(); }

 private:
  F f_;
  emitter<U>* down_;
  const node_base* node_;
};

template <class T, class F>
class filter_link final : public emitter<T> {
 public:
  filter_link(F f, emitter_base* down, const node_base* n)
      : f_(std::move(f)), down_(static_cast<emitter<T>*>(down)), node_(n) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override {
    if (attributed(node_, [&]() -> bool { return f_(std::as_const(x)); }))
      down_->push(std::move(x));
  }
  void close() override { down_->close(); }

 private:
  F f_;
  emitter<T>* down_;
  const node_base* node_;
};

/// Buffers a whole partition, applies `f(const std::vector<T>&) -> std::vector<U>`.
template <class T, class U, class F>
class partition_link final : public emitter<T> {
 public:
  partition_link(F f, emitter_base* down, const node_base* n)
      : f_(std::move(f)), down_(static_cast<emitter<U>*>(down)), node_(n) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override { buf_.push_back(std::move(x)); }
  void expect(size_t n) override {
    buf_.reserve(buf_.size() + std::min(n, max_expected_records));
  }
  void close() override {
    auto out = attributed(node_, [&] { return f_(std::as_const(buf_)); });
    buf_.clear();
    for (auto& y : out)
      down_->push(U(std::move(y)));
    down_->close();
  }

 private:
  F f_;
  emitter<U>* down_;
  const node_base* node_;
  std::vector<T> buf_;
};

/// A narrow node: `Link<T, U, F>` does the work (filter_adapter for filters).
template <class T, class U, class F, template <class...> class Link>
class narrow_node final : public node<U> {
 public:
  narrow_node(std::string name, node_base* parent, F f)
      : node<U>(node_kind::narrow, std::move(name), parent->slide(), {parent}), f_(std::move(f)) {}

  std::unique_ptr<emitter_base> wrap(emitter_base* down) const override {
    return std::make_unique<Link<T, U, F>>(f_, down, this);
  }

 private:
  F f_;
};

template <class T, class U, class F>
using filter_adapter = filter_link<T, F>;

} // namespace sluice::detail
