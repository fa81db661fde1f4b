// start()'s check that records can travel as bytes where they must.
#include "context_impl.hpp"

#include "sluice/errors.hpp"

namespace sluice::detail {

namespace {

void require(const node_base& n, const std::string& problem, const char* why) {
  if (!problem.empty())
    throw illegal_state(n.name() + " (operator " + std::to_string(n.id()) + "): " + problem
                        + " (" + why + ")");
}

} // namespace

void context_impl::validate_codecs(const plan& layout) const {
  if (!net->always_bytes())
    return;
  const char* why = "sluice.serializer.local=true sends every partition between actors as "
                    "codec bytes";
  // Records cross an actor boundary where a source or a gather scatters
  // into a stage, where a stage sends to its consumers, and as the buckets
  // of a shuffle; narrow nodes fused inside a stage never leave it.
  for (auto& [node, stage] : layout.sources)
    require(*node, node->record_codec_problem(), why);
  for (auto& gp : layout.gathers)
    if (gp.stage >= 0)
      require(*gp.node, gp.node->record_codec_problem(), why);
  for (auto& sp : layout.stages) {
    if (!sp.consumers.empty())
      require(*sp.tail(), sp.tail()->record_codec_problem(), why);
    if (sp.in == stage_plan::input::shuffle)
      require(*sp.head, sp.head->bucket_codec_problem(), why);
  }
}

} // namespace sluice::detail
