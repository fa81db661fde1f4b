// Cluster mode's inputs: what the master URL asks for, and whether this
// process is a worker (the environment its driver, or an operator, started
// it with).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::detail {

struct cluster_spec {
  /// local: one process; local_cluster: local-cluster[W,C], the driver
  /// starts W workers of C cores; standalone: sluice://HOST:PORT, workers
  /// are started by hand.
  enum class mode : uint8_t { local, local_cluster, standalone } what = mode::local;
  int workers = 0;  ///< local_cluster: W
  int cores = 1;    ///< local_cluster: C
  std::string host = "127.0.0.1";  ///< where the driver listens
  uint16_t port = 0;               ///< 0: a free port (local_cluster)
};

/// Parses a master URL: local, local[N], local[*], local-cluster[W,C] or
/// sluice://HOST:PORT. Throws sluice::invalid_argument naming the URL and
/// what was expected.
cluster_spec parse_cluster(const std::string& master);

/// Throws the invalid_argument parse_cluster throws for `master`.
[[noreturn]] void bad_master(const std::string& master);

/// Set in a worker process: where its driver listens and what it serves.
struct worker_role {
  std::string host;
  uint16_t port = 0;
  int cores = 1;
  int context = 1;  ///< the context of the program it serves (1 = the first constructed)
  /// Set for a simulated worker (sim_cluster.hpp), which is no process of
  /// its own: its name, else host:pid; its peer endpoint's port, else any.
  std::string name;
  uint16_t peer_port = 0;
};

/// This process's role, read once from SLUICE_WORKER=HOST:PORT,
/// SLUICE_WORKER_CORES and SLUICE_WORKER_CONTEXT before main runs. The
/// variables are then removed from the environment: a program a worker
/// starts is not a worker. Throws invalid_argument for malformed values
/// (at the first context).
const std::optional<worker_role>& process_worker_role();

/// Numbers the contexts this process constructs: 1, 2, ... (thread-safe).
int next_context_number();

/// Whether `host` is a loopback address (127.0.0.0/8, localhost, ::1).
bool is_loopback(const std::string& host);

} // namespace sluice::detail
