// Cluster mode's direct worker-to-worker links (DESIGN.md "Distribution"):
// every worker publishes a peer endpoint (worker_peers.hpp) next to its link
// to the driver; after each placement the driver lists the endpoints and
// each worker connects to the workers joined after it, proving the shared
// secret. CAF then routes the shuffle buckets between the two workers over
// that connection instead of through the driver. middleman's automatic
// connections are not used: they open an unauthenticated port on every
// interface.
#include <cstdlib>

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "context_impl.hpp"
#include "sluice/middleman_requests.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/cluster_driver.hpp"
#include "sluice/log.hpp"
#include "sluice/worker_peers.hpp"

namespace sluice::detail {

namespace {

/// The address the driver sees worker `node` connect from (its BASP
/// connection), or empty when CAF knows none.
std::string address_of(caf::actor_system& sys, const caf::node_id& node, caf::timespan timeout) {
  std::string out;
  caf::scoped_actor self{sys};
  call(self, sys.middleman().actor_handle(), timeout, caf::get_atom_v, node)
    .receive([&](caf::node_id&, std::string& addr, uint16_t) { out = std::move(addr); },
             [](caf::error&) {});
  return out;
}

} // namespace

std::string context_impl::peer_bind_host() const {
  if (is_loopback(worker->host))
    return "127.0.0.1";
  if (auto h = cfg.get("sluice.cluster.worker.host"); h && !h->empty())
    return *h;
  if (const char* env = std::getenv("SLUICE_WORKER_HOST"); env != nullptr && *env != '\0')
    return env;
  return "0.0.0.0";
}

caf::actor context_impl::start_peer_endpoint(worker_hello& hello) {
  auto host = peer_bind_host();
  auto secret = cluster_secret();
  if (!is_loopback(host) && secret.empty())
    throw error("its peer endpoint would listen on " + host + ", which is not a loopback address: "
                "that needs a shared secret (set sluice.cluster.secret or SLUICE_CLUSTER_SECRET), "
                "or set sluice.cluster.worker.host or SLUICE_WORKER_HOST to a loopback address");
  worker_peers_config pc;
  pc.name = hello.name;
  pc.secret = secret;
  pc.connector = caf::actor_cast<caf::actor>(tls() ? sys->openssl_manager().actor_handle()
                                                   : sys->middleman().actor_handle());
  pc.timeout = cfg.get_duration("sluice.cluster.workerTimeout", std::chrono::seconds(10));
  auto peers = sys->spawn(worker_peers, pc);
  // peer_port is 0 (any free port) but for a simulated worker.
  auto port = tls() ? caf::openssl::publish(peers, worker->peer_port, host.c_str(), true)
                    : publish(*sys, peers, worker->peer_port, host);
  if (!port) {
    caf::anon_send_exit(peers, caf::exit_reason::user_shutdown);
    throw error("its peer endpoint cannot listen on " + host + " (sluice.cluster.worker.host): "
                + sys->render(port.error()));
  }
  logger()->info("cluster: worker {} listens for peers on {}:{}{}", hello.name, host, *port,
                 tls() ? " (TLS)" : "");
  hello.peer_host = host == "0.0.0.0" ? std::string{} : host;
  hello.peer_port = *port;
  return peers;
}

void context_impl::link_peers(caf::scoped_actor& self) {
  auto timeout = cfg.get_duration("sluice.cluster.workerTimeout", std::chrono::seconds(10));
  std::vector<peer_endpoint> peers;
  for (auto& w : workers_) {
    auto host = w.peer_host;
    if (host.empty() && w.peer_port > 0)
      host = address_of(*sys, w.control.node(), timeout);
    peers.push_back({w.name, host, host.empty() ? 0 : w.peer_port});
  }
  if (peers.size() < 2)
    return;
  // One worker after the other: by the time worker k is asked, the workers
  // before it have connected to it, so its count is final.
  for (auto& w : workers_) {
    call(self, w.control, 2 * timeout, peers_atom::value, peers)
      .receive(
        [&](int32_t n) {
          if (static_cast<size_t>(n) + 1 < peers.size())
            logger()->warn("cluster: worker {} is linked directly to {} of its {} peers; the "
                           "others' messages go through the driver",
                           w.name, n, peers.size() - 1);
          else
            logger()->info("cluster: worker {} is linked directly to its {} peer(s)", w.name, n);
        },
        [&](caf::error& err) {
          logger()->warn("cluster: worker {} could not link to its peers ({}); their messages go "
                         "through the driver",
                         w.name, error_text(err));
        });
  }
}

} // namespace sluice::detail
