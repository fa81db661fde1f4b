// cluster_driver: the driver's endpoint in cluster mode, published on the
// driver's address. Workers join through it (same graph, the shared secret
// when one is set), the driver's start() waits on it for the workers it
// needs, and it watches every joined worker with heartbeats: a worker that
// goes down or stops answering is reported lost (log and job scheduler).
#pragma once

#include <chrono>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

struct cluster_driver_config {
  std::string fingerprint;  ///< the driver's graph description, one node a line
  int32_t context = 1;      ///< which context of the program this is
  std::string secret;       ///< empty: none asked
  caf::timespan heartbeat = std::chrono::seconds(1);
  caf::timespan timeout = std::chrono::seconds(10);
  /// local-cluster: the driver started its workers, so a refused one fails
  /// the start at once (no other worker will come instead).
  bool refusal_fails = false;
};

struct cluster_driver_state {
  cluster_driver_config cfg;
  std::map<std::string, std::pair<worker_hello, std::string>> pending;  ///< name -> hello, nonce
  std::vector<worker_hello> joined;
  size_t wanted = 0;
  std::vector<std::string> refusals;  ///< why workers were refused, in order
  caf::response_promise waiting;  ///< the (workers_atom, n) request
  caf::actor scheduler;           ///< set once the cluster runs: losses go to it
  bool ending = false;
  static inline const char* name = "sluice.cluster_driver";
};

/// Handles:
/// - `(join_atom, worker_hello) -> std::string`: a nonce to prove the secret
///   with; an error naming why for a worker of another context or with a
///   different graph (the first differing node);
/// - `(prove_atom, std::string name, std::string hmac) -> bool`: joins the
///   worker (hmac = HMAC-SHA256(secret, nonce); ignored without a secret),
///   or an error for a wrong or missing secret;
/// - `(workers_atom, int32_t n) -> std::vector<worker_hello>`: answers once
///   n workers joined (with `refusal_fails`, an error at the first refusal);
/// - `(start_atom, caf::actor scheduler)`: the cluster runs; heartbeats start
///   and a lost worker is reported to the scheduler (`lost_atom`), which
///   has the context place its share on the others; a worker that joins
///   later is reported too (`join_atom`) and gets its share;
/// - `(ping_atom) -> bool`: a worker's heartbeat;
/// - `(end_atom) -> bool`: tells every worker to end, then quits.
caf::behavior cluster_driver(caf::stateful_actor<cluster_driver_state>* self,
                             cluster_driver_config cfg);

/// The text of an error the driver or a worker replied with.
std::string error_text(const caf::error& err);

/// Null when two graph descriptions (one node a line) are equal, else the
/// first difference, e.g. "node 3 differs: the driver builds 'a', this
/// worker builds 'b'".
std::optional<std::string> graph_difference(const std::string& driver, const std::string& worker);

} // namespace sluice::detail
