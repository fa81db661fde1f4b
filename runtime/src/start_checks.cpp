// start()'s checks of a plan: stateful nodes, records that view and record codecs.
#include "context_impl.hpp"

#include <algorithm>

#include "sluice/error.hpp"

namespace sluice::detail {

namespace {

/// "map (operator 2)": how a refusal names a node.
std::string describe(const node_base& n) {
  return n.name() + " (operator " + std::to_string(n.id()) + ")";
}

void require(const node_base& n, const std::string& problem, const std::string& why) {
  if (!problem.empty())
    throw illegal_state(describe(n) + ": " + problem + " (" + why + ")");
}

} // namespace

void context_impl::validate_state(const plan& layout) const {
  std::vector<node_base*> planned;
  for (auto& s : layout.stages) {
    planned.push_back(s.head);
    planned.insert(planned.end(), s.chain.begin(), s.chain.end());
  }
  for (auto& gp : layout.gathers)
    planned.push_back(gp.node);
  for (auto* n : planned) {
    if (n->requires_checkpoint() && !checkpoint_dir)
      throw illegal_state(describe(*n)
                          + " needs a checkpoint directory: call ssc.checkpoint(dir) before "
                            "start()");
    if (checkpoint_dir && n->has_checkpointed_state())
      if (auto problem = n->checkpoint_codec_problem(); !problem.empty())
        throw illegal_state(describe(*n) + ": " + problem
                            + " (the context has a checkpoint directory)");
    auto interval = n->checkpoint_interval();
    if (interval.count() == 0)
      continue;
    if (interval < n->slide())
      throw invalid_argument("requirement failed: The checkpoint interval for " + n->name()
                             + " has been set to " + to_string(interval)
                             + " which is lower than its slide time (" + to_string(n->slide())
                             + ")");
    if (interval.count() % n->slide().count() != 0)
      throw invalid_argument("requirement failed: The checkpoint interval for " + n->name()
                             + " has been set to " + to_string(interval)
                             + " which not a multiple of its slide time ("
                             + to_string(n->slide()) + ")");
  }
}

void context_impl::validate_codecs(const plan& layout) const {
  if (!net->always_bytes() && cluster.what == cluster_spec::mode::local)
    return;
  std::string why = net->always_bytes()
                      ? "sluice.serializer.local=true sends every partition between actors as "
                        "codec bytes"
                      : "cluster mode (master " + cfg.master()
                          + ") sends partitions between processes as codec bytes";
  // Records cross an actor boundary where a source or a gather scatters
  // into a stage (or a gather sends to gathers), where a stage sends to its
  // consumers, and as the buckets of a shuffle; narrow nodes fused inside a
  // stage never leave it.
  for (auto& [node, stage] : layout.sources)
    require(*node, node->record_codec_problem(), why);
  for (auto& gp : layout.gathers)
    if (gp.stage >= 0 || !gp.consumers.empty())
      require(*gp.node, gp.node->record_codec_problem(), why);
  for (auto& sp : layout.stages) {
    // A gather that takes partials (count, reduce) receives them, not the
    // records; a combine_by_key's writer keeps owning copies of keys, and
    // its buckets are checked at its stage.
    bool records_leave = std::any_of(sp.consumers.begin(), sp.consumers.end(), [&](auto& c) {
      switch (c.what) {
        case consumer::kind::gather:
          return !layout.target_node(c)->takes_partial(c.port);
        case consumer::kind::shuffle:
          return !layout.target_node(c)->owns_what_parents_view();
        default:
          return true;
      }
    });
    if (records_leave)
      require(*sp.tail(), sp.tail()->record_codec_problem(), why);
    if (sp.in == stage_plan::input::shuffle)
      require(*sp.head, sp.head->bucket_codec_problem(), why);
  }
}

void context_impl::validate_views(const plan& layout) const {
  // A record that views (std::string_view into a line) is valid while the
  // record it views is: inside the fused pass of the stage that made it,
  // where each input record lives until what came of it is pushed on. Past
  // the stage's tail the records are collected (for outputs, gathers,
  // forwards, shuffles that keep records, codec bytes) and the input is gone,
  // except into a single consumer that combines in the pass and keeps owning
  // copies.
  auto refuse = [](const node_base& n, const std::string& problem, const std::string& where) {
    throw illegal_state(describe(n) + ": " + problem
                        + ", and its records would outlive what they view: " + where
                        + ". Map them to owning types first (sluice::owned_t), or combine them "
                          "by key in the same stage (reduce_by_key, combine_by_key, "
                          "count_by_value keep owning keys)");
  };
  for (auto& sp : layout.stages) {
    auto* tail = sp.tail();
    auto problem = tail->record_view_problem();
    if (problem.empty())
      continue;
    if (sp.consumers.size() == 1) {
      auto& c = sp.consumers[0];
      auto* target = layout.target_node(c);
      if (c.what == consumer::kind::shuffle && target->owns_what_parents_view())
        continue;
      if (c.what == consumer::kind::forward)
        refuse(*tail, problem,
               "they would be sent to the next stage (the operator after it is not fused "
               "into its stage: sluice.streaming.operatorChaining is false)");
      refuse(*tail, problem,
             describe(*target)
               + (c.what == consumer::kind::shuffle ? " would keep them past their stage"
                                                    : " would receive them after their stage"));
    }
    refuse(*tail, problem,
           sp.consumers.empty() ? "nothing consumes them in their stage"
                                : std::to_string(sp.consumers.size())
                                    + " operators consume them, so they would be kept for each");
  }
  for (auto& gp : layout.gathers)
    if (auto problem = gp.node->record_view_problem();
        !problem.empty() && (gp.stage >= 0 || !gp.consumers.empty()))
      refuse(*gp.node, problem, "it sends them to other operators");
}

} // namespace sluice::detail
