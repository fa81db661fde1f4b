// The DStream graph of one streaming_context: nodes in creation order (their
// ids) and the output operations in registration order.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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
/// job thread, read by slice() on any thread.
struct retention {
  std::mutex mtx;
  duration keep{0};
  std::map<int64_t, std::shared_ptr<const void>> batches;  ///< time -> rdd<T>
};

class graph {
 public:
  graph(duration batch, int parallelism) : batch_(batch), parallelism_(parallelism) {}

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
          std::lock_guard<std::mutex> guard{r->mtx};
          r->batches[t.ms] = std::make_shared<const rdd<T>>(data);
          r->batches.erase(r->batches.begin(), r->batches.upper_bound(t.ms - r->keep.count()));
        };
        return std::make_unique<output_node<T>>("remember", raw, keep);
      });
    nodes_.push_back(std::move(n));
    if (raw->kind() == node_kind::output)
      outputs_.push_back(raw);
    return raw;
  }

  void add_source(source_base* s) { sources_.push_back(s); }

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
  void enable_retention() {
    if (remember_.count() <= 0)
      return;
    auto factories = std::move(retainers_);
    for (auto& [id, make] : factories) {
      auto r = std::make_shared<retention>();
      r->keep = remember_;
      retentions_.emplace(id, r);
      add(make(r));
    }
  }

  /// Returns the retention of node `id`, or null without ssc.remember.
  std::shared_ptr<retention> retained(int id) const {
    auto i = retentions_.find(id);
    return i == retentions_.end() ? nullptr : i->second;
  }

  /// One line per node, in id order: what a checkpoint's graph fingerprint
  /// holds. The same program builds the same lines in every process and
  /// every build, so a restarted driver can match state to operators by id.
  /// A node with checkpointed state ends its line with its state types,
  /// " | key=string | state=int64" (FORMAT.md "Graph description").
  std::vector<std::string> describe() const {
    std::vector<std::string> out;
    for (auto& n : nodes_) {
      std::string line = std::to_string(n->id()) + " " + n->name() + " kind="
                         + std::to_string(static_cast<int>(n->kind())) + " slide="
                         + std::to_string(n->slide().count()) + " parents=";
      for (size_t i = 0; i < n->parents().size(); ++i)
        line += (i ? "," : "") + std::to_string(n->parents()[i]->id());
      if (n->partitions() > 0)
        line += " partitions=" + std::to_string(n->partitions());
      for (auto& [role, type] : n->state_types()) {
        line += type_separator;
        line += role + "=" + type;
      }
      out.push_back(std::move(line));
    }
    return out;
  }

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
inline std::string_view line_without_types(std::string_view line) {
  return line.substr(0, line.find(type_separator));
}

/// Returns nullopt when two graph descriptions have the same nodes, else a
/// message naming the first difference (for a refused recovery). State types
/// are left to state_type_difference.
inline std::optional<std::string> describe_difference(const std::vector<std::string>& saved,
                                                      const std::vector<std::string>& built) {
  for (size_t i = 0; i < std::max(saved.size(), built.size()); ++i) {
    if (i >= saved.size())
      return "the program builds an extra node: '" + built[i] + "'";
    if (i >= built.size())
      return "the checkpoint has a node the program no longer builds: '" + saved[i] + "'";
    if (line_without_types(saved[i]) != line_without_types(built[i]))
      return "node " + std::to_string(i) + " differs: the checkpoint has '" + saved[i]
             + "', the program builds '" + built[i] + "'";
  }
  return std::nullopt;
}

/// For two descriptions without a describe_difference: returns nullopt when
/// every node's state types are the same, else a message naming the first
/// node whose types changed and each changed type, e.g. "map_with_state
/// (operator 3): state type changed from int64 to int32". A saved line
/// without types (written before types were recorded) matches any types.
inline std::optional<std::string> state_type_difference(const std::vector<std::string>& saved,
                                                        const std::vector<std::string>& built) {
  // role -> type, in line order
  auto types_of = [](std::string_view line) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto at = line.find(type_separator); at != std::string_view::npos;) {
      line.remove_prefix(at + type_separator.size());
      at = line.find(type_separator);
      auto item = line.substr(0, at);
      auto eq = item.find('=');
      out.emplace_back(item.substr(0, eq),
                       eq == std::string_view::npos ? "" : item.substr(eq + 1));
    }
    return out;
  };
  for (size_t i = 0; i < std::min(saved.size(), built.size()); ++i) {
    auto before = types_of(saved[i]);
    if (before.empty())
      continue;
    auto after = types_of(built[i]);
    std::string changes;
    auto note = [&](const std::string& role, const std::string& from, const std::string& to) {
      changes += (changes.empty() ? "" : ", ") + role + " type changed from " + from + " to "
                 + to;
    };
    for (auto& [role, type] : before) {
      auto j = std::find_if(after.begin(), after.end(), [&](auto& a) { return a.first == role; });
      if (j == after.end())
        note(role, type, "none");
      else if (j->second != type)
        note(role, type, j->second);
    }
    for (auto& [role, type] : after)
      if (std::none_of(before.begin(), before.end(), [&](auto& b) { return b.first == role; }))
        note(role, "none", type);
    if (!changes.empty()) {
      // "<id> <name> kind=..."
      std::string_view line = built[i];
      auto name_at = line.find(' ') + 1;
      auto name = line.substr(name_at, line.find(' ', name_at) - name_at);
      return std::string{name} + " (operator " + std::to_string(i) + "): " + changes;
    }
  }
  return std::nullopt;
}

} // namespace sluice::detail
