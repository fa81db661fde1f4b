#include "sluice/streaming_context.hpp"

#include "context_impl.hpp"
#include "recovery.hpp"
#include "shutdown_hook.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/sqlite_db.hpp"
#include "sluice/error.hpp"
#include "sluice/executor.hpp"
#include "sluice/job_generator.hpp"
#include "sluice/job_scheduler.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/detail/sim_cluster.hpp"
#include "sluice/sim_network.hpp"
#include "ui/web_ui.hpp"
#include "worker_processes.hpp"

namespace sluice {

namespace detail {

context_impl::context_impl(sluice::conf c, duration b) : cfg(std::move(c)), batch(b) {
  if (batch.count() <= 0)
    throw invalid_argument("batch interval must be positive, got " + to_string(batch));
  cfg.validate();
  cluster = parse_cluster(cfg.master());
  context_number = next_context_number();
  if (auto& role = process_worker_role()) {
    // A worker re-runs the program up to the context it serves. The ones
    // before run here alone, as local contexts of the same parallelism (a
    // test program's next context may depend on what they did); none of
    // them may start workers of its own.
    if (role->context == context_number)
      worker = role;
    else
      cluster = cluster_spec{};
  }
  // Fault points armed by conf keys sluice.fault.<point> (DESIGN.md "Faults").
  fault_injector::global().arm_from_conf(cfg.entries());
  parallelism = cfg.parallelism();
  auto clock_kind = cfg.get("sluice.streaming.clock").value_or("system");
  simulated = clock_kind == "simulated";
  manual = simulated || clock_kind == "manual";
  // A simulated local-cluster: the thread's simulated cluster builds this
  // context as its driver, or as one of its workers (sim_cluster.hpp).
  std::optional<sim_cluster::worker_role> sim_role;
  if (simulated && cluster.what == cluster_spec::mode::local_cluster)
    if ((sim_cluster_ = sim_cluster::current()) != nullptr)
      if ((sim_role = sim_cluster_->take_role())) {
        worker = worker_role{sim_cluster::host, sim_cluster::driver_port, cluster.cores,
                             sim_role->context, sim_role->name, sim_role->peer_port};
        context_number = sim_role->context;
      }
  sys_cfg = std::make_unique<caf::actor_system_config>();
  sys_cfg->set("scheduler.max-threads", static_cast<size_t>(parallelism));
  if (simulated)
    configure_simulated();
  else
    configure_scheduler();
  add_message_types(*sys_cfg);
  configure_cluster_links();
  sys = std::make_unique<caf::actor_system>(*sys_cfg);
  if (sim_cluster_) {
    sim_cluster_->enrol(*sys, sim_role);
    sim_net = &sim_cluster_->network();
  }
  net = std::make_shared<transport>(sys->node(), cfg.get_bool("sluice.serializer.local", false));
  g = std::make_shared<graph>(batch, parallelism);
}

context_impl::~context_impl() {
  unregister_shutdown_hook(this);
  stop(false);
  if (lifecycle_.joinable())
    lifecycle_.join();
  if (worker && sim_net)
    end_simulated_worker();
  // ~actor_system waits until every actor has ended: under the test
  // coordinator only this thread can run their exit messages, so the
  // receiver pipelines send theirs first.
  if (simulated) {
    receivers_.clear();
    threadless_.clear();
    run_until_idle(*sys);
  }
  // Nothing may run this system once it is gone (sim_network.hpp).
  if (sim_net)
    sim_net->remove(*sys);
}

checkpoint_store::options context_impl::store_options() const {
  checkpoint_store::options opts;
  opts.keep_metadata = static_cast<size_t>(cfg.get_int("sluice.streaming.checkpoint.retained", 10));
  opts.page_size = static_cast<int>(cfg.get_int("sluice.streaming.checkpoint.pageSize",
                                                   default_checkpoint_page_size));
  return opts;
}

void context_impl::configure_scheduler() {
  // Work sharing by default: its idle threads wait on a condition variable
  // and are woken by the next enqueue. CAF's default, work stealing, polls
  // for ~30 ms after each message (sleeping 50 us between polls), so with
  // batches every 10 ms its threads never rest: an idle local[2] context
  // burned ~0.27 of a core, a local-cluster[2,1] one ~0.7, and that CPU is
  // taken from the work and from the other processes. sluice's messages
  // carry whole partitions, so the shared queue's lock is not contended.
  // A cluster worker may poll while its driver sleeps, or the other way
  // round: on a quiet machine whose idle CPUs are slow to wake (a VM), one
  // polling role about halves a local-cluster's p99; on a busy one it only
  // costs CPU (README, Figures). So sharing stays the default for both.
  auto policy = cfg.get("sluice.scheduler.policy").value_or("sharing");
  if (worker)
    policy = cfg.get("sluice.cluster.workerSchedulerPolicy").value_or(policy);
  sys_cfg->set("scheduler.policy", policy == "stealing" ? caf::atom("stealing")
                                                        : caf::atom("sharing"));
}

void context_impl::configure_simulated() {
  // Every actor runs on the thread that moves the clock: nothing may come
  // from another thread (a worker process, the web UI's server, a receiver).
  // local-cluster[W,C] is simulated too, as actor systems of this process,
  // inside sluice::testing's simulation (sim_cluster.hpp).
  bool sim_cluster_master = cluster.what == cluster_spec::mode::local_cluster
                            && sim_cluster::current() != nullptr;
  if (cluster.what != cluster_spec::mode::local && !sim_cluster_master)
    throw invalid_argument("sluice.streaming.clock=simulated runs every actor on one thread: it "
                           "needs a local master, or local-cluster[W,C] inside "
                           "sluice::testing's simulation, got " + cfg.master());
  if (cfg.get_bool("sluice.ui.enabled", false))
    throw invalid_argument("sluice.streaming.clock=simulated runs every actor on one thread: it "
                           "needs sluice.ui.enabled=false (the UI serves from threads of its "
                           "own)");
  cfg.set("sluice.ui.enabled", "false");
  sys_cfg->set("scheduler.policy", caf::atom("testing"));
}

void context_impl::settle() {
  // What the lifecycle thread does in the other modes (lifecycle_loop): a
  // lost or joined worker's replacement, which runs actors again, until
  // none is asked for; then a requested stop.
  for (;;) {
    run_until_idle(*sys);
    std::optional<bool> graceful;
    std::optional<std::pair<std::string, std::string>> replace;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (state_ != context_state::active)
        return;
      graceful = stop_request_;
      if (!graceful && !replace_requests_.empty()) {
        replace = std::move(replace_requests_.front());
        replace_requests_.erase(replace_requests_.begin());
      }
    }
    if (graceful) {
      do_stop(*graceful);
      return;
    }
    if (!replace)
      return;
    replace_worker(replace->first, replace->second);
  }
}

void context_impl::stop_started_parts() {
  // Leave nothing running: ~actor_system would wait for these forever. A
  // start that failed early (a worker's join) spawned only the bus and the
  // UI: the parts not there yet are null and skipped.
  for (auto* s : g->sources())
    s->stop();
  stop_receivers();
  caf::scoped_actor self{*sys};
  if (executor_)
    ask(self, executor_, std::chrono::seconds(10), stop_atom::value);
  end_cluster(self, std::chrono::seconds(1));  // a failed start: nothing to finish
  self->send_exit(wiring_->scheduler, caf::exit_reason::user_shutdown);
  // The listeners hear why start() failed before the bus ends.
  ask(self, bus_, std::chrono::seconds(10), drain_atom::value);
  self->send_exit(bus_, caf::exit_reason::user_shutdown);
  self->send_exit(sampler_, caf::exit_reason::user_shutdown);
  stop_checkpoint_writer(self);
  if (ui)
    ui->stop();
}

void context_impl::stop_receivers() {
  for (auto& r : receivers_)
    r->stop_receiving();
}

void context_impl::stop_checkpoint_writer(caf::scoped_actor& self) {
  if (!checkpoint_writer_)
    return;
  // Every write sent before this one is stored (or failed) first.
  ask(self, checkpoint_writer_, std::chrono::seconds(60), drain_atom::value);
  self->send_exit(checkpoint_writer_, caf::exit_reason::user_shutdown);
}

metadata_checkpoint context_impl::make_metadata(int64_t batch_ms,
                                                const std::vector<int64_t>& pending,
                                                bool sources_started) {
  auto m = metadata_;
  m.batch_time_ms = batch_ms;
  m.pending_batches = pending;
  m.source_offsets.clear();
  if (!sources_started) {
    // A source's position means nothing before it starts: keep the one
    // being recovered, or none (a fresh start).
    m.source_offsets = recovered_positions;
    return m;
  }
  for (auto* s : g->sources())
    if (auto pos = s->position(); !pos.empty())
      m.source_offsets.emplace_back(std::to_string(dynamic_cast<node_base*>(s)->id()), pos);
  return m;
}

void context_impl::write_metadata(int64_t batch_ms, const std::vector<int64_t>& pending,
                                  bool sources_started) {
  caf::scoped_actor self{*sys};
  std::optional<writer_failure> failure;
  auto r = self->request(checkpoint_writer_, caf::infinite,
                         make_metadata(batch_ms, pending, sources_started));
  await_reply(self, "the metadata checkpoint written at start");
  r.receive([](bool) {}, [&](caf::error& err) { failure = failure_of(err); });
  if (!failure)
    return;
  // Rethrown as what it was (a storage_error stays one).
  if (auto x = net->take(failure->cause))
    std::rethrow_exception(std::any_cast<std::exception_ptr>(std::move(*x)));
  throw error(failure->what);
}

std::string context_impl::fingerprint() const {
  std::string out;
  for (auto& line : g->describe())
    out += line + '\n';
  return out;
}

} // namespace detail

// -- streaming_context ----------------------------------------------------------

streaming_context::streaming_context(conf c, duration batch_interval)
    : impl_(std::make_shared<detail::context_impl>(std::move(c), batch_interval)) {}

streaming_context::~streaming_context() = default;
streaming_context::streaming_context(streaming_context&&) noexcept = default;
streaming_context& streaming_context::operator=(streaming_context&&) noexcept = default;

namespace {

std::string without_prefix(std::string what) {
  if (what.rfind("sluice: ", 0) == 0)
    what.erase(0, 8);
  return what;
}

} // namespace

streaming_context streaming_context::get_or_create(const std::string& checkpoint_dir,
                                                   std::function<streaming_context()> create) {
  auto ssc = create();
  if (!ssc.impl_->checkpoint_dir)
    ssc.checkpoint(checkpoint_dir);
  auto& impl = *ssc.impl_;
  if (impl.worker)
    return ssc;  // the driver recovers; a worker is told the recovery point
  std::optional<detail::recovery_point> point;
  try {
    auto store = checkpoint_store::open(checkpoint_dir, impl.store_options());
    point = detail::choose_recovery_point(*store, *impl.g, impl.batch, checkpoint_dir);
    impl.recovery_store.emplace(detail::context_impl::opened_store{checkpoint_dir,
                                                                   std::move(store)});
  } catch (const storage_corruption& e) {
    // Damaged: refuse, unless the user asked to start over (never silently).
    // Other storage errors (a full disk, a missing directory) propagate.
    if (!impl.cfg.get_bool("sluice.streaming.checkpoint.startFreshIfCorrupt", false))
      throw storage_corruption("sluice: cannot recover from the checkpoint in " + checkpoint_dir
                          + ": " + without_prefix(e.what())
                          + " (to start from nothing instead, keeping the damaged database "
                            "aside, set sluice.streaming.checkpoint.startFreshIfCorrupt=true)");
    auto kept = detail::set_aside_damaged(checkpoint_dir);
    std::cerr << "sluice: the checkpoint in " << checkpoint_dir << " is damaged (" << e.what()
              << "); starting fresh, as sluice.streaming.checkpoint.startFreshIfCorrupt=true "
                 "asks: the damaged database is kept as "
              << kept << "\n";
    return ssc;
  }
  if (!point)
    return ssc;
  if (!point->passed_over.empty()) {
    for (auto& p : point->passed_over)
      std::cerr << "sluice: " << p << "\n";
    std::cerr << "sluice: recovering from the previous good checkpoint, of batch time "
              << point->metadata_time << " ms\n";
  }
  impl.recover_from = point->from;
  impl.recovered_zero = point->zero;
  impl.recovered_positions = std::move(point->positions);
  return ssc;
}

void streaming_context::checkpoint(const std::string& directory) {
  if (impl_->g->started())
    throw illegal_state("checkpoint(dir) must be called before start()");
  if (directory.empty())
    throw invalid_argument("checkpoint: the directory must not be empty");
  if (!impl_->worker)  // the driver's checkpoint writer owns the directory
    create_checkpoint_directory(directory);
  impl_->checkpoint_dir = directory;
}

void streaming_context::remember(duration d) {
  if (d.count() <= 0)
    throw invalid_argument("remember: duration must be positive, got " + to_string(d));
  if (impl_->g->started())
    throw illegal_state("remember must be called before start()");
  impl_->g->remember(d);
}

void streaming_context::add_listener(std::shared_ptr<streaming_listener> l) {
  if (impl_->g->started())
    throw illegal_state("add_listener must be called before start()");
  impl_->listeners.push_back(std::move(l));
}

void streaming_context::start() { impl_->start(); }
void streaming_context::await_termination() { impl_->await(); }
bool streaming_context::await_termination_or_timeout(duration t) { return impl_->await_for(t); }
void streaming_context::stop(bool graceful) { impl_->stop(graceful); }

sluice::manual_clock& streaming_context::manual_clock() {
  if (!impl_->manual)
    throw illegal_state("manual_clock() needs sluice.streaming.clock=manual (the clock is "
                        "'system')");
  return impl_->clock;
}

duration streaming_context::batch_interval() const { return impl_->batch; }
int streaming_context::parallelism() const { return impl_->parallelism; }
const conf& streaming_context::config() const { return impl_->cfg; }
std::string streaming_context::ui_url() const { return impl_->ui ? impl_->ui->url() : ""; }
std::shared_ptr<detail::graph> streaming_context::graph() { return impl_->g; }

caf::actor_system& actor_system_of(streaming_context& ssc) { return *ssc.impl_->sys; }

} // namespace sluice
