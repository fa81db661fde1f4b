// The DStream graph of one streaming_context: nodes in creation order (their
// ids) and the output operations in registration order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/node.hpp"
#include "sluice/rdd.hpp"

// Output operations: their function runs on the job thread, in the order
// the program registered them, once the batch's data is complete.
namespace sluice::detail {

template <class T>
class output_node final : public node_base {
 public:
  using function = std::function<void(const rdd<T>&, batch_time)>;

  output_node(std::string name, node_base* parent, function f)
      : node_base(node_kind::output, std::move(name), parent->slide(), {parent}),
        f_(std::move(f)) {}

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    struct op final : gather_op {
      function f;
      int parallelism;
      op(function fn, int p) : f(std::move(fn)), parallelism(p) {}
      gather_result compute(batch_time t, std::vector<std::optional<parts>>& in) override {
        if (!in[0])
          return {};
        auto r = rdd<T>::from_parts(std::move(*in[0]), parallelism);
        return {std::nullopt, [f = f, r = std::move(r), t] { f(r, t); }};
      }
    };
    return std::make_unique<op>(f_, info.parallelism);
  }

 private:
  function f_;
};

} // namespace sluice::detail


namespace sluice::detail {

class source_base;

/// Separates a graph description line from each of its state types.
inline constexpr std::string_view type_separator = " | ";

/// The batches one node remembers for slice() (ssc.remember). Written on the
/// job thread, read by slice() on any thread. Defined in operators/src/graph.cpp
/// (it holds a mutex), reached through retain() and graph::slice().
struct retention;

/// Keeps `batch` (an rdd<T>) as the batch at `t` and forgets those older
/// than the retention's span. Thread-safe.
void retain(retention& r, batch_time t, std::shared_ptr<const void> batch);

class graph {
 public:
  // Constructor, destructor and add_source are out of line (graph.cpp): inline,
  // they would instantiate the members' containers in every includer.
  graph(duration batch, int parallelism);
  ~graph();

  /// Adds a node and returns it. Throws illegal_state once started (SEMANTICS §1.8).
  template <class N>
  N* add(std::unique_ptr<N> n) {
    if (started_)
      throw illegal_state("Adding new inputs, transformations, and output operations after "
                          "starting a context is not supported (node '" + n->name() + "')");
    auto* raw = n.get();
    raw->id(static_cast<int>(nodes_.size()));
    if constexpr (requires { typename N::value_type; })
      retainers_.emplace(raw->id(), [raw](std::shared_ptr<retention> r) -> std::unique_ptr<node_base> {
        using T = typename N::value_type;
        auto keep = [r](const rdd<T>& data, batch_time t) {
          retain(*r, t, std::make_shared<const rdd<T>>(data));
        };
        return std::make_unique<output_node<T>>("remember", raw, keep);
      });
    nodes_.push_back(std::move(n));
    if (raw->kind() == node_kind::output)
      outputs_.push_back(raw);
    return raw;
  }

  void add_source(source_base* s);

  const std::vector<std::unique_ptr<node_base>>& nodes() const { return nodes_; }
  const std::vector<node_base*>& outputs() const { return outputs_; }
  const std::vector<source_base*>& sources() const { return sources_; }
  duration batch() const { return batch_; }
  int parallelism() const { return parallelism_; }
  bool started() const { return started_; }
  void mark_started() { started_ = true; }

  /// ssc.remember(d): every node existing at start keeps its batches of the
  /// last `d` for slice().
  void remember(duration d) { remember_ = d; }
  duration remember() const { return remember_; }

  /// Adds the hidden outputs that feed the retentions. Called once by start().
  void enable_retention();

  /// Returns the retention of node `id`, or null without ssc.remember.
  std::shared_ptr<retention> retained(int id) const;

  /// The batches node `id` (named `name`, of slide `slide`) remembers for
  /// times from..to, both included, aligned down to the slide, as rdd<T>s of
  /// its record type, in time order (dstream::slice, SEMANTICS §1.7). Throws
  /// illegal_state before start() or without ssc.remember.
  std::vector<std::shared_ptr<const void>> slice(int id, const std::string& name,
                                                 duration slide, batch_time from,
                                                 batch_time to) const;

  /// One line per node, in id order: what a checkpoint's graph fingerprint
  /// holds. The same program builds the same lines in every process and
  /// every build, so a restarted driver can match state to operators by id.
  /// A node with checkpointed state ends its line with its state types,
  /// " | key=string | state=int64" (FORMAT.md "Graph description").
  std::vector<std::string> describe() const;

  batch_time zero() const { return zero_; }
  void zero(batch_time t) { zero_ = t; }

 private:
  duration batch_;
  int parallelism_;
  bool started_ = false;
  duration remember_{0};
  batch_time zero_;
  std::map<int, std::function<std::unique_ptr<node_base>(std::shared_ptr<retention>)>> retainers_;
  std::map<int, std::shared_ptr<retention>> retentions_;
  std::vector<std::unique_ptr<node_base>> nodes_;
  std::vector<node_base*> outputs_;
  std::vector<source_base*> sources_;
};

/// Returns a description line without its state types.
std::string_view line_without_types(std::string_view line);

/// Returns nullopt when two graph descriptions have the same nodes, else a
/// message naming the first difference (for a refused recovery). State types
/// are left to state_type_difference.
std::optional<std::string> describe_difference(const std::vector<std::string>& saved,
                                               const std::vector<std::string>& built);

/// For two descriptions without a describe_difference: returns nullopt when
/// every node's state types are the same, else a message naming the first
/// node whose types changed and each changed type, e.g. "map_with_state
/// (operator 3): state type changed from int64 to int32". A saved line
/// without types (written before types were recorded) matches any types.
std::optional<std::string> state_type_difference(const std::vector<std::string>& saved,
                                                 const std::vector<std::string>& built);

} // namespace sluice::detail
