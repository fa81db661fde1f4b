#include "sluice/block_generator.hpp"

#include "sluice/actor_probe.hpp"

namespace sluice::detail {

caf::behavior block_generator(caf::stateful_actor<block_generator_state>* self,
                              std::shared_ptr<block_source> source, caf::actor manager,
                              std::chrono::milliseconds interval, std::shared_ptr<transport> net) {
  auto& st = self->state;
  st.source = std::move(source);
  st.manager = std::move(manager);
  st.interval = interval;
  st.net = std::move(net);
  self->delayed_send(self, interval, tick_atom::value);
  return {
    [=](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
    [=](tick_atom) {
      auto& st = self->state;
      if (auto b = st.source->cut())
        caf::anon_send(st.manager, pack(std::move(*b), *st.net, st.manager)); // the manager's reply is not needed
      self->delayed_send(self, st.interval, tick_atom::value);
    },
    [=](flush_atom) -> caf::result<bool> {
      auto& st = self->state;
      auto b = st.source->cut(true);
      if (!b)
        return true;
      auto rp = self->make_response_promise<bool>();
      self->request(st.manager, caf::infinite, pack(std::move(*b), *st.net, st.manager))
        .then([rp](bool ok) mutable { rp.deliver(ok); },
              [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
  };
}

} // namespace sluice::detail
