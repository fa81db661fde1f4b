// streaming_context::start, in named steps: plan, validate, choose the
// times (recover), spawn, start the sources (wire them to the running
// actors), start the clock. Each step's contract is in context_impl.hpp.
#include "context_impl.hpp"
#include <algorithm>

#include "shutdown_hook.hpp"
#include "sluice/actor_probe.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/executor.hpp"
#include "sluice/job_generator.hpp"
#include "sluice/job_scheduler.hpp"
#include "ui/graph_view.hpp"
#include "ui/web_ui.hpp"

namespace sluice::detail {

namespace {

listener_list with_first(std::shared_ptr<streaming_listener> first, listener_list rest) {
  rest.insert(rest.begin(), std::move(first));
  return rest;
}

} // namespace

void context_impl::start() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    // Spark only warns here; sluice refuses, as it refuses other misuse.
    if (state_ == context_state::active || starting_)
      throw illegal_state("StreamingContext has already been started");
    if (state_ == context_state::stopped)
      throw illegal_state("StreamingContext has already been stopped");
    starting_ = true;
  }
  // A start that throws leaves the context startable (e.g. after adding the
  // missing output operation).
  struct clear_starting {
    context_impl* self;
    ~clear_starting() {
      std::lock_guard<std::mutex> guard{self->mtx_};
      self->starting_ = false;
    }
  } clear{this};
  if (worker && sim_net) {
    serve_simulated();  // joined; its actors run whenever the network runs
    return;
  }
  if (worker)
    serve_as_worker();  // ends this process when the driver ends the context
  auto layout = plan_graph();
  validate_state(*layout);
  validate_views(*layout);
  validate_codecs(*layout);
  g->mark_started();
  auto times = spawn_actors(layout);  // cleans up after itself when it throws
  start_sources(times);
  start_clock(times);
}

std::shared_ptr<const plan> context_impl::plan_graph() {
  if (g->outputs().empty())
    throw illegal_state("requirement failed: No output operations registered, so nothing to "
                        "execute");
  // Checked before any actor runs: an ack promises the lines are in the WAL.
  if (cfg.get_bool("sluice.streaming.socket.acknowledge", false)
      && !cfg.get_bool("sluice.streaming.receiver.writeAheadLog.enable", false))
    throw illegal_state("sluice.streaming.socket.acknowledge=true needs the receiver write-ahead "
                        "log: set sluice.streaming.receiver.writeAheadLog.enable=true");
  check_cluster_address();
  if (auto every = cfg.get_duration("sluice.ui.sampleInterval", milliseconds(1000)); every.count() <= 0)
    throw invalid_argument("sluice.ui.sampleInterval must be a positive duration, got "
                           + std::to_string(every.count()) + " ms");
  g->enable_retention();
  bool chaining = cfg.get_bool("sluice.streaming.operatorChaining", true);
  return std::make_shared<const plan>(make_plan(*g, chaining));
}

context_impl::start_times context_impl::choose_times() {
  int64_t now = manual ? clock.now().ms : system_now_ms();
  int64_t b = batch.count();
  int64_t first = (now / b + 1) * b;
  if (recover_from) {
    // Recovering: batches continue after the checkpointed one; those missed
    // while the process was down are generated at once (SEMANTICS §5.30).
    first = *recover_from + b;
    if (manual && clock.now().ms < *recover_from)
      clock.advance(duration{*recover_from - clock.now().ms});
  }
  // A recovered run keeps the checkpointed run's zero time: windows slide
  // and state checkpoints fall at the same times as before (Spark restores
  // the graph's zeroTime).
  int64_t zero = first - b;
  if (recover_from && recovered_zero && *recovered_zero <= zero
      && (zero - *recovered_zero) % b == 0)
    zero = *recovered_zero;
  return {first, zero};
}

context_impl::start_times context_impl::spawn_actors(std::shared_ptr<const plan> layout) {
  wiring_ = std::make_shared<wiring>();
  wiring_->layout = layout;
  wiring_->net = net;
  ui = ui::web_ui::start(cfg, batch);  // first on the bus: later listeners see it updated
  if (ui)
    ui->stats()->set_graph(ui::graph_view_of(*layout));
  bus_ = spawn_service(*sys, listener_bus,
                       ui ? with_first(ui->stats(), listeners) : listeners);
  if (cluster.what != cluster_spec::mode::local)
    stop_if_throws([&] {
      caf::scoped_actor self{*sys};
      join_workers(self);
    });
  auto times = choose_times();
  wiring_->info = run_info{batch_time{times.zero}, batch, parallelism};
  g->zero(wiring_->info.zero);
  scheduler_config sc;
  sc.concurrent_jobs = static_cast<int>(cfg.get_int("sluice.streaming.concurrentJobs", 1));
  sc.listener_bus = bus_;
  sc.on_failure = [this](std::string what) { fail(std::move(what)); };
  if (checkpoint_dir)
    open_checkpoints(sc);
  if (cluster.what != cluster_spec::mode::local)
    sc.on_workers_changed = [this](std::string worker, std::string why, bool joined) {
      request_replace(std::move(worker), joined ? std::string{} : std::move(why));
    };
  for (auto& [node, stage] : layout->sources)
    sc.sources.push_back(dynamic_cast<source_base*>(node));
  wiring_ptr w = wiring_;
  wiring_->scheduler = spawn_service(*sys, job_scheduler, w, std::move(sc));
  executor_ = sys->spawn(executor, wiring_, std::function<void(const run_info&)>{});
  stop_if_throws([&] { start_executors(); });
  return times;
}

void context_impl::open_checkpoints(scheduler_config& sc) {
  // Metadata checkpoint after every batch (SEMANTICS §5.30).
  std::unique_ptr<checkpoint_store> store;
  if (recovery_store && recovery_store->dir == *checkpoint_dir)
    store = std::move(recovery_store->store);
  recovery_store.reset();
  if (!store)
    store = checkpoint_store::open(*checkpoint_dir, store_options());
  checkpoint_writer_ = spawn_service(*sys, checkpoint_writer, std::move(store), net, bus_);
  metadata_.zero_time_ms = wiring_->info.zero.ms;
  metadata_.graph_fingerprint = fingerprint();
  metadata_.conf = cfg.entries();
  metadata_.conf.erase("sluice.ui.token");  // a secret stays out of sluice.db
  wiring_->checkpoint_writer = checkpoint_writer_;
  wiring_->restore_from = recover_from;
  for (auto& n : g->nodes())
    if (n->has_checkpointed_state()) {
      auto interval = n->checkpoint_interval();
      if (interval.count() == 0)
        interval = n->default_checkpoint_interval();
      wiring_->checkpoint_intervals_ms.push_back(interval.count());
    }
  sc.metadata = [this](const batch_info& b, const std::vector<int64_t>& pending) {
    return std::optional<metadata_checkpoint>{make_metadata(b.time.ms, pending)};
  };
}

void context_impl::start_sources(const start_times& times) {
  int64_t before_first = times.first - batch.count();
  // Before any source starts: a receiver may log blocks to the WAL at
  // once, and a database with WAL rows but no metadata is a damaged one.
  if (checkpoint_writer_)
    stop_if_throws([&] { write_metadata(before_first, {}, false); });
  auto env = make_source_env();
  stop_if_throws([&] {
    for (auto* s : g->sources()) {
      auto id = std::to_string(dynamic_cast<node_base*>(s)->id());
      for (auto& [sid, pos] : recovered_positions)
        if (sid == id)
          s->restore_position(pos);
      s->start(env);
    }
    start_receivers();
  });
  // Before the first batch: what the sources count as new from now on (the
  // files already in a directory) must survive a crash before the first
  // batch's checkpoint, or a file arriving meanwhile would be old after
  // the restart. A recovered run writes its recovery point again.
  if (checkpoint_writer_)
    stop_if_throws([&] { write_metadata(before_first, {}); });
}

source_env context_impl::make_source_env() {
  source_env env;
  env.info = wiring_->info;
  env.report = receiver_reporter(bus_);
  env.fail = [this](std::string what) { fail(std::move(what)); };
  for (auto every : wiring_->checkpoint_intervals_ms)
    env.replay_window = std::max(env.replay_window, duration{every});
  env.launch_receiver = [this, base = env](receiver_launch launch) {
    launch_receiver(std::move(launch), base);
  };
  return env;
}

void context_impl::start_receivers() {
  auto& srcs = wiring_->layout->sources;
  wiring_->trackers.assign(srcs.size(), caf::actor{});
  for (size_t i = 0; i < srcs.size(); ++i)
    for (auto& r : receivers_)
      if (r->stream() == srcs[i].first->id())
        wiring_->trackers[i] = r->tracker();
  for (auto& r : receivers_)
    r->start();
  if (receivers_on_workers() && !receivers_.empty()) {
    caf::scoped_actor self{*sys};
    place_receivers(self, "");
  }
}

template <class F>
void context_impl::stop_if_throws(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    publish_failure(e.what(), current_failure_type());
    stop_started_parts();
    throw;
  } catch (...) {
    stop_started_parts();
    throw;
  }
}

void context_impl::start_clock(const start_times& times) {
  std::shared_ptr<manual_ticks> ticks;
  if (manual)
    ticks = std::make_shared<manual_ticks>(wiring_->scheduler, batch.count(), times.first);
  generator_ = sys->spawn(job_generator, wiring_->scheduler, batch.count(), times.first, ticks);
  if (simulated) {
    timers_ms_ = clock.now().ms;
    clock.on_advance([this, gen = generator_](int64_t t) {
      if (!threadless_.empty())
        feed_receivers(t);
      caf::anon_send(gen, advance_atom::value, t);
      settle();  // the batch runs to its end before advance returns
    });
  } else if (manual)
    clock.on_advance([ticks](int64_t t) { ticks->advance(t); });
  if (ui)
    start_sampler();
  caf::anon_send(bus_, listener_event{listener_event::kind::streaming_started, {}, {}, {},
                                      now_us()});
  {
    std::lock_guard<std::mutex> guard{mtx_};
    state_ = context_state::active;
  }
  if (simulated)
    settle();
  else
    lifecycle_ = std::thread{[this] { lifecycle_loop(); }};
  if (cfg.get_bool("sluice.streaming.stopGracefullyOnShutdown", false))
    register_shutdown_hook(this);
}

void context_impl::start_sampler() {
  std::vector<probe_target> targets{{"job_generator", generator_, {}},
                                    {"job_scheduler", wiring_->scheduler, {}},
                                    {"listener_bus", bus_, {}},
                                    {"executor", executor_, {}}};
  if (checkpoint_writer_)
    targets.push_back({"checkpoint_writer", checkpoint_writer_, {}});
  for (auto& r : receivers_)
    for (auto& t : r->probe_targets())
      targets.push_back(std::move(t));
  auto interval = cfg.get_duration("sluice.ui.sampleInterval", milliseconds(1000));  // checked in plan_graph
  sampler_ = sys->spawn(actor_sampler, std::move(targets), std::chrono::milliseconds{interval.count()},
                        [stats = ui->stats()](std::vector<actor_report> reports, int64_t t) {
                          stats->on_actors(std::move(reports), t);
                        });
}

} // namespace sluice::detail
