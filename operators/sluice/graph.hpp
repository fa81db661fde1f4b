// The DStream graph of one streaming_context: nodes in creation order (their
// ids) and the output operations in registration order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sluice/errors.hpp"
#include "sluice/node.hpp"
#include "sluice/output.hpp"

namespace sluice::detail {

class source_base;

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

/// Returns nullopt when two graph descriptions are equal, else a message
/// naming the first difference (for a refused recovery).
inline std::optional<std::string> describe_difference(const std::vector<std::string>& saved,
                                                      const std::vector<std::string>& built) {
  for (size_t i = 0; i < std::max(saved.size(), built.size()); ++i) {
    if (i >= saved.size())
      return "the program builds an extra node: '" + built[i] + "'";
    if (i >= built.size())
      return "the checkpoint has a node the program no longer builds: '" + saved[i] + "'";
    if (saved[i] != built[i])
      return "node " + std::to_string(i) + " differs: the checkpoint has '" + saved[i]
             + "', the program builds '" + built[i] + "'";
  }
  return std::nullopt;
}

} // namespace sluice::detail
