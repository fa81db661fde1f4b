// local-cluster[W,C]: the driver re-runs its own executable (/proc/self/exe,
// same arguments) as W worker processes, each told its role through the
// environment (cluster_spec.hpp: SLUICE_WORKER, _CORES, _CONTEXT).
#pragma once

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sluice::detail {

class worker_processes {
 public:
  /// Starts `count` workers of `cores` cores for context `context`, joining
  /// the driver at `driver` ("HOST:PORT"). Their standard output goes to
  /// /dev/null (the program's prints belong to the driver); their standard
  /// error is the driver's (log lines). Throws sluice::error if one cannot
  /// be started.
  worker_processes(int count, int cores, const std::string& driver, int context);

  /// Starts `count` more, as the constructor did (a replacement for a lost
  /// worker); throws sluice::error if one cannot be started.
  void add(int count);

  /// Ends what is still running (end(5 s)).
  ~worker_processes();

  worker_processes(const worker_processes&) = delete;
  worker_processes& operator=(const worker_processes&) = delete;

  /// Waits up to `grace` for every worker to exit, then kills the rest
  /// (SIGKILL) and reaps them. Returns how many had to be killed.
  int end(std::chrono::milliseconds grace);

  /// The exit descriptions of workers that already ended ("pid 123 exited
  /// with status 1"), reaping them; for a start that waits in vain.
  std::vector<std::string> ended();

 private:
  std::vector<std::string> args_;  // this program's arguments
  std::vector<std::string> env_;   // the environment with the worker's role
  std::vector<pid_t> pids_;
};

} // namespace sluice::detail
