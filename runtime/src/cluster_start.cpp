// Cluster mode's part of start() and stop(): the driver listens, has its
// workers join (starting them for local-cluster), places every stage slot
// on a worker, wires them and has the workers link to each other
// (cluster_peers.cpp); a worker joins its driver and hosts what it is given
// until the driver ends it (DESIGN.md "Distribution"). A lost or joining
// worker: cluster_replace.cpp; receivers: receiver_placement.cpp.
#include <cstdio>
#include <filesystem>
#include <future>
#include <limits>
#include <thread>
#include <unistd.h>

#include <caf/io/all.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include "context_impl.hpp"
#include "sluice/checkpoint_relay.hpp"
#include "sluice/cluster_driver.hpp"
#include "sluice/cluster_worker.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/executor.hpp"
#include "sluice/listener_bus.hpp"
#include "sluice/log.hpp"
#include "sluice/replace_atoms.hpp"
#include "sluice/scheduler_relay.hpp"
#include "cluster_events.hpp"
#include "sluice/middleman_requests.hpp"
#include "worker_processes.hpp"
#include "sluice/detail/sim_cluster.hpp"
#include "sluice/sim_network.hpp"

namespace sluice::detail {

namespace {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0)
    return "worker";
  return buf;
}

std::string ms_text(duration d) { return std::to_string(d.count()) + " ms"; }

/// The scheduler a worker process runs on, as its join line names it: the
/// policy CAF was built with, not the conf key that asked for it. (A
/// simulated worker never gets here: sim_worker.cpp serves it.)
std::string scheduler_text(caf::actor_system& sys) {
  auto& s = sys.scheduler();
  auto policy = dynamic_cast<caf::scheduler::coordinator<caf::policy::work_stealing>*>(&s)
                  ? "stealing"
                : dynamic_cast<caf::scheduler::coordinator<caf::policy::work_sharing>*>(&s)
                  ? "sharing"
                  : "other";
  return std::string{"CAF's "} + policy + " scheduler on " + std::to_string(s.num_workers())
         + " thread(s)";
}

/// Logs why the worker ends and ends its process with `status`.
[[noreturn]] void end_worker(const std::string& name, int status, const std::string& why) {
  if (status == 0)
    logger()->info("cluster: worker {} ends: {}", name, why);
  else
    logger()->error("cluster: worker {} ends: {}", name, why);
  logger()->flush();
  std::fflush(nullptr);
  _exit(status);
}

} // namespace

std::string context_impl::cluster_fingerprint(const plan& layout) const {
  // The graph, then what else decides where records go: the plan's stages
  // (chaining and parallelism change them).
  auto out = fingerprint();
  for (auto& s : layout.stages) {
    out += "stage " + std::to_string(s.id) + " slots=" + std::to_string(s.slots)
           + " head=" + std::to_string(s.head->id()) + " chain=";
    for (auto* n : s.chain)
      out += std::to_string(n->id()) + ",";
    out += '\n';
  }
  return out;
}

std::string context_impl::cluster_secret() const {
  if (auto s = cfg.get("sluice.cluster.secret"))
    return *s;
  const char* env = std::getenv("SLUICE_CLUSTER_SECRET");
  return env != nullptr ? env : "";
}

bool context_impl::tls() const { return cfg.get("sluice.cluster.tls.certificate").has_value(); }

void context_impl::configure_cluster_links() {
  if (!worker && cluster.what == cluster_spec::mode::local)
    return;
  sys_cfg->load<caf::io::middleman>();
  if (simulated) {
    if (tls())
      throw invalid_argument("a simulated cluster has no TLS: unset sluice.cluster.tls.certificate");
    sim_network::configure(*sys_cfg);  // BASP over the test multiplexer
    return;
  }
  if (!tls())
    return;
  auto need = [&](const std::string& key) {
    auto v = cfg.get(key);
    if (!v || v->empty())
      throw invalid_argument("sluice.cluster.tls.certificate is set, so " + key
                             + " must name a file too (TLS between the driver and its workers)");
    if (!std::filesystem::is_regular_file(*v))
      throw invalid_argument(key + " '" + *v + "': no such file");
    return *v;
  };
  sys_cfg->openssl_certificate = need("sluice.cluster.tls.certificate");
  sys_cfg->openssl_key = need("sluice.cluster.tls.key");
  sys_cfg->openssl_cafile = need("sluice.cluster.tls.cafile");
  sys_cfg->load<caf::openssl::manager>();
}

void context_impl::check_cluster_address() const {
  if (cluster.what == cluster_spec::mode::standalone && !is_loopback(cluster.host)
      && cluster_secret().empty())
    throw illegal_state("master " + cfg.master() + " listens on " + cluster.host
                        + ", which is not a loopback address: that needs a shared secret (set "
                          "sluice.cluster.secret or SLUICE_CLUSTER_SECRET)");
}

void context_impl::start_executors() {
  caf::scoped_actor self{*sys};
  bool local = cluster.what == cluster_spec::mode::local;
  auto r = self->request(executor_, caf::infinite, start_atom::value, local);
  await_reply(self, "the executor's start");
  r.receive([](int) {},
             [](caf::error& err) {
               throw error("cannot start the executor: " + caf::to_string(err));
             });
  if (!local)
    place_on_workers(self);
}

void context_impl::join_workers(caf::scoped_actor& self) {
  cluster_driver_config dc;
  dc.fingerprint = cluster_fingerprint(*wiring_->layout);
  dc.context = context_number;
  dc.secret = cluster_secret();
  dc.heartbeat = heartbeat_interval(cfg);
  dc.timeout = worker_timeout(cfg);
  dc.refusal_fails = cluster.what == cluster_spec::mode::local_cluster;
  cluster_endpoint_ = sys->spawn(cluster_driver, dc);
  int wanted = cluster.what == cluster_spec::mode::local_cluster
                 ? cluster.workers
                 : static_cast<int>(cfg.get_int("sluice.cluster.workers", 1));
  // Simulated: the workers are built and their connections prepared before
  // the publish (the test multiplexer opens a port only once one is).
  auto listen_port = cluster.port;
  if (sim_cluster_) {
    listen_port = sim_cluster::driver_port;
    sim_cluster_->add_workers(*sys, wanted, context_number);
  }
  auto port = tls() ? caf::openssl::publish(cluster_endpoint_, listen_port, cluster.host.c_str(),
                                            true)
                    : publish(*sys, cluster_endpoint_, listen_port, cluster.host);
  if (!port)
    throw error("cluster: the driver cannot listen on " + cluster.host + ":"
                + std::to_string(listen_port) + ": " + sys->render(port.error()));
  cluster_port_ = *port;
  logger()->info("cluster: driver listening on {}:{}{}", cluster.host, *port,
                 tls() ? " (TLS)" : "");
  if (sim_cluster_)
    sim_cluster_->start_workers();  // each joins now, through call()
  else if (cluster.what == cluster_spec::mode::local_cluster)
    worker_procs_ = std::make_unique<worker_processes>(
      cluster.workers, cluster.cores, "127.0.0.1:" + std::to_string(*port), context_number);
  auto patience = cfg.get_duration("sluice.cluster.startTimeout", std::chrono::seconds(60));
  // Waits for the joins, and fails at once when a started worker ends first
  // (it could not connect, or was refused: its log line says why).
  std::optional<std::string> failed;
  self->send(cluster_endpoint_, workers_atom::value, static_cast<int32_t>(wanted));
  auto deadline = std::chrono::steady_clock::now() + patience;
  // Deterministic, every node has run once reply_ready returns: a worker
  // that has not joined by then never will, so it is one look, no wait.
  bool at_once = is_deterministic(*sys);
  if (at_once)
    reply_ready(self);
  for (bool done = false; !done;) {
    self->receive(
      [&](std::vector<worker_hello>& ws) {
        workers_ = std::move(ws);
        done = true;
      },
      [&](caf::error& err) {
        failed = error_text(err);
        done = true;
      },
      caf::after(at_once ? std::chrono::milliseconds(0) : std::chrono::milliseconds(100)) >> [&] {
        if (at_once) {
          failed = "fewer than " + std::to_string(wanted) + " workers joined once every node had "
                   "run (a simulated worker that has not joined by then never will)";
          done = true;
          return;
        }
        if (worker_procs_)
          if (auto gone = worker_procs_->ended(); !gone.empty()) {
            failed = "worker " + gone.front() + " before it joined";
            done = true;
          }
        if (!done && std::chrono::steady_clock::now() >= deadline) {
          failed = "fewer than " + std::to_string(wanted) + " workers joined within "
                   + ms_text(patience) + " (sluice.cluster.startTimeout)";
          done = true;
        }
      });
  }
  if (!failed)
    return;
  std::string why = "cluster: " + *failed;
  if (worker_procs_)
    for (auto& e : worker_procs_->ended())
      why += "; worker " + e;
  throw error(why);
}

void context_impl::place_on_workers(caf::scoped_actor& self) {
  if (checkpoint_writer_)
    checkpoint_relay_ = sys->spawn(checkpoint_relay, checkpoint_writer_, net);
  scheduler_relay_ = sys->spawn(scheduler_relay, wiring_->scheduler);
  place_slots(self);
  for (auto& w : workers_)
    publish_worker(bus_, w.name, w.cores, "");
  publish_placement(bus_, workers_, wiring_->restore_from, false);
  self->send(cluster_endpoint_, start_atom::value, wiring_->scheduler);
  logger()->info("cluster: {} stages placed on {} workers", wiring_->layout->stages.size(),
                 workers_.size());
}

void context_impl::place_slots(caf::scoped_actor& self) {
  auto& layout = *wiring_->layout;
  size_t n = workers_.size();
  std::vector<placement_msg> where(n);
  for (auto& pm : where) {
    pm.zero_ms = wiring_->info.zero.ms;
    pm.recovering = wiring_->restore_from.has_value();
    pm.restore_from = wiring_->restore_from.value_or(0);
    pm.checkpoint_intervals_ms = wiring_->checkpoint_intervals_ms;
    pm.scheduler = scheduler_relay_;
    pm.checkpoint_writer = checkpoint_relay_;
  }
  // Slot i of every stage on worker i mod n: a forward edge (same slot)
  // stays inside one worker, only shuffles cross, over the workers' direct
  // links (link_peers below, cluster_peers.cpp).
  for (auto& s : layout.stages)
    for (int i = 0; i < s.slots; ++i) {
      auto& pm = where[static_cast<size_t>(i) % n];
      pm.stages.push_back(s.id);
      pm.slots.push_back(i);
    }
  auto timeout = worker_timeout(cfg);
  wiring_->stages.assign(layout.stages.size(), {});
  for (auto& s : layout.stages)
    wiring_->stages[static_cast<size_t>(s.id)].resize(static_cast<size_t>(s.slots));
  for (size_t k = 0; k < n; ++k) {
    std::optional<std::string> failed;
    call(self, workers_[k].executor, timeout, spawn_atom::value, where[k])
      .receive(
        [&](std::vector<caf::actor>& actors) {
          for (size_t j = 0; j < actors.size() && j < where[k].stages.size(); ++j)
            wiring_->stages[static_cast<size_t>(where[k].stages[j])]
                           [static_cast<size_t>(where[k].slots[j])] = std::move(actors[j]);
        },
        [&](caf::error& err) { failed = error_text(err); });
    if (failed)
      throw error("cluster: worker " + workers_[k].name + " could not host its operators: "
                  + *failed);
  }
  stage_table_msg table;
  for (auto& row : wiring_->stages) {
    table.slots.push_back(static_cast<int32_t>(row.size()));
    table.actors.insert(table.actors.end(), row.begin(), row.end());
  }
  table.gathers = wiring_->gathers;
  for (auto& w : workers_) {
    std::optional<std::string> failed;
    call(self, w.executor, timeout, wire_atom::value, table)
      .receive([](bool) {}, [&](caf::error& err) { failed = error_text(err); });
    if (failed)
      throw error("cluster: worker " + w.name + " could not be wired: " + *failed);
  }
  link_peers(self);
}

void context_impl::end_cluster(caf::scoped_actor& self, std::chrono::milliseconds grace) {
  if (cluster_endpoint_) {
    unpublish(*sys, cluster_endpoint_, cluster_port_);
    call(self, cluster_endpoint_, std::chrono::seconds(5), end_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
    cluster_endpoint_ = caf::actor{};
  }
  if (checkpoint_relay_)
    self->send_exit(checkpoint_relay_, caf::exit_reason::user_shutdown);
  if (scheduler_relay_)
    self->send_exit(scheduler_relay_, caf::exit_reason::user_shutdown);
  if (worker_procs_) {
    // Ended workers exit at once; one that stalls (declared lost) or has
    // not joined yet is killed after the grace.
    if (int killed = worker_procs_->end(grace); killed > 0)
      logger()->warn("cluster: {} worker process(es) did not end within {} ms and were killed",
                     killed, grace.count());
    worker_procs_.reset();
  }
}

std::shared_ptr<const plan> context_impl::start_worker_executor() {
  auto layout = plan_graph();
  validate_state(*layout);
  validate_views(*layout);
  validate_codecs(*layout);
  g->mark_started();
  wiring_ = std::make_shared<wiring>();
  wiring_->layout = layout;
  wiring_->info = run_info{batch_time{0}, batch, parallelism};
  wiring_->net = net;
  auto graph = g;
  executor_ = sys->spawn(executor, wiring_,
                         std::function<void(const run_info&)>{
                           [graph](const run_info& info) { graph->zero(info.zero); }});
  return layout;
}

void context_impl::serve_as_worker() {
  auto layout = start_worker_executor();
  auto name = host_name() + ":" + std::to_string(getpid());
  auto timeout = worker_timeout(cfg);
  auto finish = [&name](int status, const std::string& why) { end_worker(name, status, why); };
  // The peer endpoint first: a worker that may not listen where it would
  // ends before it reaches the driver.
  auto hello = worker_hello{name, worker->cores, context_number, cluster_fingerprint(*layout),
                            executor_, {}, {}, 0};
  caf::actor peers;
  try {
    peers = start_peer_endpoint(hello);
  } catch (const std::exception& e) {
    finish(1, e.what());
  }
  // The driver may still be starting: retry until the worker timeout.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  caf::actor driver;
  for (;;) {
    auto x = tls() ? caf::openssl::remote_actor(*sys, worker->host, worker->port)
                   : remote_actor(*sys, worker->host, worker->port);
    if (x) {
      driver = std::move(*x);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      finish(1, "cannot reach the driver at " + worker->host + ":" + std::to_string(worker->port)
                  + " within " + ms_text(timeout) + ": " + sys->render(x.error()));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  logger()->info("cluster: worker {} joins the driver at {}:{} with {} core(s), {}", name,
                 worker->host, worker->port, worker->cores, scheduler_text(*sys));
  cluster_worker_config wc;
  wc.driver = driver;
  wc.hello = std::move(hello);
  wc.peers = std::move(peers);
  wc.secret = cluster_secret();
  wc.host = [this, name](const receiver_placement_msg& m) { return host_receiver(m, name); };
  wc.heartbeat = heartbeat_interval(cfg);
  wc.timeout = timeout;
  wc.done = std::make_shared<std::promise<std::pair<int, std::string>>>();
  auto result = wc.done->get_future();
  sys->spawn(cluster_worker, std::move(wc));
  auto [status, why] = result.get();
  end_worker(name, status, why);
}

} // namespace sluice::detail
