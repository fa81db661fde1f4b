// Gather operators: they need a whole batch. union, transform,
// transform_with, count and reduce (SEMANTICS §1).
#pragma once

#include <functional>
#include <optional>
#include <type_traits>

#include "sluice/error.hpp"
#include "sluice/node.hpp"
#include "sluice/rdd.hpp"

namespace sluice::detail {

/// What a stage sends count() in place of a partition's records: their
/// number (a type of its own, so the gather tells it from records of a
/// dstream<int64_t>).
struct partition_count {
  int64_t records = 0;
};

/// What a stage sends reduce(f) in place of a partition's records: their
/// reduction, none for an empty partition (Spark's reduce combines each
/// partition where it is computed, then merges the results).
template <class T>
struct partition_reduction {
  T value;
};

} // namespace sluice::detail

namespace sluice {

/// A partition_reduction crosses a process as its value.
template <class T>
  requires encodable<T>
struct codec<detail::partition_reduction<T>> {
  static void encode(const detail::partition_reduction<T>& r, std::string& out) {
    codec<T>::encode(r.value, out);
  }
  static detail::partition_reduction<T> decode(std::string_view& in) {
    return {codec<T>::decode(in)};
  }
};

/// A partition_count crosses a process as its int64.
template <>
struct codec<detail::partition_count> {
  static constexpr std::string_view type_name = "partition_count";
  static void encode(const detail::partition_count& c, std::string& out) {
    codec<int64_t>::encode(c.records, out);
  }
  static detail::partition_count decode(std::string_view& in) {
    return {codec<int64_t>::decode(in)};
  }
};

} // namespace sluice

namespace sluice::detail {

/// A gather_op whose per-batch work is the stateless `Fn(t, inputs, info)`.
template <class Fn>
struct fn_gather_op final : gather_op {
  Fn fn;
  run_info info;
  fn_gather_op(Fn f, run_info i) : fn(std::move(f)), info(i) {}
  gather_result compute(batch_time t, std::vector<std::optional<parts>>& in) override {
    return {fn(t, in, info), {}};
  }
};

/// A gather node whose per-batch work is the stateless `Fn(t, inputs, info)`.
template <class T, class Fn>
class stateless_gather final : public node<T> {
 public:
  stateless_gather(std::string name, std::vector<node_base*> parents, Fn fn)
      : node<T>(node_kind::gather, std::move(name), parents[0]->slide(), parents),
        fn_(std::move(fn)) {}

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    return std::make_unique<fn_gather_op<Fn>>(fn_, info);
  }

 private:
  Fn fn_;
};

template <class T, class Fn>
std::unique_ptr<stateless_gather<T, Fn>> make_gather_node(std::string name, std::vector<node_base*> parents,
                                            Fn fn) {
  return std::make_unique<stateless_gather<T, Fn>>(std::move(name), std::move(parents),
                                                   std::move(fn));
}

/// Spark's union: the parents' partitions one after another, renumbered.
/// Throws sluice::error when a parent has no batch at `t`. Out of line in
/// operators/src/gather.cpp (it does not depend on the record type).
std::optional<parts> union_parts(batch_time t, std::vector<std::optional<parts>>& in);

template <class T>
auto union_fn() {
  return [](batch_time t, std::vector<std::optional<parts>>& in,
            const run_info&) -> std::optional<parts> { return union_parts(t, in); };
}

/// transform(f) with f(const rdd<T>&) or f(const rdd<T>&, batch_time).
template <class T, class F>
auto transform_fn(F f) {
  return [f](batch_time t, std::vector<std::optional<parts>>& in,
             const run_info& info) mutable -> std::optional<parts> {
    if (!in[0])
      throw error("Couldn't generate RDD from parent at time " + to_string(t));
    auto r = rdd<T>::from_parts(std::move(*in[0]), info.parallelism);
    if constexpr (std::is_invocable_v<F&, const rdd<T>&, batch_time>)
      return f(r, t).to_parts();
    else
      return f(r).to_parts();
  };
}

template <class T, class U, class F>
auto transform_with_fn(F f) {
  return [f](batch_time t, std::vector<std::optional<parts>>& in,
             const run_info& info) mutable -> std::optional<parts> {
    if (!in[0] || !in[1])
      throw error("Couldn't generate RDD from parent at time " + to_string(t));
    auto a = rdd<T>::from_parts(std::move(*in[0]), info.parallelism);
    auto b = rdd<U>::from_parts(std::move(*in[1]), info.parallelism);
    if constexpr (std::is_invocable_v<F&, const rdd<T>&, const rdd<U>&, batch_time>)
      return f(a, b, t).to_parts();
    else
      return f(a, b).to_parts();
  };
}

/// count(): one partition holding the number of records, [0] when empty.
/// Its input partitions are records, or partition_counts that stages sent in
/// their place.
template <class T>
auto count_fn() {
  return [](batch_time, std::vector<std::optional<parts>>& in,
            const run_info&) -> std::optional<parts> {
    if (!in[0])
      return std::nullopt;
    static const uint64_t counted = record_type<partition_count>::ops().key;
    int64_t n = 0;
    for (auto& p : *in[0]) {
      if (!p.data)
        continue;
      if (p.data.ops()->key == counted)
        for (auto& c : view<partition_count>(p.data))
          n += c.records;
      else
        n += static_cast<int64_t>(view<T>(p.data).size());
    }
    return parts{{0, erase(std::vector<int64_t>{n})}};
  };
}

/// count()'s node: a gather whose senders send each partition's record
/// count, not its records.
template <class T>
class count_gather final : public node<int64_t> {
 public:
  explicit count_gather(node_base* parent)
      : node<int64_t>(node_kind::gather, "count", parent->slide(), {parent}) {}

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    return std::make_unique<fn_gather_op<decltype(count_fn<T>())>>(count_fn<T>(), info);
  }
  bool takes_partial(int) const override { return true; }
  erased partial(int, erased records) const override {
    auto n = static_cast<int64_t>(this->parents()[0]->records(records));
    return erase(std::vector<partition_count>{{n}});
  }
};

/// Folds `x` into `acc`: x itself when acc is empty, else f(acc, x).
template <class T, class F>
void fold_into(std::optional<T>& acc, F& f, T&& x) {
  acc = acc ? f(std::move(*acc), std::move(x)) : std::move(x);
}

/// reduce(f): one partition holding the reduction, [] when empty. Its input
/// partitions are records, or partition_reductions that stages sent in their
/// place; either way they are folded in partition order, so the result is
/// the left fold of all records for an associative f (SEMANTICS §1).
template <class T, class F>
auto reduce_fn(F f) {
  return [f](batch_time, std::vector<std::optional<parts>>& in,
             const run_info&) mutable -> std::optional<parts> {
    if (!in[0])
      return std::nullopt;
    sort_by_index(*in[0]);
    static const uint64_t reduced = record_type<partition_reduction<T>>::ops().key;
    std::optional<T> acc;
    for (auto& p : *in[0]) {
      if (p.data && p.data.ops()->key == reduced)
        for (auto& r : take<partition_reduction<T>>(p.data))
          fold_into(acc, f, std::move(r.value));
      else
        for (auto& x : take<T>(p.data))
          fold_into(acc, f, std::move(x));
    }
    std::vector<T> out;
    if (acc)
      out.push_back(std::move(*acc));
    return parts{{0, erase(std::move(out))}};
  };
}

/// reduce(f)'s node: a gather whose senders reduce each partition first when
/// its result can cross processes (T has a sluice::codec); otherwise they
/// send the records, which start() then checks as any others.
template <class T, class F>
class reduce_gather final : public node<T> {
 public:
  reduce_gather(node_base* parent, F f)
      : node<T>(node_kind::gather, "reduce", parent->slide(), {parent}), f_(std::move(f)) {}

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    auto fn = reduce_fn<T>(f_);
    return std::make_unique<fn_gather_op<decltype(fn)>>(std::move(fn), info);
  }
  bool takes_partial(int) const override { return encodable<T>; }
  erased partial(int, erased records) const override {
    auto f = f_; // a copy per slot and batch: user closures never run concurrently
    std::vector<partition_reduction<T>> out;
    std::optional<T> acc;
    for (auto& x : take<T>(records))
      fold_into(acc, f, std::move(x));
    if (acc)
      out.push_back({std::move(*acc)});
    return erase(std::move(out));
  }

 private:
  F f_;
};

} // namespace sluice::detail
