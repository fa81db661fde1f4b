#include "ui/graph_view.hpp"

namespace sluice::detail::ui {

namespace {

graph_view::node node_of(const node_base& n) { return {n.id(), n.name()}; }

const char* input_name(stage_plan::input in) {
  switch (in) {
    case stage_plan::input::scatter: return "scatter";
    case stage_plan::input::forward: return "forward";
    case stage_plan::input::shuffle: return "shuffle";
  }
  return "?";
}

const char* consumer_name(consumer::kind k) {
  switch (k) {
    case consumer::kind::forward: return "forward";
    case consumer::kind::shuffle: return "shuffle";
    case consumer::kind::gather: return "gather";
  }
  return "?";
}

} // namespace

graph_view graph_view_of(const plan& p) {
  graph_view g;
  for (auto& s : p.stages) {
    graph_view::stage v;
    v.id = s.id;
    v.slots = s.slots;
    v.input = input_name(s.in);
    v.nodes.push_back(node_of(*s.head));
    for (auto* n : s.chain)
      v.nodes.push_back(node_of(*n));
    for (auto& c : s.consumers)
      v.consumers.push_back({consumer_name(c.what), c.target});
    if (s.head->stateful())
      v.stateful = node_of(*s.head);
    g.stages.push_back(std::move(v));
  }
  for (auto& gp : p.gathers) {
    std::vector<int> to;
    for (auto& c : gp.consumers)
      to.push_back(c.target);
    g.gathers.push_back(
      {gp.id, node_of(*gp.node), gp.stage, gp.node->checkpoints_history(), std::move(to)});
  }
  return g;
}

} // namespace sluice::detail::ui
