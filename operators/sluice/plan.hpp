// The planner: turns the graph into stages (fused narrow chains, one actor per
// partition slot) and gathers (one actor each), as DESIGN.md "Graph" describes.
#pragma once

#include <memory>
#include <vector>

#include "sluice/graph.hpp"

namespace sluice::detail {

/// Owns the emitters of one fused chain, built for one batch in one slot.
/// (Here rather than in node.hpp: only the engine builds chains.)
struct chain {
  std::unique_ptr<feeder_base> head;
  std::vector<std::unique_ptr<emitter_base>> links;
  std::unique_ptr<collector_base> collect;       // set when the chain ends in parts
  std::unique_ptr<bucket_writer_base> buckets;   // set when it ends in a shuffle
};

/// Where a stage or gather sends its output for a batch.
struct consumer {
  enum class kind : uint8_t { forward, shuffle, gather } what;
  int target;  ///< stage id (forward, shuffle) or gather id
  int port;    ///< parent index at the target node
};

struct stage_plan {
  /// forward: one message from the same slot of the parent stage; scatter:
  /// one message from a source or gather; shuffle: one bucket per sender.
  enum class input : uint8_t { scatter, forward, shuffle } in;
  int id = 0;
  int slots = 1;
  node_base* head = nullptr;       ///< produces the records the chain starts with
  std::vector<node_base*> chain;   ///< fused narrow nodes, in order
  std::vector<int> expected;       ///< per port: messages per batch and slot
  std::vector<consumer> consumers;

  node_base* tail() const { return chain.empty() ? head : chain.back(); }
};

struct gather_plan {
  int id = 0;
  node_base* node = nullptr;
  std::vector<int> expected;  ///< per port: messages per batch
  /// The stage it scatters into, or -1: an output has none, and neither has
  /// a gather whose every consumer is a gather (count() -> foreach_rdd), which
  /// sends its result to them itself, one message each (`consumers`, all of
  /// kind gather), instead of through a stage of partitions that would only
  /// pass it on (two actor hops a batch, two network hops in cluster mode).
  int stage = -1;
  std::vector<consumer> consumers;
};

/// A stage or a gather, in creation order (consumers come later).
struct unit {
  bool is_stage;
  int index;
};

struct plan {
  std::vector<stage_plan> stages;
  std::vector<gather_plan> gathers;
  std::vector<unit> units;
  std::vector<std::pair<node_base*, int>> sources;  ///< source node and its stage
  std::vector<int> outputs;                          ///< gather ids, registration order

  /// The node `c`'s records go to: its stage's head (forward, shuffle) or its
  /// gather's node.
  node_base* target_node(const consumer& c) const {
    return c.what == consumer::kind::gather ? gathers[static_cast<size_t>(c.target)].node
                                            : stages[static_cast<size_t>(c.target)].head;
  }
};

/// Plans `g`. With `chaining` off, every narrow node gets its own stage.
plan make_plan(const graph& g, bool chaining);

} // namespace sluice::detail
