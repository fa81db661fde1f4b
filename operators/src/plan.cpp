#include "sluice/plan.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace sluice::detail {

plan make_plan(const graph& g, bool chaining) {
  plan result;
  auto& nodes = g.nodes();
  // Needed nodes: those an output operation depends on.
  std::vector<bool> needed(nodes.size(), false);
  std::vector<node_base*> todo(g.outputs().begin(), g.outputs().end());
  while (!todo.empty()) {
    auto* n = todo.back();
    todo.pop_back();
    if (needed[static_cast<size_t>(n->id())])
      continue;
    needed[static_cast<size_t>(n->id())] = true;
    for (auto* p : n->parents())
      todo.push_back(p);
  }
  std::vector<std::vector<std::pair<node_base*, int>>> consumers(nodes.size());
  for (auto& n : nodes)
    if (needed[static_cast<size_t>(n->id())])
      for (size_t port = 0; port < n->parents().size(); ++port)
        consumers[static_cast<size_t>(n->parents()[port]->id())].emplace_back(
          n.get(), static_cast<int>(port));

  std::map<int, int> stage_of_tail;  // node id -> stage whose tail it is
  std::map<int, int> stage_of_head;  // source/gather/shuffle/narrow-start -> stage
  std::map<int, int> gather_of;      // node id -> gather id
  std::vector<int> direct;           // gathers sending straight to gathers
  auto new_stage = [&](stage_plan::input in, node_base* head, int slots) -> stage_plan& {
    stage_plan s;
    s.in = in;
    s.id = static_cast<int>(result.stages.size());
    s.head = head;
    s.slots = slots;
    result.stages.push_back(std::move(s));
    result.units.push_back({true, result.stages.back().id});
    return result.stages.back();
  };
  for (auto& up : nodes) {
    auto* n = up.get();
    if (!needed[static_cast<size_t>(n->id())])
      continue;
    switch (n->kind()) {
      case node_kind::source: {
        auto& s = new_stage(stage_plan::input::scatter, n, g.parallelism());
        s.expected = {1};
        stage_of_tail[n->id()] = stage_of_head[n->id()] = s.id;
        result.sources.emplace_back(n, s.id);
        break;
      }
      case node_kind::shuffle: {
        auto& s = new_stage(stage_plan::input::shuffle, n, n->partitions());
        s.expected.assign(n->parents().size(), 0);
        stage_of_tail[n->id()] = stage_of_head[n->id()] = s.id;
        break;
      }
      case node_kind::gather:
      case node_kind::output: {
        gather_plan gp;
        gp.id = static_cast<int>(result.gathers.size());
        gp.node = n;
        gp.expected.assign(n->parents().size(), 0);
        result.gathers.push_back(gp);
        result.units.push_back({false, gp.id});
        gather_of[n->id()] = gp.id;
        auto& users = consumers[static_cast<size_t>(n->id())];
        bool to_gathers_only = std::all_of(users.begin(), users.end(), [](auto& c) {
          return c.first->kind() == node_kind::gather || c.first->kind() == node_kind::output;
        });
        if (n->kind() == node_kind::output) {
          result.outputs.push_back(gp.id);
        } else if (to_gathers_only) {
          direct.push_back(gp.id);  // wired below, once its consumers have gathers
        } else {
          auto& s = new_stage(stage_plan::input::scatter, n, g.parallelism());
          s.expected = {1};
          result.gathers[static_cast<size_t>(gp.id)].stage = s.id;
          stage_of_tail[n->id()] = stage_of_head[n->id()] = s.id;
        }
        break;
      }
      case node_kind::narrow: {
        auto* p = n->parents()[0];
        int ps = stage_of_tail.at(p->id());
        if (chaining && consumers[static_cast<size_t>(p->id())].size() == 1) {
          result.stages[static_cast<size_t>(ps)].chain.push_back(n);
          stage_of_tail.erase(p->id());
          stage_of_tail[n->id()] = ps;
        } else {
          int slots = result.stages[static_cast<size_t>(ps)].slots;
          auto& s = new_stage(stage_plan::input::forward, p, slots);
          s.expected = {1};
          s.chain.push_back(n);
          stage_of_tail[n->id()] = stage_of_head[n->id()] = s.id;
        }
        break;
      }
    }
  }
  // Wire each stage's tail to its consumers.
  for (auto& s : result.stages) {
    auto* tail = s.tail();
    for (auto [c, port] : consumers[static_cast<size_t>(tail->id())]) {
      switch (c->kind()) {
        case node_kind::narrow:
          if (!s.chain.empty() && std::find(s.chain.begin(), s.chain.end(), c) != s.chain.end())
            break; // fused into this stage
          s.consumers.push_back({consumer::kind::forward, stage_of_head.at(c->id()), port});
          break;
        case node_kind::shuffle: {
          int target = stage_of_head.at(c->id());
          s.consumers.push_back({consumer::kind::shuffle, target, port});
          result.stages[static_cast<size_t>(target)].expected[static_cast<size_t>(port)]
            += s.slots;
          break;
        }
        case node_kind::gather:
        case node_kind::output: {
          int target = gather_of.at(c->id());
          s.consumers.push_back({consumer::kind::gather, target, port});
          result.gathers[static_cast<size_t>(target)].expected[static_cast<size_t>(port)]
            += s.slots;
          break;
        }
        case node_kind::source:
          break;
      }
    }
  }
  for (int id : direct) {
    auto& gp = result.gathers[static_cast<size_t>(id)];
    for (auto [c, port] : consumers[static_cast<size_t>(gp.node->id())]) {
      int target = gather_of.at(c->id());
      gp.consumers.push_back({consumer::kind::gather, target, port});
      result.gathers[static_cast<size_t>(target)].expected[static_cast<size_t>(port)] += 1;
    }
  }
  return result;
}

} // namespace sluice::detail
