// The state behind a streaming_context (pimpl): actor system, graph, actors
// and the lifecycle thread that carries out stops.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/all.hpp>

#include "cluster_spec.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/checkpoint_writer.hpp"
#include "sluice/conf.hpp"
#include "sluice/graph.hpp"
#include "sluice/job_scheduler.hpp"
#include "sluice/listener_bus.hpp"
#include "sluice/receiver_pipeline.hpp"
#include "sluice/streaming_context.hpp"
#include "sluice/wiring.hpp"

namespace sluice::detail::ui {
class web_ui;
} // namespace sluice::detail::ui

namespace sluice::detail {

class worker_processes;
class sim_network;
class sim_cluster;

enum class context_state { initialized, active, stopped };

class context_impl {
 public:
  context_impl(sluice::conf c, duration batch);
  ~context_impl();

  void start();
  void stop(bool graceful);
  void await();
  bool await_for(duration d);
  /// How checkpoint_store opens the checkpoint database (from the conf).
  checkpoint_store::options store_options() const;
  /// Records the first failure and stops the context asynchronously.
  void fail(std::string what);
  /// Asks the lifecycle thread for a graceful stop (signal watcher).
  void request_graceful_stop() { request_stop(true); }

  sluice::conf cfg;
  duration batch;
  int parallelism;
  bool manual;
  /// sluice.streaming.clock=simulated: a manual clock, and every actor on
  /// CAF's test coordinator, run by the thread that moves the clock
  /// (sluice/deterministic.hpp); no lifecycle thread.
  bool simulated = false;
  std::unique_ptr<caf::actor_system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  /// Packs records between the actors; bytes for every message with
  /// sluice.serializer.local=true.
  std::shared_ptr<transport> net;
  std::shared_ptr<graph> g;
  sluice::manual_clock clock;
  listener_list listeners;
  std::optional<std::string> checkpoint_dir;
  /// Set by get_or_create: the batch time of the checkpoint to recover from.
  std::optional<int64_t> recover_from;
  /// Set by get_or_create: the checkpointed run's zero time, if recorded.
  std::optional<int64_t> recovered_zero;
  /// Set by get_or_create: source id -> position from the metadata.
  std::vector<std::pair<std::string, std::string>> recovered_positions;
  /// Set by get_or_create: the store it recovered from, for start() to hand
  /// to the checkpoint writer instead of opening the database again (an
  /// open reads the schema and runs the pragmas: a restart's largest single
  /// cost in the simulation). Used only if checkpoint_dir is still `dir`.
  struct opened_store {
    std::string dir;
    std::unique_ptr<checkpoint_store> store;
  };
  std::optional<opened_store> recovery_store;
  /// The web UI, from start() (none with sluice.ui.enabled=false).
  std::unique_ptr<ui::web_ui> ui;

  /// The graph's description as stored in metadata checkpoints.
  std::string fingerprint() const;

  /// What the master asks for: one process or a cluster.
  cluster_spec cluster;
  /// This context's number in the process (1 = the first constructed): a
  /// local-cluster worker serves the context of the same number.
  int context_number = 0;
  /// Set when this process is a cluster worker serving this context: its
  /// start() joins the driver instead of running the graph.
  std::optional<worker_role> worker;
  /// A simulated cluster's network this context's actor system is in
  /// (sim_cluster.hpp), or nullptr; left in the destructor.
  sim_network* sim_net = nullptr;

 private:
  // -- start(), in steps (context_start.cpp; each throws to refuse the start)

  /// The first batch time and the zero time (first - batch, or the
  /// checkpointed run's zero time when recovering).
  struct start_times {
    int64_t first = 0;
    int64_t zero = 0;
  };
  /// Refuses a graph without output operations and conf combinations that
  /// cannot work, then plans the graph into stages and gathers. Nothing
  /// runs yet.
  std::shared_ptr<const plan> plan_graph();
  /// Checks stateful operators: a checkpoint directory, valid intervals.
  void validate_state(const plan& layout) const;
  /// Checks that every record type crossing an actor boundary has a
  /// sluice::codec when records travel as bytes.
  void validate_codecs(const plan& layout) const;
  /// Checks that records holding views (std::string_view) never leave the
  /// stage whose fused pass made them, except into a combine that keeps
  /// owning copies (combine_by_key, reduce_by_key, count_by_value).
  void validate_views(const plan& layout) const;
  /// Picks the batch times; recovering, moves the manual clock to the
  /// recovered batch.
  start_times choose_times();
  /// Builds the wiring, spawns the listener bus, has a cluster's workers
  /// join, picks the batch times (choose_times: after the joins, so a slow
  /// join does not leave the first batches due at once), spawns the job
  /// scheduler and the executor (operator and gather actors), and opens the
  /// checkpoint store. No batch runs before start_clock.
  start_times spawn_actors(std::shared_ptr<const plan> layout);
  /// Spawns the executor's actors: every stage slot and gather here, or in
  /// cluster mode the gathers here and the stage slots on the workers.
  void start_executors();
  /// With the web UI: spawns the actor sampler, which asks every actor of
  /// the context for its report each sluice.ui.sampleInterval (1 s) and
  /// hands them to the UI's statistics.
  void start_sampler();
  // -- cluster mode (cluster_start.cpp)
  /// The graph's description and the plan's stages, one a line: a worker
  /// joins only with the driver's.
  std::string cluster_fingerprint(const plan& layout) const;
  /// Whether the cluster's links use TLS (sluice.cluster.tls.*).
  bool tls() const;
  /// Loads CAF's middleman into the actor system's configuration for a
  /// cluster driver or worker, and OpenSSL's manager with the certificate,
  /// key and CA file for TLS; throws invalid_argument for a missing file.
  void configure_cluster_links();
  /// sluice.cluster.secret, else SLUICE_CLUSTER_SECRET, else empty.
  std::string cluster_secret() const;
  /// Refuses a driver address other than loopback without a secret.
  void check_cluster_address() const;
  /// Publishes the driver's endpoint, starts local-cluster workers and waits
  /// (sluice.cluster.startTimeout) until they joined; throws naming why not.
  void join_workers(caf::scoped_actor& self);
  /// Places the stage slots on the joined workers and starts the
  /// heartbeats.
  void place_on_workers(caf::scoped_actor& self);
  /// Places slot i of every stage on worker i mod W (of workers_), restoring
  /// state as of wiring_->restore_from, wires every actor and links the
  /// workers to each other (link_peers).
  void place_slots(caf::scoped_actor& self);
  /// Lifecycle thread: the cluster driver lost `worker` (`why` says how) or
  /// it joined the running cluster (`why` empty), and the scheduler paused.
  /// Takes the driver's list of workers, clears every executor, asks the
  /// checkpoint writer for the newest consistent state cut, spawns the
  /// gathers and places every slot on the workers as of that cut, and
  /// resumes the scheduler (which re-runs the batches after it). Fails the
  /// context when no worker is left or a step fails.
  void replace_worker(const std::string& worker, const std::string& why);
  /// local-cluster with sluice.cluster.replaceLostWorkers=true: starts a
  /// worker process in place of `lost`, which joins and gets a share.
  void start_replacement(const std::string& lost);
  /// Asks the lifecycle thread for replace_worker (the scheduler's
  /// on_workers_changed).
  void request_replace(std::string worker, std::string why);
  /// Ends the workers (they exit 0) and reaps local-cluster processes,
  /// killing those still running after `grace`.
  void end_cluster(caf::scoped_actor& self, std::chrono::milliseconds grace);
  /// A worker's first steps in start(), real or simulated: plans and checks
  /// the graph, marks it started and spawns the executor the driver places
  /// slots on (cluster_start.cpp). Returns the plan.
  std::shared_ptr<const plan> start_worker_executor();
  /// A worker's start(): joins the driver, hosts what it places here and
  /// ends the process when the driver ends the context (status 0) or is
  /// lost (status 1). Never returns.
  [[noreturn]] void serve_as_worker();
  /// A simulated worker's start() (sim_worker.cpp): as serve_as_worker,
  /// but joins through call() -- the driver listens already -- and returns
  /// once joined; the actors stay until the destructor ends them
  /// (end_simulated_worker). Throws sluice::error naming why it could not
  /// join.
  void serve_simulated();
  /// Ends a simulated worker's actors (thawing a lost one first), so its
  /// actor system can be destroyed.
  void end_simulated_worker();
  /// A worker's start(): spawns its worker_peers actor and publishes it on
  /// an ephemeral port (TLS as the driver link) at peer_bind_host(); fills
  /// `hello`'s peer_host and peer_port. Throws sluice::error naming the
  /// address when it cannot listen there, or would listen beyond loopback
  /// without a secret.
  caf::actor start_peer_endpoint(worker_hello& hello);
  /// Where a worker's peer endpoint listens: 127.0.0.1 when the driver is
  /// reached over loopback, else sluice.cluster.worker.host, else
  /// SLUICE_WORKER_HOST, else 0.0.0.0 (every interface).
  std::string peer_bind_host() const;
  /// Driver: lists every worker's peer endpoint (join order) to every
  /// worker and waits (sluice.cluster.workerTimeout each) until each has
  /// tried its links; a missing link is logged, never fatal (its messages
  /// go through the driver).
  void link_peers(caf::scoped_actor& self);
  /// Opens the checkpoint store and has the scheduler write a metadata
  /// checkpoint after every batch.
  void open_checkpoints(scheduler_config& sc);
  /// Starts every source (restoring recovered positions), with a metadata
  /// checkpoint before and after; stops what was started if one throws.
  void start_sources(const start_times& times);
  /// What sources need from the running context (listeners, failure, a
  /// receiver pipeline for a receiver stream).
  source_env make_source_env();
  /// Spawns the receiver pipeline of a receiver stream (its settings from
  /// the conf); throws illegal_state for the WAL without a checkpoint
  /// directory.
  void launch_receiver(receiver_launch launch, const source_env& env);
  /// A receiver pipeline's settings from the conf (and the WAL's directory,
  /// which needs ssc.checkpoint: illegal_state otherwise).
  receiver_settings receiver_settings_of(const receiver_launch& launch, const source_env& env);
  /// After every source started: gives the job scheduler each receiver
  /// stream's tracker, then starts the receivers (cluster mode: places them
  /// on the workers).
  void start_receivers();
  // -- receivers in cluster mode (receiver_placement.cpp)
  /// Driver: whether receivers run on the workers (sluice.cluster.receivers,
  /// "workers" by default) rather than in the driver's process ("driver").
  bool receivers_on_workers() const;
  /// Driver: places each receiver (`lost` empty: all, at start) or each one
  /// worker `lost` hosted on the workers, round-robin (Spark's
  /// ReceiverSchedulingPolicy), and starts it there. Throws naming the
  /// worker that could not host one.
  void place_receivers(caf::scoped_actor& self, const std::string& lost);
  /// Worker: hosts the receiver of `m.stream` (its graph node's receiver
  /// object) for the driver's tracker; returns {block manager, block
  /// generator, supervisor}, the receiver not started. Throws for a stream
  /// that is not a receiver stream or is hosted here already.
  std::vector<caf::actor> host_receiver(const receiver_placement_msg& m, const std::string& name);
  /// Stops every receiver and cuts what it stored into blocks (stop()).
  void stop_receivers();
  /// Simulated mode, the clock moving to `t_ms`: the receivers' timers
  /// (CAF's test clock) move halfway, the threadless receivers store what
  /// their sources have up to `t_ms`, the timers move to `t_ms` (a restart
  /// due by then starts the receiver again) and the receivers store once
  /// more; all before the job generator cuts batch `t_ms`, which so takes
  /// exactly what was stored for it (receiver_launch.cpp).
  void feed_receivers(int64_t t_ms);
  /// Runs f; if it throws, stops the parts already started and rethrows.
  template <class F>
  void stop_if_throws(F f);
  /// Spawns the job generator (ticking from times.first), marks the context
  /// active and starts the lifecycle thread. Cannot fail.
  void start_clock(const start_times& times);
  /// The metadata checkpoint of batch `batch_ms` (the sources' positions
  /// now, `pending` the batches generated but not completed). Before the
  /// sources start (`sources_started` false) it holds the positions being
  /// recovered, or none.
  metadata_checkpoint make_metadata(int64_t batch_ms, const std::vector<int64_t>& pending,
                                    bool sources_started = true);
  /// Stores make_metadata(...) through the checkpoint writer and waits for
  /// it (start() only). Throws what the store threw (storage_error).
  void write_metadata(int64_t batch_ms, const std::vector<int64_t>& pending,
                      bool sources_started = true);
  /// Lets the checkpoint writer store what it was sent, then stops it.
  void stop_checkpoint_writer(caf::scoped_actor& self);
  /// Stops the sources and actors a failing start() has started.
  void stop_started_parts();
  void do_stop(bool graceful);
  void lifecycle_loop();
  /// Other modes: CAF's scheduling policy (sluice.scheduler.policy; a
  /// cluster worker's sluice.cluster.workerSchedulerPolicy when set).
  void configure_scheduler();
  /// Simulated mode: sets up the test coordinator, refusing what needs threads.
  void configure_simulated();
  /// Simulated mode: runs every actor until idle, carries out the worker
  /// replacements asked for meanwhile (each runs actors again), then a
  /// requested stop.
  void settle();
  void request_stop(bool graceful);

  std::mutex mtx_;
  std::condition_variable cv_;
  context_state state_ = context_state::initialized;
  bool starting_ = false;             // start() is running
  std::optional<std::string> error_;
  /// The sluice type of the exception behind error_, rethrown with its message.
  enum class failure_type : uint8_t { error, storage, invalid_argument, illegal_state,
                                      no_such_element };
  failure_type failure_type_ = failure_type::error;
  /// Throws what stopped the context, if anything (mtx_ held).
  void rethrow_failure() const;
  /// The failure_type of the exception in flight (error outside a catch).
  static failure_type current_failure_type();
  /// Tells the listeners (on_streaming_failed), once the bus runs.
  void publish_failure(std::string what, failure_type type);
  std::optional<bool> stop_request_;  // graceful?
  std::vector<std::pair<std::string, std::string>> replace_requests_;  // lost worker, why
  std::thread lifecycle_;
  std::mutex stop_mtx_;               // one do_stop at a time

  std::shared_ptr<wiring> wiring_;
  caf::actor generator_;
  caf::actor bus_;
  caf::actor sampler_;                // asks the actors for the web UI's live view
  caf::actor executor_;               // hosts the operator and gather actors
  caf::actor checkpoint_writer_;   // owns sluice.db, with ssc.checkpoint(dir)
  metadata_checkpoint metadata_;  // the parts of every metadata checkpoint fixed at start
  /// One per receiver stream, from start(); destroyed first (exits their
  /// actors while the actor system lives).
  std::vector<std::unique_ptr<receiver_pipeline>> receivers_;
  /// Simulated mode: the receivers pumped by feed_receivers (all of them:
  /// a receiver with threads is refused), and the manual clock's time CAF's
  /// test clock stands at.
  std::vector<std::shared_ptr<supervised_receiver>> threadless_;
  int64_t timers_ms_ = 0;
  // Cluster mode, driver side.
  caf::actor cluster_endpoint_;  // published: workers join through it
  uint16_t cluster_port_ = 0;
  caf::actor checkpoint_relay_;  // the workers' checkpoint writer (checkpoint_relay.hpp)
  caf::actor scheduler_relay_;   // the workers' job scheduler (scheduler_relay.hpp)
  std::unique_ptr<worker_processes> worker_procs_;  // local-cluster's workers
  sim_cluster* sim_cluster_ = nullptr;  // simulated local-cluster: builds the workers
  std::vector<caf::actor> sim_worker_actors_;  // a simulated worker's: ended at destruction
  int replacements_ = 0;  // local-cluster workers started for lost ones
  std::vector<worker_hello> workers_;                // joined, in join order
  std::map<int32_t, std::string> receiver_worker_;   // receiver stream -> worker hosting it
  size_t next_receiver_worker_ = 0;                  // round-robin position
};

} // namespace sluice::detail
