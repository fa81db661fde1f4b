// start()'s checks of a plan: stateful nodes and record codecs.
#include "context_impl.hpp"

#include <algorithm>

#include "sluice/error.hpp"

namespace sluice::detail {

namespace {

void require(const node_base& n, const std::string& problem, const std::string& why) {
  if (!problem.empty())
    throw illegal_state(n.name() + " (operator " + std::to_string(n.id()) + "): " + problem
                        + " (" + why + ")");
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
      throw illegal_state(n->name() + " (operator " + std::to_string(n->id())
                          + ") needs a checkpoint directory: call ssc.checkpoint(dir) before "
                            "start()");
    if (checkpoint_dir && n->has_checkpointed_state())
      if (auto problem = n->checkpoint_codec_problem(); !problem.empty())
        throw illegal_state(n->name() + " (operator " + std::to_string(n->id()) + "): "
                            + problem + " (the context has a checkpoint directory)");
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
  // into a stage (or a gather sends to gathers), where a stage sends to its consumers, and as the buckets
  // of a shuffle; narrow nodes fused inside a stage never leave it.
  for (auto& [node, stage] : layout.sources)
    require(*node, node->record_codec_problem(), why);
  for (auto& gp : layout.gathers)
    if (gp.stage >= 0 || !gp.consumers.empty())
      require(*gp.node, gp.node->record_codec_problem(), why);
  for (auto& sp : layout.stages) {
    // A gather that takes partials (count, reduce) receives them, not the records.
    bool records_leave = std::any_of(sp.consumers.begin(), sp.consumers.end(), [&](auto& c) {
      return c.what != consumer::kind::gather
             || !layout.gathers[static_cast<size_t>(c.target)].node->takes_partial(c.port);
    });
    if (records_leave)
      require(*sp.tail(), sp.tail()->record_codec_problem(), why);
    if (sp.in == stage_plan::input::shuffle)
      require(*sp.head, sp.head->bucket_codec_problem(), why);
  }
}

} // namespace sluice::detail
