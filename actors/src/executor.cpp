#include "sluice/executor.hpp"

#include "sluice/gather_actor.hpp"
#include "sluice/operator_actor.hpp"

namespace sluice::detail {

caf::behavior executor(caf::stateful_actor<executor_state>* self, std::shared_ptr<wiring> w) {
  self->state.w = std::move(w);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.hosted.find(dm.source);
    if (i == st.hosted.end())
      return;
    auto what = i->second;
    st.hosted.erase(i);
    if (!st.stopping)
      self->send(st.w->scheduler, batch_failed{0, "operator actor (" + what + ") terminated: "
                                                    + caf::to_string(dm.reason)});
    else if (st.hosted.empty()) {
      st.stopped.deliver(true);
      self->quit();
    }
  });
  return {
    [=](start_atom) -> int {
      auto& st = self->state;
      auto& layout = *st.w->layout;
      wiring_ptr shared = st.w;
      for (auto& s : layout.stages) {
        std::vector<caf::actor> slots;
        for (int i = 0; i < s.slots; ++i) {
          auto a = self->spawn<caf::monitored>(operator_actor, shared, s.id, i);
          st.hosted.emplace(a.address(), "stage " + std::to_string(s.id) + " slot "
                                           + std::to_string(i));
          slots.push_back(a);
        }
        st.w->stages.push_back(std::move(slots));
      }
      for (auto& g : layout.gathers) {
        auto a = self->spawn<caf::monitored>(gather_actor, shared, g.id);
        st.hosted.emplace(a.address(), "gather " + std::to_string(g.id) + " '"
                                         + g.node->name() + "'");
        st.w->gathers.push_back(a);
      }
      return static_cast<int>(st.hosted.size());
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
      for (auto& row : st.w->stages)
        for (auto& a : row)
          self->send_exit(a, caf::exit_reason::user_shutdown);
      for (auto& a : st.w->gathers)
        self->send_exit(a, caf::exit_reason::user_shutdown);
      return st.stopped;
    },
  };
}

} // namespace sluice::detail
