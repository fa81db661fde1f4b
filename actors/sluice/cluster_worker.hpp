// cluster_worker: a worker process's endpoint in cluster mode. It joins the
// driver (graph description, then the proof of the shared secret), answers
// the driver's heartbeats and sends its own, and ends the worker: with 0
// when the driver ends the context, non-zero when the driver refuses it,
// goes down, stops answering or declares this worker lost.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

struct cluster_worker_config {
  caf::actor driver;   ///< the driver's cluster_driver (a proxy)
  worker_hello hello;  ///< `control` is filled in by the actor
  std::string secret;  ///< empty: none
  caf::actor peers;    ///< this worker's worker_peers (required)
  /// Hosts a receiver the driver places here (context_impl::host_receiver);
  /// throws to refuse.
  std::function<std::vector<caf::actor>(const receiver_placement_msg&)> host;
  caf::timespan heartbeat = std::chrono::seconds(1);
  caf::timespan timeout = std::chrono::seconds(10);
  /// Set once: the exit status and why the worker ends.
  std::shared_ptr<std::promise<std::pair<int, std::string>>> done;
};

struct cluster_worker_state {
  cluster_worker_config cfg;
  bool finished = false;
  static inline const char* name = "sluice.cluster_worker";
};

/// Handles `(ping_atom) -> std::string` (the driver's heartbeat, answered
/// with the worker's name so a confused link shows), `(end_atom)` (the
/// context ended: status 0) and `(end_atom, std::string why)` (declared lost:
/// status 1), and `(peers_atom, std::vector<peer_endpoint>) -> int32_t`
/// (the driver's list of workers: handed to `peers`, see worker_peers.hpp)
/// and `(host_atom, receiver_placement_msg) -> std::vector<caf::actor>` (a
/// receiver to host: `host`'s answer, or its exception's text as the error).
caf::behavior cluster_worker(caf::stateful_actor<cluster_worker_state>* self,
                             cluster_worker_config cfg);

} // namespace sluice::detail
