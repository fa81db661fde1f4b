// The DStream graph of one streaming_context: nodes in creation order (their
// ids) and the output operations in registration order.
#pragma once

#include <memory>
#include <vector>

#include "sluice/errors.hpp"
#include "sluice/node.hpp"

namespace sluice::detail {

class source_base;

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

 private:
  duration batch_;
  int parallelism_;
  bool started_ = false;
  std::vector<std::unique_ptr<node_base>> nodes_;
  std::vector<node_base*> outputs_;
  std::vector<source_base*> sources_;
};

} // namespace sluice::detail
