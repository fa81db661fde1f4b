// A simulated cluster: the driver and its workers as separate actor systems
// of one process, on one sim_network, all run by the thread that runs the
// simulation (sluice::testing's simulation with workers; README "Testing
// under faults"). The analogue of local-cluster[W,C]'s processes: every
// worker builds the user's graph again, through the factory, as every
// worker process runs the user's main up to start().
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace sluice {
class streaming_context;
} // namespace sluice

namespace sluice::detail {

class sim_network;

/// The simulated cluster of the calling thread's simulation run. While one
/// exists on a thread (current()), a context built there with
/// sluice.streaming.clock=simulated and master local-cluster[W,C] is its
/// driver: its actor system joins the network, and its start() has W
/// workers built (the factory), connected and joined, in place of W
/// processes. Not thread-safe: one thread makes, runs and destroys it.
///
/// Lifetime: the driver's context must be destroyed before the cluster;
/// the cluster destroys its workers' contexts, then the network.
class sim_cluster {
public:
  /// Builds the user's graph in a new context (not started) with the conf
  /// of the driver, and returns it. Called once per worker, from the
  /// driver's start().
  using factory = std::function<std::unique_ptr<streaming_context>()>;

  /// Where the driver listens: every simulated node has its own multiplexer
  /// and ports, so fixed ones keep each run the same.
  static constexpr const char* host = "127.0.0.1";
  static constexpr uint16_t driver_port = 7077;
  /// Worker i's peer endpoint listens on first_peer_port + i, but for the
  /// first one alive when it is added: none of its peers connects to it.
  static constexpr uint16_t first_peer_port = 7100;

  /// Becomes the calling thread's current cluster. Throws illegal_state if
  /// one is current already.
  explicit sim_cluster(factory make_worker);
  ~sim_cluster();
  sim_cluster(const sim_cluster&) = delete;
  sim_cluster& operator=(const sim_cluster&) = delete;

  /// The calling thread's cluster, or nullptr.
  static sim_cluster* current();

  sim_network& network();

  // -- the driver's side (context_impl::join_workers) -------------------------

  /// Builds `n` more workers serving the driver's context number `context`
  /// and prepares their connections: to the driver at (host, driver_port),
  /// and from each worker to the peer endpoints of the workers after it.
  /// Call before the driver publishes (a port opens only once a connection
  /// to it is prepared) -- or after, for a replacement.
  void add_workers(caf::actor_system& driver, int n, int context);

  /// Starts the workers added and not started yet: each joins the driver
  /// (which must be listening) and hosts what it is given.
  void start_workers();

  /// Loses worker `index` (0-based, in the order added) as a SIGKILL would
  /// (sim_network::cut). Throws invalid_argument for an unknown or lost one.
  void lose(int index);

  /// Loses worker `index` as lose() does, but once the network has run
  /// `steps` more steps (sim_network::cut_after): in the middle of what
  /// runs next, e.g. a batch's stages. It counts as lost (alive() leaves it
  /// out) from now on. Throws invalid_argument for an unknown or lost
  /// worker, `steps` 0, or a loss armed already.
  void lose_after(int index, size_t steps);

  /// Whether the loss lose_after armed has not struck yet.
  bool loss_armed() const;

  /// Strikes the armed loss now (no-op if none is armed).
  void strike_armed();

  /// Steps the network has run (sim_network::steps).
  size_t steps() const;

  /// Stalls worker `index` as a SIGSTOP would (sim_network::stall): it runs
  /// nothing, its links stay open, what is sent to it waits. Its clock
  /// stands still until resume. Throws invalid_argument for an unknown,
  /// lost or stalled one.
  void stall(int index);

  /// How a stalled worker's resume ended.
  struct resumed {
    /// Its cluster_worker ended (what makes a worker process exit), as
    /// (status, why); none: it runs on as a member of the cluster.
    std::optional<std::pair<int, std::string>> exit;
  };

  /// Resumes stalled worker `index` as a SIGCONT would, and runs the
  /// network until idle: it reads what waited for it, answers late, and
  /// hears whether the driver declared it lost. If its cluster_worker ended
  /// then (a declared-lost worker is told so and ends), the worker "exits"
  /// as its process would: its links fail (sim_network::cut) and it counts
  /// as lost. Throws invalid_argument for a worker that is not stalled.
  resumed resume(int index);

  /// Workers added, neither lost nor stalled, by index.
  std::vector<int> alive() const;

  /// The promise a simulated worker's cluster_worker sets as it ends (its
  /// process's exit, in real cluster mode), for the worker context whose
  /// actor system is `sys`. Throws invalid_argument if `sys` is no worker's.
  std::shared_ptr<std::promise<std::pair<int, std::string>>> exit_promise(caf::actor_system& sys);

  /// Moves the CAF clock of the driver and of every live worker by `d`
  /// (sim_network::advance: due timeouts and delayed messages are queued,
  /// not run) and returns how many fired. The engine's batches follow the
  /// manual clock; this is the time the cluster's heartbeats and request
  /// timeouts see, e.g. the driver's heartbeat timeout after a loss.
  size_t advance(caf::timespan d);

  // -- a context's side (context_impl's constructor) --------------------------

  /// What a worker context being built by add_workers serves.
  struct worker_role {
    int index = 0;
    int context = 1;
    std::string name;  ///< "sim-worker-<index>"
    uint16_t peer_port = 0;  ///< 0: any (the test multiplexer picks one)
  };

  /// The role of the worker context being built now (its constructor takes
  /// it, once), or none: the driver.
  std::optional<worker_role> take_role();

  /// A context's actor system, once built (its constructor): added to the
  /// network; a worker's is kept by index.
  void enrol(caf::actor_system& sys, const std::optional<worker_role>& role);

private:
  struct worker;

  factory make_worker_;
  std::unique_ptr<sim_network> net_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::optional<worker_role> building_;
  caf::actor_system* driver_ = nullptr;
};

} // namespace sluice::detail
