// Emitters: the per-record push interface that fuses a chain of narrow
// operators into one pass over a partition (no intermediate vectors).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sluice/detail/erased.hpp"

namespace sluice::detail {

/// Receives the records of one partition between open() and close().
class emitter_base {
 public:
  virtual ~emitter_base() = default;
  virtual void open(int32_t partition) = 0;
  virtual void close() = 0;
};

template <class T>
class emitter : public emitter_base {
 public:
  virtual void push(T&& x) = 0;
};

/// Terminal of a chain: collects each partition into a vector.
class collector_base {
 public:
  virtual ~collector_base() = default;
  virtual emitter_base* input() = 0;
  virtual parts take() = 0;
};

template <class T>
class collector final : public emitter<T>, public collector_base {
 public:
  void open(int32_t partition) override { current_ = partition; }
  void push(T&& x) override { buf_.push_back(std::move(x)); }
  void close() override {
    out_.push_back({current_, erase(std::move(buf_))});
    buf_ = {};
  }
  emitter_base* input() override { return this; }
  parts take() override { return std::move(out_); }

 private:
  int32_t current_ = 0;
  std::vector<T> buf_;
  parts out_;
};

/// Terminal of a chain that feeds a shuffle: splits records into buckets,
/// one per reducer, combining map-side where the operator allows it.
class bucket_writer_base {
 public:
  virtual ~bucket_writer_base() = default;
  virtual emitter_base* input() = 0;
  /// Returns one bucket per reducer partition (never null).
  virtual std::vector<erased> take() = 0;
};

/// Feeds engine parts of type T into the first emitter of a chain.
class feeder_base {
 public:
  virtual ~feeder_base() = default;
  virtual void feed(part&& p) = 0;
};

template <class T>
class feeder final : public feeder_base {
 public:
  explicit feeder(emitter_base* first) : first_(static_cast<emitter<T>*>(first)) {}
  void feed(part&& p) override {
    auto records = take<T>(p.data);
    first_->open(p.index);
    for (auto& x : records)
      first_->push(std::move(x));
    first_->close();
  }

 private:
  emitter<T>* first_;
};

/// Owns the emitters of one fused chain, built for one batch in one slot.
struct chain {
  std::unique_ptr<feeder_base> head;
  std::vector<std::unique_ptr<emitter_base>> links;
  std::unique_ptr<collector_base> collect;       // set when the chain ends in parts
  std::unique_ptr<bucket_writer_base> buckets;   // set when it ends in a shuffle
};

} // namespace sluice::detail
