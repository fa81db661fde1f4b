// dstream<T>: a typed handle on a node of the context's DStream graph
// (Spark's DStream). Building operations is single-threaded and must happen
// before streaming_context::start(); afterwards it throws illegal_state.
// The class declares every operation with its contract; the longer ones are
// defined in dstream_windows.hpp, dstream_pairs.hpp and dstream_outputs.hpp,
// included at the end.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/detail/fn_checks.hpp"
#include "sluice/gather.hpp"
#include "sluice/map_with_state.hpp"
#include "sluice/graph.hpp"
#include "sluice/narrow.hpp"
#include "sluice/shuffle.hpp"
#include "sluice/window.hpp"

namespace sluice {

template <class K, class V, class S, class M>
class map_with_state_dstream;

namespace detail {
struct dstream_access;
/// via and foreach_actor for a CAF handle type: defined by
/// <sluice/actors.hpp> (the one public header that includes CAF).
template <class T, class Handle>
struct actor_ops {
  static_assert(sizeof(Handle) == 0,
                "via and foreach_actor take CAF actors: #include <sluice/actors.hpp>");
};
/// save_to_kafka for a to_record returning R: defined for
/// sluice::kafka::producer_record by <sluice/kafka.hpp> (target sluice::kafka).
template <class T, class R>
struct kafka_ops {
  static_assert(!std::is_same_v<R, R>,
                "save_to_kafka: expected to_record(const T&) returning "
                "sluice::kafka::producer_record: #include <sluice/kafka.hpp> and link "
                "sluice::kafka");
  template <class... A>
  static void save(A&&...) {} // only the assertion above is reported
};
/// What f(const T&) returns; void when it cannot be called so.
template <class F, class T>
using result_or_void =
  typename std::conditional_t<std::is_invocable_v<F&, const T&>, std::invoke_result<F&, const T&>,
                              std::type_identity<void>>::type;
void write_text_batch(const std::string& dir, const std::vector<std::string>& partitions);
void print_batch(batch_time t, const std::vector<std::string>& lines, bool more);
} // namespace detail

template <class T>
class dstream {
 public:
  using value_type = T;

  dstream(std::shared_ptr<detail::graph> g, detail::node<T>* n) : g_(std::move(g)), n_(n) {}

  // An operator taking a function first runs its check (detail/fn_checks.hpp):
  // a wrong one fails one static_assert listing the accepted signatures, and
  // the `return *this` branch keeps the operator's body (and its errors) out.

  /// The interval between this stream's batches.
  duration slide_duration() const { return n_->slide(); }

  // -- stateless transformations ---------------------------------------------

  template <class F>
  auto map(F f) const {
    if constexpr (!detail::check_map<T, F>()) {
      return *this;
    } else {
      using U = std::decay_t<std::invoke_result_t<F&, T&&>>;
      return add<U>(std::make_unique<detail::narrow_node<T, U, F, detail::map_link>>(
        "map", n_, std::move(f)));
    }
  }

  template <class F>
  auto flat_map(F f) const {
    if constexpr (!detail::check_flat_map<T, F>()) {
      return *this;
    } else {
      using U = detail::range_value_t<std::invoke_result_t<F&, T&&>>;
      return add<U>(std::make_unique<detail::narrow_node<T, U, F, detail::flat_map_link>>(
        "flat_map", n_, std::move(f)));
    }
  }

  template <class F>
  dstream<T> filter(F pred) const {
    if constexpr (!detail::check_filter<T, F>())
      return *this;
    else
      return add<T>(std::make_unique<detail::narrow_node<T, T, F, detail::filter_adapter>>(
        "filter", n_, std::move(pred)));
  }

  /// One vector per partition.
  dstream<std::vector<T>> glom() const {
    return map_partitions_named("glom", [](const std::vector<T>& v) {
      return std::vector<std::vector<T>>{v};
    });
  }

  template <class F>
  auto map_partitions(F f) const {
    if constexpr (!detail::check_map_partitions<T, F>())
      return *this;
    else
      return map_partitions_named("map_partitions", std::move(f));
  }

  /// Reshuffles into `n` partitions (round-robin).
  dstream<T> repartition(int n) const {
    check_partitions(n, "repartition");
    return add<T>(std::make_unique<detail::repartition_node<T>>(n_, n));
  }

  /// One record: the reduction of the batch; an empty batch gives [].
  template <class F>
  dstream<T> reduce(F f) const {
    if constexpr (!detail::check_reduce<T, F>())
      return *this;
    else
      return add<T>(
        std::make_unique<detail::reduce_gather<T, F>>(n_, std::move(f)));
  }

  /// One record: the number of records; an empty batch gives [0].
  dstream<int64_t> count() const {
    return add<int64_t>(std::make_unique<detail::count_gather<T>>(n_));
  }

  /// (value, count) per distinct value; values that view (std::string_view)
  /// are made owning once per value (owned_t<T>).
  dstream<std::pair<owned_t<T>, int64_t>> count_by_value(int n = 0) const {
    return map([](T x) { return std::pair<T, int64_t>{std::move(x), 1}; })
      .reduce_by_key(std::plus<int64_t>{}, n);
  }

  dstream<T> union_with(const dstream<T>& other) const {
    same_context_and_slide(other, "union_with");
    return add<T>(detail::make_gather_node<T>("union", {n_, other.n_}, detail::union_fn<T>()));
  }

  /// f(const rdd<T>&) or f(const rdd<T>&, batch_time), returning an rdd<U>.
  template <class F>
  auto transform(F f) const {
    if constexpr (!detail::check_transform<T, F>()) {
      return *this;
    } else {
      using U = typename decltype(call_transform(f))::value_type;
      return add<U>(detail::make_gather_node<U>("transform", {n_},
                                                detail::transform_fn<T>(std::move(f))));
    }
  }

  /// f(const rdd<T>&, const rdd<U>&), returning an rdd<W>.
  template <class U, class F>
  auto transform_with(const dstream<U>& other, F f) const {
    if constexpr (!detail::check_transform_with<T, U, F>()) {
      return *this;
    } else {
      using R = std::decay_t<std::invoke_result_t<F&, const rdd<T>&, const rdd<U>&>>;
      using W = typename R::value_type;
      same_context_and_slide(other, "transform_with");
      return add<W>(detail::make_gather_node<W>("transform_with", {n_, other.node()},
                                                detail::transform_with_fn<T, U>(std::move(f))));
    }
  }

  /// Sends every partition to `op`, a user's typed actor
  /// `caf::typed_actor<caf::replies_to<std::vector<T>>::with<std::vector<U>>>`,
  /// and continues with its replies as a dstream<U>. A failed request fails
  /// the batch. Needs <sluice/actors.hpp>.
  template <class U = void, class Handle>
  auto via(Handle op) const {
    return detail::actor_ops<T, Handle>::template via<U>(*this, std::move(op));
  }

  // -- windows (SEMANTICS §2) -----------------------------------------------------

  /// The batches of the last `w`, every `s` (default: this stream's slide).
  /// Throws invalid_argument unless both are multiples of this stream's slide.
  dstream<T> window(duration w) const { return window(w, slide_duration()); }
  dstream<T> window(duration w, duration s) const;

  /// reduce -> window -> reduce.
  template <class F>
  dstream<T> reduce_by_window(F f, duration w, duration s) const;

  /// Incremental: a single-key reduce_by_key_and_window without a filter.
  template <class F, class Inv>
    requires(!std::is_convertible_v<Inv, duration>)
  dstream<T> reduce_by_window(F f, Inv inv, duration w, duration s) const;

  /// [n] records in the window; [0] once a window that had data empties.
  dstream<int64_t> count_by_window(duration w, duration s) const;

  /// (value, count) in the window; values whose count drops to 0 disappear.
  dstream<std::pair<owned_t<T>, int64_t>> count_by_value_and_window(duration w, duration s,
                                                                    int n = 0) const;

  /// The batches of times from..to, both included, aligned down to the
  /// slide (SEMANTICS §1.7). Only batches remembered through
  /// ssc.remember(d) can be returned; times not reached yet are skipped.
  /// Throws illegal_state before start() or without ssc.remember.
  std::vector<rdd<T>> slice(batch_time from, batch_time to) const;

  // -- key-value transformations (T = std::pair<K, V>) ------------------------

  template <class F>
  auto map_values(F f) const requires detail::is_pair_v<T>;

  template <class F>
  auto flat_map_values(F f) const requires detail::is_pair_v<T>;

  template <class F>
  auto reduce_by_key(F f, int n = 0) const requires detail::is_pair_v<T>;

  template <class Create, class MergeValue, class MergeCombiners>
  auto combine_by_key(Create create, MergeValue merge_value, MergeCombiners merge_combiners,
                      int n = 0) const requires detail::is_pair_v<T>;

  auto group_by_key(int n = 0) const requires detail::is_pair_v<T>;

  template <class P>
  auto cogroup(const dstream<P>& other, int n = 0) const requires detail::is_pair_v<T>;

  template <class P>
  auto join(const dstream<P>& other, int n = 0) const requires detail::is_pair_v<T>;

  template <class P>
  auto left_outer_join(const dstream<P>& other, int n = 0) const requires detail::is_pair_v<T>;

  template <class P>
  auto right_outer_join(const dstream<P>& other, int n = 0) const requires detail::is_pair_v<T>;

  template <class P>
  auto full_outer_join(const dstream<P>& other, int n = 0) const requires detail::is_pair_v<T>;

  // -- key-value windows --------------------------------------------------------

  auto group_by_key_and_window(duration w, duration s, int n = 0) const
    requires detail::is_pair_v<T>;

  // The key-value windows' keys may view (std::string_view): their results
  // own them (owned_key_t<T> is T with its key made owned_t).

  /// Naive: reduce_by_key -> window -> reduce_by_key (SEMANTICS §2.12).
  template <class F>
  dstream<detail::owned_key_t<T>> reduce_by_key_and_window(F f, duration w, duration s,
                                                           int n = 0) const
    requires detail::is_pair_v<T>;

  template <class F>
  dstream<detail::owned_key_t<T>> reduce_by_key_and_window(F f, duration w) const
    requires detail::is_pair_v<T> {
    return reduce_by_key_and_window(f, w, slide_duration());
  }

  /// Incremental, with the inverse of `f`; keys stay with value "zero" unless
  /// `filter` drops them (SEMANTICS §2.13-14). Needs ssc.checkpoint(dir).
  template <class F, class Inv>
    requires(detail::is_pair_v<T> && !std::is_convertible_v<Inv, duration>)
  dstream<detail::owned_key_t<T>> reduce_by_key_and_window(F f, Inv inv, duration w, duration s,
                                                           int n = 0) const;

  template <class F, class Inv, class Filter>
    requires(detail::is_pair_v<T> && !std::is_convertible_v<Inv, duration>)
  dstream<detail::owned_key_t<T>> reduce_by_key_and_window(F f, Inv inv, duration w, duration s,
                                                           int n, Filter filter) const;

  // -- state (SEMANTICS §3-4) -----------------------------------------------------

  /// f(const std::vector<V>&, std::optional<S>) -> std::optional<S>, or the
  /// time-aware f(batch_time, const K&, const std::vector<V>&, std::optional<S>).
  /// Runs for every key with data or state, every batch; nullopt removes the
  /// key. S is deduced from f's result unless given. Needs ssc.checkpoint(dir).
  template <class S = void, class F>
  auto update_state_by_key(F f, int n = 0) const requires detail::is_pair_v<T>;

  template <class S = void, class F, class K2, class S2>
  auto update_state_by_key(F f, int n, const rdd<std::pair<K2, S2>>& initial) const
    requires detail::is_pair_v<T>;

  template <class K, class V, class S, class M>
  map_with_state_dstream<K, V, S, M> map_with_state(const state_spec<K, V, S, M>& spec) const
    requires detail::is_pair_v<T>;

  // -- output operations ------------------------------------------------------

  /// Prints the first `num` records of every batch in Spark's layout.
  void print(int num = 10) const;

  /// Writes batch t to `prefix-<t ms>[.suffix]/part-NNNNN`, atomically.
  void save_as_text_files(std::string prefix, std::string suffix = "") const;

  /// f(const rdd<T>&) or f(const rdd<T>&, batch_time), on the job thread.
  template <class F>
  void foreach_rdd(F f) const;

  /// Sends `(batch_time, std::vector<T>)` to `sink` (a caf::actor) for every
  /// partition. Needs <sluice/actors.hpp>.
  template <class Actor>
  void foreach_actor(Actor sink) const {
    detail::actor_ops<T, Actor>::foreach(*this, std::move(sink));
  }

  /// Writes each batch's records to the Kafka topic `topic`, each made by
  /// `to_record(const T&) -> sluice::kafka::producer_record`: an output
  /// operation with the idempotent producer, and with `transactional.id` in
  /// `params` one transaction per batch (see <sluice/kafka.hpp>, which must
  /// be included; `params` are Kafka's own client keys).
  template <class F>
  void save_to_kafka(const std::string& topic, const std::map<std::string, std::string>& params,
                     F to_record) const {
    detail::kafka_ops<T, detail::result_or_void<F, T>>::save(*this, topic, params,
                                                            std::move(to_record));
  }

  // -- persistence --------------------------------------------------------------

  /// Sets how often this stream's state is checkpointed; validated at start()
  /// (>= the slide, a multiple of it). Throws illegal_state after start.
  dstream<T> checkpoint(duration interval) const {
    if (g_->started())
      throw illegal_state("checkpoint(interval) cannot be called after the context started");
    if (interval.count() <= 0)
      throw invalid_argument("checkpoint interval must be positive, got " + to_string(interval));
    n_->checkpoint_interval(interval);
    return *this;
  }

  dstream<T> cache() const { return persist(); }
  dstream<T> persist() const {
    if (g_->started())
      throw illegal_state("persist/cache cannot be called after the context started");
    return *this;
  }

 private:
  template <class>
  friend class dstream;
  template <class, class, class, class>
  friend class map_with_state_dstream;
  friend struct detail::dstream_access;

  detail::node<T>* node() const { return n_; }
  const std::shared_ptr<detail::graph>& graph() const { return g_; }

  template <class F>
  static auto call_transform(F& f) {
    if constexpr (std::is_invocable_v<F&, const rdd<T>&, batch_time>)
      return std::decay_t<std::invoke_result_t<F&, const rdd<T>&, batch_time>>{};
    else
      return std::decay_t<std::invoke_result_t<F&, const rdd<T>&>>{};
  }

  template <class U, class N>
  dstream<U> add(std::unique_ptr<N> n) const {
    return dstream<U>{g_, g_->add(std::move(n))};
  }

  template <class F>
  auto map_partitions_named(const char* name, F f) const {
    using R = std::decay_t<std::invoke_result_t<F&, const std::vector<T>&>>;
    using U = detail::range_value_t<R>;
    return add<U>(std::make_unique<detail::narrow_node<T, U, F, detail::partition_link>>(
      name, n_, std::move(f)));
  }

  void output(const char* name, std::function<void(const rdd<T>&, batch_time)> f) const {
    g_->add(std::make_unique<detail::output_node<T>>(name, n_, std::move(f)));
  }

  void check_partitions(int n, const char* op) const {
    if (n < 1)
      throw invalid_argument(std::string(op) + ": number of partitions must be >= 1, got "
                             + std::to_string(n));
  }

  int default_partitions(int n, const char* op) const {
    if (n == 0)
      return g_->parallelism();
    check_partitions(n, op);
    return n;
  }

  template <class U>
  void same_context_and_slide(const dstream<U>& other, const char* op) const {
    if (other.graph() != g_)
      throw invalid_argument(std::string(op) + ": the streams belong to different contexts");
    if (other.slide_duration() != slide_duration())
      throw invalid_argument("requirement failed: Some of the DStreams have different slide "
                             "durations (" + to_string(slide_duration()) + " and "
                             + to_string(other.slide_duration()) + ") in " + op);
  }

  template <class S, class F, class Init>
  auto update_state_impl(F f, int n, Init init) const;

  template <class F, class Inv, class Filter>
  dstream<detail::owned_key_t<T>> inverse_window(F f, Inv inv, duration w, duration s, int n,
                                                 Filter filter, bool filtered) const;

  template <class W, class Out, class Emit>
  auto cogroup_impl(const char* name, std::vector<detail::node_base*> parents, int n,
                    Emit emit) const;

  template <class W, class Out, class P, class Emit>
  auto two_sided(const char* name, const dstream<P>& other, int n, Emit emit) const;

  std::shared_ptr<detail::graph> g_;
  detail::node<T>* n_;
};

namespace detail {

/// The engine's (and the tests') way into a dstream: its node and graph.
struct dstream_access {
  template <class T>
  static node<T>* node(const dstream<T>& s) {
    return s.node();
  }
  template <class T>
  static const std::shared_ptr<detail::graph>& graph(const dstream<T>& s) {
    return s.graph();
  }
  /// Adds `n` (a node whose parent is in s's graph) and returns its stream.
  template <class U, class T, class N>
  static dstream<U> add(const dstream<T>& s, std::unique_ptr<N> n) {
    return s.template add<U>(std::move(n));
  }
  template <class T>
  static void output(const dstream<T>& s, const char* name,
                     std::type_identity_t<std::function<void(const rdd<T>&, batch_time)>> f) {
    s.output(name, std::move(f));
  }
};

} // namespace detail

} // namespace sluice

// The definitions of the longer members, by section; map_with_state_dstream.hpp
// defines map_with_state.
#include "sluice/dstream_windows.hpp"
#include "sluice/dstream_pairs.hpp"
#include "sluice/dstream_outputs.hpp"
#include "sluice/map_with_state_dstream.hpp"
