#include "sluice/worker_peers.hpp"

#include <algorithm>
#include <memory>

#include <spdlog/spdlog.h>

#include "sluice/cluster_auth.hpp"
#include "sluice/cluster_driver.hpp"
#include "sluice/log.hpp"

namespace sluice::detail {

namespace {

using self_ptr = caf::stateful_actor<worker_peers_state>*;

/// One round of links (one peers_atom request): answers when none is left.
struct link_round {
  caf::response_promise reply;
  std::vector<std::string> listed;  ///< the other workers listed
  size_t open = 0;                  ///< attempts not ended yet
};

void answer(self_ptr self, const std::shared_ptr<link_round>& round) {
  if (round->open > 0)
    return;
  int32_t n = 0;
  for (auto& peer : round->listed)
    n += self->state.linked.count(peer) > 0 ? 1 : 0;
  round->reply.deliver(n);
}

void link_to(self_ptr self, const peer_endpoint& p, const std::shared_ptr<link_round>& round) {
  auto& cfg = self->state.cfg;
  auto where = p.name + " at " + p.host + ":" + std::to_string(p.port);
  auto failed = [=](caf::error& err) {
    logger()->warn("cluster: worker {} cannot link directly to worker {} ({}); messages between "
                   "them go through the driver",
                   self->state.cfg.name, where, error_text(err));
    --round->open;
    answer(self, round);
  };
  auto proven = [=](bool) {
    logger()->info("cluster: worker {} linked directly to worker {}", self->state.cfg.name, where);
    self->state.linked.insert(p.name);
    --round->open;
    answer(self, round);
  };
  auto prove = [=](caf::actor peer) {
    auto& cfg = self->state.cfg;
    self->request(peer, cfg.timeout, link_atom::value, cfg.name)
      .then(
        [=](std::string& nonce) {
          auto& cfg = self->state.cfg;
          auto proof = cfg.secret.empty() ? std::string{} : hmac_sha256_hex(cfg.secret, nonce);
          self->request(peer, cfg.timeout, prove_atom::value, cfg.name, proof)
            .then(proven, failed);
        },
        failed);
  };
  self->request(cfg.connector, cfg.timeout, caf::connect_atom_v, p.host,
                static_cast<uint16_t>(p.port))
    .then(
      [=](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) mutable {
        if (!ptr) {
          auto err = caf::make_error(caf::sec::no_actor_published_at_port,
                                     "no actor published at " + p.host + ":"
                                       + std::to_string(p.port));
          failed(err);
          return;
        }
        prove(caf::actor_cast<caf::actor>(ptr));
      },
      failed);
}

} // namespace

caf::behavior worker_peers(caf::stateful_actor<worker_peers_state>* self,
                           worker_peers_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [=](peers_atom, std::vector<peer_endpoint>& peers) -> caf::result<int32_t> {
      auto& st = self->state;
      auto round = std::make_shared<link_round>();
      auto me = std::find_if(peers.begin(), peers.end(),
                             [&](const peer_endpoint& p) { return p.name == st.cfg.name; });
      if (me == peers.end())
        return caf::make_error(caf::sec::runtime_error,
                               "worker " + st.cfg.name + " is not in the driver's list");
      for (auto i = peers.begin(); i != peers.end(); ++i)
        if (i != me)
          round->listed.push_back(i->name);
      std::vector<peer_endpoint> todo;
      for (auto i = me + 1; i != peers.end(); ++i)
        if (st.linked.count(i->name) == 0 && i->port > 0)
          todo.push_back(*i);
      if (todo.empty()) {
        int32_t n = 0;
        for (auto& peer : round->listed)
          n += st.linked.count(peer) > 0 ? 1 : 0;
        return n;
      }
      round->reply = self->make_response_promise();
      round->open = todo.size();
      for (auto& p : todo)
        link_to(self, p, round);
      return round->reply;
    },
    [=](link_atom, const std::string& peer) {
      auto nonce = make_nonce();
      self->state.nonces[peer] = nonce;
      return nonce;
    },
    [=](prove_atom, const std::string& peer, const std::string& proof) -> caf::result<bool> {
      auto& st = self->state;
      auto i = st.nonces.find(peer);
      if (i == st.nonces.end())
        return caf::make_error(caf::sec::runtime_error, "no link pending for worker " + peer);
      auto nonce = std::move(i->second);
      st.nonces.erase(i);
      if (auto why = proof_refusal(st.cfg.secret, nonce, proof, "this worker")) {
        logger()->error("cluster: worker {} refused a link from worker {}: {}", st.cfg.name, peer,
                        *why);
        return caf::make_error(caf::sec::runtime_error, *why);
      }
      logger()->info("cluster: worker {} linked directly to worker {} (it connected)",
                     st.cfg.name, peer);
      st.linked.insert(peer);
      return true;
    },
  };
}

} // namespace sluice::detail
