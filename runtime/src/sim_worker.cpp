// A simulated worker's start and end (sim_cluster.hpp): what
// serve_as_worker does in a worker process, but on the simulation's thread,
// so nothing in it waits or retries -- the driver listens before any
// worker starts -- and nothing ends a process.
#include <future>

#include <caf/io/all.hpp>

#include "context_impl.hpp"
#include "sluice/cluster_driver.hpp"
#include "sluice/cluster_worker.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/executor.hpp"
#include "sluice/middleman_requests.hpp"
#include "sluice/detail/sim_cluster.hpp"
#include "sluice/sim_network.hpp"
#include "cluster_events.hpp"

namespace sluice::detail {

void context_impl::serve_simulated() {
  auto layout = start_worker_executor();
  sim_worker_actors_.push_back(executor_);
  auto name = worker->name;
  auto hello = worker_hello{name, worker->cores, context_number, cluster_fingerprint(*layout),
                            executor_, {}, {}, 0};
  auto peers = start_peer_endpoint(hello);
  sim_worker_actors_.push_back(peers);
  auto driver = remote_actor(*sys, worker->host, worker->port);
  if (!driver)
    throw error("cluster: simulated worker " + name + " cannot reach the driver at "
                + worker->host + ":" + std::to_string(worker->port) + ": "
                + sys->render(driver.error()));
  cluster_worker_config wc;
  wc.driver = *driver;
  wc.hello = std::move(hello);
  wc.peers = std::move(peers);
  wc.secret = cluster_secret();
  wc.host = [this, name](const receiver_placement_msg& m) { return host_receiver(m, name); };
  wc.heartbeat = heartbeat_interval(cfg);
  wc.timeout = worker_timeout(cfg);
  // Nobody waits for the worker's end: the simulation ends its actors. The
  // cluster keeps the promise, where a stalled worker's resume sees it end.
  wc.done = sim_cluster_->exit_promise(*sys);
  sim_worker_actors_.push_back(sys->spawn(cluster_worker, std::move(wc)));
  run_until_idle(*sys);  // it has joined (or been refused) when start() returns
}

void context_impl::end_simulated_worker() {
  if (sim_net->frozen(*sys))
    sim_net->thaw(*sys);  // a lost worker's actors end too; nothing reaches its peers
  caf::scoped_actor self{*sys};
  if (executor_)
    ask(self, executor_, std::chrono::seconds(10), stop_atom::value);
  stop_receivers();
  receivers_.clear();
  for (auto& a : sim_worker_actors_)
    self->send_exit(a, caf::exit_reason::user_shutdown);
  sim_worker_actors_.clear();
}

} // namespace sluice::detail
