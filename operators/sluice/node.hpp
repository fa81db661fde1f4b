// The DStream graph's nodes. A node is immutable once the context starts;
// the actors that run it create per-slot objects (emitters, gather ops) from it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/detail/erased.hpp"
#include "sluice/detail/traits.hpp"
#include "sluice/codec.hpp"
#include "sluice/state_rows.hpp"
#include "sluice/time.hpp"

// Emitters: the per-record push interface that fuses a chain of narrow
// operators into one pass over a partition (no intermediate vectors).
namespace sluice::detail {

/// Receives the records of one partition between open() and close().
class emitter_base {
 public:
  virtual ~emitter_base() = default;
  virtual void open(int32_t partition) = 0;
  virtual void close() = 0;
  /// A hint, after open(): about `n` more records will be pushed into this
  /// partition (a part's size, a Kafka offset range). Collectors and
  /// buffering steps reserve their vector once instead of growing it (each
  /// growth copies the records and touches fresh pages); one-to-one steps
  /// pass it on; others ignore it. Never required for correctness.
  virtual void expect(size_t /*n*/) {}
};

/// At most this many records are reserved on a hint: a range of offsets can
/// hold far fewer records (compaction, transaction markers).
inline constexpr size_t max_expected_records = size_t{1} << 20;

template <class T>
class collector;

template <class T>
class emitter : public emitter_base {
 public:
  virtual void push(T&& x) = 0;
  /// This emitter as a chain's collector, or null (a feeder hands a
  /// collector its parts whole; cheaper than a dynamic_cast per batch).
  virtual collector<T>* as_collector() { return nullptr; }
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
  void expect(size_t n) override {
    buf_.reserve(buf_.size() + std::min(n, max_expected_records));
  }
  void close() override {
    out_.push_back({current_, erase(std::move(buf_))});
    buf_ = {};
  }
  collector<T>* as_collector() override { return this; }
  emitter_base* input() override { return this; }
  parts take() override { return std::move(out_); }

  /// What open(index), a push of each record and close() would collect,
  /// without moving the records one by one into a fresh vector: a chain
  /// with no narrow step hands its parts over whole.
  void adopt(int32_t index, std::vector<T>&& records) {
    out_.push_back({index, erase(std::move(records))});
  }

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
  explicit feeder(emitter_base* first)
      : first_(static_cast<emitter<T>*>(first)), whole_(first_->as_collector()) {}
  void feed(part&& p) override {
    auto records = take<T>(p.data);
    if (whole_ != nullptr) {
      whole_->adopt(p.index, std::move(records));
      return;
    }
    first_->open(p.index);
    first_->expect(records.size());
    for (auto& x : records)
      first_->push(std::move(x));
    first_->close();
  }

 private:
  emitter<T>* first_;
  collector<T>* whole_; // first_ when it is the chain's collector (no narrow step)
};

} // namespace sluice::detail


namespace sluice::detail {

/// How the planner treats a node (DESIGN.md "Graph").
enum class node_kind : uint8_t {
  source = 1,  ///< generates a batch on the driver at every batch time
  narrow = 2,  ///< record- or partition-wise; fused into its parent's chain
  shuffle = 3, ///< hash-partitions its parents' records into reducers
  gather = 4,  ///< needs the whole batch (union, transform, count, windows)
  output = 5,  ///< an output operation; runs on the job thread
};

/// What a gather or output node makes of one batch.
struct gather_result {
  std::optional<parts> data;  ///< the node's batch; nullopt is Spark's None
  std::function<void()> job;  ///< output nodes: the output function to run
};

/// Per-actor instance of a gather or output node (it may keep history).
class gather_op {
 public:
  virtual ~gather_op() = default;
  /// Called once per parent batch time, in time order. `inputs` holds one
  /// entry per parent (nullopt where the parent had no batch).
  virtual gather_result compute(batch_time t, std::vector<std::optional<parts>>& inputs) = 0;

  /// The asynchronous variant, for nodes that wait on other actors (`via`).
  /// Returns false if the op is synchronous (then `compute` is used).
  /// Otherwise it calls exactly one of `done` or `fail`, later, on the thread
  /// of `actor` (the gather actor, a `caf::event_based_actor*`).
  virtual bool compute_async(batch_time, std::vector<std::optional<parts>>&, void* /*actor*/,
                             std::function<void(gather_result)> /*done*/,
                             std::function<void(std::string)> /*fail*/) {
    return false;
  }

  /// For nodes whose checkpoints_history() is true: appends the history
  /// changed since the last call (all of it when `full`) as keyed rows.
  virtual void checkpoint(bool /*full*/, state_rows& /*upserts*/,
                          std::vector<std::string>& /*removed*/) {}
  /// Replaces the history with what checkpoint() wrote (rows sorted by key).
  virtual void restore(const state_entries&) {}
};

/// Facts about the running context that node instances need.
struct run_info {
  batch_time zero;      ///< Spark's zeroTime: the first batch is zero + batch
  duration batch;       ///< the batch interval
  int parallelism = 1;  ///< the default parallelism (N of local[N])
};

/// The per-partition state of a stateful reducer; owned by its operator
/// actor. Concrete types live with their nodes.
class slot_state {
 public:
  virtual ~slot_state() = default;
  /// The keys the partition holds now (the web UI's state size).
  virtual size_t keys() const { return 0; }
};

/// What a stateful reducer makes of one batch time.
struct stateful_result {
  bool emit = false;           ///< false: the node has no batch at t (not a valid time)
  std::optional<erased> data;  ///< with emit: the partition, or nullopt for None
};

class node_base {
 public:
  // The constructor, the destructor and the default implementations below
  // that build or destroy std containers live in operators/src/node.cpp, so
  // that each user of <sluice/sluice.hpp> does not instantiate them.

  node_base(node_kind kind, std::string name, duration slide, std::vector<node_base*> parents);
  virtual ~node_base();

  node_kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  duration slide() const { return slide_; }
  const std::vector<node_base*>& parents() const { return parents_; }
  int id() const { return id_; }
  void id(int x) { id_ = x; }
  /// "name (operator id)", as errors name an operator.
  std::string label() const { return name_ + " (operator " + std::to_string(id_) + ")"; }

  /// Returns whether the node has a batch at `t` (Spark's isTimeValid).
  bool valid_at(batch_time t, batch_time zero) const {
    return t > zero && (t - zero).count() % slide_.count() == 0;
  }

  // -- typed services, implemented by node<T> --------------------------------

  virtual std::unique_ptr<feeder_base> make_feeder(emitter_base*) const;
  virtual std::unique_ptr<collector_base> make_collector() const;
  /// Returns the number of records in a partition of this node's type.
  virtual size_t records(const erased&) const;
  /// Why this node's records cannot travel as bytes (a record type without
  /// a sluice::codec), or empty.
  virtual std::string record_codec_problem() const;
  /// Shuffle nodes: why the buckets their writers send cannot travel as
  /// bytes, or empty (buckets of the parent's records are checked there).
  virtual std::string bucket_codec_problem() const;
  /// "its record type X holds views" when the records view what another
  /// record holds (sluice::holds_views), or empty. start() lets such records
  /// flow only within their stage's fused pass.
  virtual std::string record_view_problem() const { return {}; }

  // -- narrow nodes -----------------------------------------------------------

  /// Returns an emitter of the parent's type that pushes into `down`.
  virtual std::unique_ptr<emitter_base> wrap(emitter_base*) const;

  // -- shuffle nodes ----------------------------------------------------------

  /// The number of reducer partitions.
  virtual int partitions() const { return 0; }
  /// Returns the map-side writer for records of parent `port`.
  virtual std::unique_ptr<bucket_writer_base> make_writer(size_t) const;
  /// Merges the buckets that every sender wrote for one reducer, per port.
  virtual erased reduce(std::vector<std::vector<erased>>&) const;
  /// True if the map-side writer takes its parent's records within the
  /// producing stage's pass and keeps only owning copies of what they view
  /// (combine_by_key), so records that view may flow into it.
  virtual bool owns_what_parents_view() const { return false; }

  // -- stateful reducers (update_state_by_key, map_with_state, inverse windows)

  /// True if the reducer keeps per-partition state across batches.
  virtual bool stateful() const { return false; }
  /// Returns the state of partition `slot` (called once per operator actor).
  /// `restoring`: restore_state follows with a checkpoint's state, which
  /// replaces whatever this holds, so an operator's initial state is not
  /// loaded (Spark applies it only to a run that starts without one).
  virtual std::unique_ptr<slot_state> make_slot_state(int slot, const run_info&,
                                                      bool restoring) const;
  /// True if make_slot_state loads an initial state the node keeps
  /// (update_state_by_key's initial RDD, StateSpec.initialState).
  virtual bool keeps_initial_state() const { return false; }
  /// Drops that initial state once every partition has stored a state
  /// checkpoint that any later placement restores from; a partition made
  /// without `restoring` then throws. Safe beside make_slot_state.
  virtual void release_initial_state() const {}
  /// The stateful reduce: called at every batch time of the parent, in time
  /// order. `parent_none` means the parent had no batch at t.
  virtual stateful_result reduce_at(batch_time, bool parent_none,
                                    std::vector<std::vector<erased>>&, slot_state*,
                                    const run_info&) const;
  /// True if start() must refuse to run without ssc.checkpoint(dir).
  virtual bool requires_checkpoint() const { return false; }
  /// The state checkpoint interval when dstream::checkpoint did not set one.
  virtual duration default_checkpoint_interval() const { return duration{0}; }
  /// Appends the partition's state changed since the last call (all of it
  /// when `full`) as codec bytes, and marks it checkpointed. Returns false
  /// when the node keeps no checkpointable state.
  virtual bool checkpoint_state(slot_state*, bool full, state_rows& upserts,
                                std::vector<std::string>& removed) const;
  /// Restores a partition's state from what checkpoint_state wrote (rows
  /// sorted by key).
  virtual void restore_state(slot_state*, const state_entries&) const;
  /// Restores a partition's state from the checkpoint chunks a restore
  /// reads (checkpoint_store::read_state_chunks: StateCheckpointChunk
  /// payloads in the order they apply). By default folds them into sorted
  /// rows for restore_state; a node whose state is a hash table applies
  /// them in order instead (no sorted copy of every key).
  virtual void restore_state_chunks(slot_state*, const std::vector<std::string>& chunks) const;

  /// True for gathers that keep history across batches which must survive a
  /// recovery (windows): their gather_op checkpoints it.
  virtual bool checkpoints_history() const { return false; }
  /// True if recovery restores state of this node from state checkpoints.
  bool has_checkpointed_state() const { return stateful() || checkpoints_history(); }
  /// Why this node's state cannot be checkpointed (a type without a
  /// sluice::codec), or empty. start() refuses a checkpointed context then.
  virtual std::string checkpoint_codec_problem() const;
  /// The types whose codec bytes this node's checkpointed state holds, as
  /// (role, codec_type_name) pairs, e.g. {{"key", "string"}, {"state",
  /// "int64"}}: the graph description records them so a recovery refuses a
  /// changed type (FORMAT.md "Graph description"). Empty without state.
  virtual std::vector<std::pair<std::string, std::string>> state_types() const;

  /// The checkpoint interval set by dstream::checkpoint, or zero.
  duration checkpoint_interval() const { return checkpoint_interval_; }
  void checkpoint_interval(duration d) { checkpoint_interval_ = d; }

  // -- gather and output nodes ------------------------------------------------

  virtual std::unique_ptr<gather_op> make_gather(const run_info&) const;
  /// True when a stage that sends this gather a partition on `port` may send
  /// partial(port, records) in its place, so the partition's records need
  /// not travel to the gather (count: the record count, as Spark counts each
  /// partition where it is computed). The gather accepts either form.
  virtual bool takes_partial(int /*port*/) const { return false; }
  /// What stands for `records` (a partition of the parent on `port`) when
  /// takes_partial(port). Moves the records out only when `records` is their
  /// sole owner (other consumers may share them).
  virtual erased partial(int port, erased records) const;

 private:
  /// Throws std::logic_error: "node '<name>' does not support <what>".
  [[noreturn]] void fail(const char* what) const;

  node_kind kind_;
  std::string name_;
  duration slide_;
  std::vector<node_base*> parents_;
  int id_ = -1;
  duration checkpoint_interval_{0};
};

/// A node whose records are of type T.
template <class T>
class node : public node_base {
 public:
  using value_type = T;
  using node_base::node_base;

  std::unique_ptr<feeder_base> make_feeder(emitter_base* first) const override {
    return std::make_unique<feeder<T>>(first);
  }
  std::unique_ptr<collector_base> make_collector() const override {
    return std::make_unique<collector<T>>();
  }
  size_t records(const erased& e) const override { return e ? view<T>(e).size() : 0; }
  std::string record_codec_problem() const override {
    if constexpr (encodable<std::vector<T>>)
      return {};
    else
      return "its record type " + demangle(typeid(T).name()) + " has no sluice::codec";
  }
  std::string record_view_problem() const override {
    if constexpr (holds_views<T>)
      return "its record type " + demangle(typeid(T).name()) + " holds views";
    else
      return {};
  }
};

} // namespace sluice::detail
