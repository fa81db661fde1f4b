// worker_peers: a worker's peer endpoint in cluster mode. Published on the
// worker's own port, it links this worker directly to the other workers so
// that shuffle buckets go worker to worker, not through the driver
// (DESIGN.md "Distribution"): once two CAF nodes hold a BASP connection,
// CAF 0.17.6 routes their messages over it (basp::routing_table::lookup
// prefers a direct route; the handshake erases the indirect one).
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

struct worker_peers_config {
  std::string name;      ///< this worker's name ("host:pid")
  std::string secret;    ///< empty: none
  caf::actor connector;  ///< the middleman's actor (or OpenSSL manager's, for TLS)
  caf::timespan timeout = std::chrono::seconds(10);  ///< per step of a link
};

struct worker_peers_state {
  worker_peers_config cfg;
  std::map<std::string, std::string> nonces;  ///< peer name -> nonce it must prove
  std::set<std::string> linked;               ///< peers proven, either direction
  static inline const char* name = "sluice.worker_peers";
};

/// Handles:
/// - `(peers_atom, std::vector<peer_endpoint>) -> int32_t`: the driver's
///   list of workers in join order. This worker connects to every listed
///   worker after itself that it is not linked to yet (so each pair
///   connects once, and a worker that joins later is connected to by the
///   others), and proves the shared secret to it as to the driver
///   (`link_atom`, then `prove_atom`). Answers, once every attempt ended,
///   how many listed workers it is linked to. A link that cannot be made is
///   a warning, not an error: messages to that worker keep going through
///   the driver.
/// - `(link_atom, std::string peer) -> std::string`: a nonce for `peer`;
/// - `(prove_atom, std::string peer, std::string hmac) -> bool`: accepts
///   the link (hmac = HMAC-SHA256(secret, nonce); ignored without a
///   secret), or an error for a wrong or missing secret or no nonce.
caf::behavior worker_peers(caf::stateful_actor<worker_peers_state>* self,
                           worker_peers_config cfg);

} // namespace sluice::detail
