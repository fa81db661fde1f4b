// Narrow operators: map, flat_map, filter, glom, map_partitions. Each one
// wraps the next emitter of its chain, so a chain runs as one pass.
#pragma once

#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/node.hpp"

namespace sluice::detail {

template <class T, class U, class F>
class map_link final : public emitter<T> {
 public:
  map_link(F f, emitter_base* down) : f_(std::move(f)), down_(static_cast<emitter<U>*>(down)) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override { down_->push(f_(std::move(x))); }
  void close() override { down_->close(); }

 private:
  F f_; // a copy per slot and batch: user closures never run concurrently
  emitter<U>* down_;
};

template <class T, class U, class F>
class flat_map_link final : public emitter<T> {
 public:
  flat_map_link(F f, emitter_base* down)
      : f_(std::move(f)), down_(static_cast<emitter<U>*>(down)) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override {
    auto&& range = f_(std::move(x));
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
};

template <class T, class F>
class filter_link final : public emitter<T> {
 public:
  filter_link(F f, emitter_base* down) : f_(std::move(f)), down_(static_cast<emitter<T>*>(down)) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override {
    if (f_(std::as_const(x)))
      down_->push(std::move(x));
  }
  void close() override { down_->close(); }

 private:
  F f_;
  emitter<T>* down_;
};

/// Buffers a whole partition, applies `f(const std::vector<T>&) -> std::vector<U>`.
template <class T, class U, class F>
class partition_link final : public emitter<T> {
 public:
  partition_link(F f, emitter_base* down)
      : f_(std::move(f)), down_(static_cast<emitter<U>*>(down)) {}
  void open(int32_t p) override { down_->open(p); }
  void push(T&& x) override { buf_.push_back(std::move(x)); }
  void close() override {
    auto out = f_(std::as_const(buf_));
    buf_.clear();
    for (auto& y : out)
      down_->push(U(std::move(y)));
    down_->close();
  }

 private:
  F f_;
  emitter<U>* down_;
  std::vector<T> buf_;
};

/// A narrow node: `Link<T, U, F>` does the work (filter_adapter for filters).
template <class T, class U, class F, template <class...> class Link>
class narrow_node final : public node<U> {
 public:
  narrow_node(std::string name, node_base* parent, F f)
      : node<U>(node_kind::narrow, std::move(name), parent->slide(), {parent}), f_(std::move(f)) {}

  std::unique_ptr<emitter_base> wrap(emitter_base* down) const override {
    return std::make_unique<Link<T, U, F>>(f_, down);
  }

 private:
  F f_;
};

template <class T, class U, class F>
using filter_adapter = filter_link<T, F>;

} // namespace sluice::detail
