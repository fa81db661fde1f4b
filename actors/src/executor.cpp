#include "sluice/executor.hpp"

#include "sluice/actor_probe.hpp"
#include "sluice/gather_actor.hpp"
#include "sluice/operator_actor.hpp"
#include "sluice/replace_atoms.hpp"

namespace sluice::detail {

namespace {

caf::actor host_slot(caf::stateful_actor<executor_state>* self, int stage, int slot) {
  auto& st = self->state;
  wiring_ptr shared = st.w;
  auto a = self->spawn<caf::monitored>(operator_actor, shared, stage, slot);
  st.hosted.emplace(a.address(), "stage " + std::to_string(stage) + " slot " + std::to_string(slot));
  st.slots.push_back(a);
  return a;
}

} // namespace

caf::behavior executor(caf::stateful_actor<executor_state>* self, std::shared_ptr<wiring> w,
                       std::function<void(const run_info&)> on_placed) {
  self->state.w = std::move(w);
  self->state.on_placed = std::move(on_placed);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.hosted.find(dm.source);
    if (i == st.hosted.end())
      return;
    auto what = i->second;
    st.hosted.erase(i);
    if (st.clearing.pending()) {
      if (st.hosted.empty())
        st.clearing.deliver(true);
      if (!st.stopping)
        return;
    }
    if (!st.stopping)
      self->send(st.w->scheduler, batch_failed{0, "operator actor (" + what + ") terminated: "
                                                    + caf::to_string(dm.reason)});
    else if (st.hosted.empty()) {
      st.stopped.deliver(true);
      self->quit();
    }
  });
  return {
    [=](introspect_atom) {
      // Every stage slot (in cluster mode, those on the workers too) and
      // every gather; a slot busy with a batch for longer is left out.
      auto& w = *self->state.w;
      std::vector<probe_target> children;
      for (size_t s = 0; s < w.stages.size(); ++s)
        for (size_t i = 0; i < w.stages[s].size(); ++i)
          children.push_back(
            {"stage " + std::to_string(s) + " slot " + std::to_string(i), w.stages[s][i], {}});
      for (size_t g = 0; g < w.gathers.size(); ++g)
        children.push_back({"gather " + std::to_string(g), w.gathers[g], {}});
      return report_with_children(self, "executor", std::move(children));
    },
    [=](start_atom, bool with_stages) -> int {
      auto& st = self->state;
      auto& layout = *st.w->layout;
      if (with_stages)
        for (auto& s : layout.stages) {
          std::vector<caf::actor> slots;
          for (int i = 0; i < s.slots; ++i)
            slots.push_back(host_slot(self, s.id, i));
          st.w->stages.push_back(std::move(slots));
        }
      wiring_ptr shared = st.w;
      for (auto& g : layout.gathers) {
        auto a = self->spawn<caf::monitored>(gather_actor, shared, g.id);
        st.hosted.emplace(a.address(), "gather " + std::to_string(g.id) + " '"
                                         + g.node->name() + "'");
        st.w->gathers.push_back(a);
      }
      return static_cast<int>(st.hosted.size());
    },
    [=](spawn_atom, placement_msg& m) -> caf::result<std::vector<caf::actor>> {
      auto& st = self->state;
      auto& layout = *st.w->layout;
      auto& w = *st.w;
      w.info.zero = batch_time{m.zero_ms};
      w.scheduler = m.scheduler;
      w.checkpoint_writer = m.checkpoint_writer;
      w.checkpoint_intervals_ms = m.checkpoint_intervals_ms;
      w.restore_from.reset();
      if (m.recovering)
        w.restore_from = m.restore_from;
      if (st.on_placed)
        st.on_placed(w.info);
      std::vector<caf::actor> out;
      for (size_t i = 0; i < m.stages.size() && i < m.slots.size(); ++i) {
        auto stage = m.stages[i];
        auto slot = m.slots[i];
        if (stage < 0 || static_cast<size_t>(stage) >= layout.stages.size() || slot < 0
            || slot >= layout.stages[static_cast<size_t>(stage)].slots)
          return caf::make_error(caf::sec::invalid_argument,
                                 "no stage " + std::to_string(stage) + " slot "
                                   + std::to_string(slot) + " in this worker's plan");
        out.push_back(host_slot(self, stage, slot));
      }
      return out;
    },
    [=](wire_atom, stage_table_msg& m) -> caf::result<bool> {
      auto& w = *self->state.w;
      size_t at = 0;
      w.stages.clear();
      for (auto n : m.slots) {
        if (n < 0 || at + static_cast<size_t>(n) > m.actors.size())
          return caf::make_error(caf::sec::invalid_argument, "malformed stage table");
        w.stages.emplace_back(m.actors.begin() + static_cast<std::ptrdiff_t>(at),
                              m.actors.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += static_cast<size_t>(n);
      }
      w.gathers = std::move(m.gathers);
      return true;
    },
    [=](clear_atom) -> caf::result<bool> {
      // A lost worker's share is placed again: everything hosted here goes
      // (its state and batches are restored and re-run from a checkpoint).
      auto& st = self->state;
      if (st.stopping || st.hosted.empty()) {
        st.slots.clear();
        return true;
      }
      st.clearing = self->make_response_promise();
      for (auto& [addr, what] : st.hosted)
        if (auto a = caf::actor_cast<caf::actor>(addr))
          self->send_exit(a, caf::exit_reason::user_shutdown);
      st.slots.clear();
      return st.clearing;
    },
    [=](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.stopping)
        return true;
      st.stopping = true;
      if (st.hosted.empty()) {
        self->quit();
        return true;
      }
      st.stopped = self->make_response_promise();
      // Everything hosted, not only the current slots: after a clear, the
      // actors of the slots cleared may still be on their way out.
      for (auto& [addr, what] : st.hosted)
        if (auto a = caf::actor_cast<caf::actor>(addr))
          self->send_exit(a, caf::exit_reason::user_shutdown);
      for (auto& a : st.w->gathers)
        self->send_exit(a, caf::exit_reason::user_shutdown);
      return st.stopped;
    },
  };
}

} // namespace sluice::detail
