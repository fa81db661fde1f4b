#include "sluice/cluster_worker.hpp"

#include "sluice/cluster_auth.hpp"
#include "sluice/cluster_driver.hpp"

namespace sluice::detail {

namespace {

using self_ptr = caf::stateful_actor<cluster_worker_state>*;

void finish(self_ptr self, int status, std::string why) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  st.cfg.done->set_value({status, std::move(why)});
  self->quit();
}

std::string ms(caf::timespan d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

void heartbeat(self_ptr self) {
  auto& st = self->state;
  self->request(st.cfg.driver, st.cfg.timeout, ping_atom::value)
    .then([](bool) {},
          [=](caf::error& err) {
            finish(self, 1, "the driver did not answer a heartbeat within "
                              + ms(self->state.cfg.timeout) + " (" + error_text(err) + ")");
          });
  self->delayed_send(self, st.cfg.heartbeat, tick_atom::value);
}

void join(self_ptr self) {
  auto& st = self->state;
  auto refused = [=](caf::error& err) {
    finish(self, 1, "the driver refused this worker: " + error_text(err));
  };
  self->request(st.cfg.driver, st.cfg.timeout, join_atom::value, st.cfg.hello)
    .then(
      [=](std::string& nonce) {
        auto& cfg = self->state.cfg;
        auto proof = cfg.secret.empty() ? std::string{} : hmac_sha256_hex(cfg.secret, nonce);
        self->request(cfg.driver, cfg.timeout, prove_atom::value, cfg.hello.name, proof)
          .then(
            [=](bool) { heartbeat(self); },
            refused);
      },
      refused);
}

} // namespace

caf::behavior cluster_worker(caf::stateful_actor<cluster_worker_state>* self,
                             cluster_worker_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.cfg.hello.control = caf::actor_cast<caf::actor>(self);
  self->monitor(self->state.cfg.driver);
  self->set_down_handler([=](caf::down_msg& dm) {
    finish(self, 1, "lost the driver (" + caf::to_string(dm.reason) + ")");
  });
  join(self);
  return {
    [=](ping_atom) { return self->state.cfg.hello.name; },
    [=](tick_atom) { heartbeat(self); },
    [=](peers_atom a, std::vector<peer_endpoint>& ps) {
      return self->delegate(self->state.cfg.peers, a, std::move(ps));
    },
    [=](host_atom, receiver_placement_msg& m) -> caf::result<std::vector<caf::actor>> {
      try {
        return self->state.cfg.host(m);
      } catch (const std::exception& e) {
        return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
      }
    },
    [=](end_atom) { finish(self, 0, "the driver ended the context"); },
    [=](end_atom, std::string& why) { finish(self, 1, std::move(why)); },
  };
}

} // namespace sluice::detail
