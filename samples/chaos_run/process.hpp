// chaos_run's processes: the program under test (started, stopped, killed,
// started again) and its local-cluster workers, found as its children.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace chaos_run {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Polls `pred` every 20 ms until it holds (true) or `deadline` passed
/// (false): what it waits for is another process's doing (files, exits).
template <class Pred>
bool wait_until(Pred pred, milliseconds deadline) {
  auto until = clock_type::now() + deadline;
  while (!pred()) {
    if (clock_type::now() >= until)
      return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

/// Waits until none of `pids` exists, up to `deadline`: processes that are
/// not our children (a driver's workers), so no waitpid.
void wait_gone(const std::vector<pid_t>& pids, std::chrono::seconds deadline);

/// Returns the live children of `parent` (local-cluster workers), from /proc, sorted.
std::vector<pid_t> children_of(pid_t parent);

/// The program of one run. Its stdout and stderr are appended to `log`.
/// Destroying it SIGKILLs it and its workers; so does chaos_run's death
/// (PR_SET_PDEATHSIG), so no program outlives the chaos_run that started it.
class program {
 public:
  program(std::vector<std::string> args, std::filesystem::path log);
  ~program();
  program(const program&) = delete;
  program& operator=(const program&) = delete;

  void start();
  pid_t pid() const { return pid_; }
  /// Returns how many times start() ran.
  int starts() const { return starts_; }

  /// SIGKILL and reap, then wait (up to 30 s) until its local-cluster
  /// workers, which exit on their own once they lose the driver, are gone.
  void kill_driver();
  /// SIGTERM (a graceful stop), then SIGKILL, it and its workers, after 30 s.
  void stop();
  /// Returns whether it is not running, reaping it if it just exited.
  bool exited();
  /// Returns how its last run ended, e.g. "exit status 1" or "signal 9".
  std::string how_it_ended() const;
  /// Returns the last line of its log that is not empty (a failing
  /// program's error, as a rule), or "".
  std::string last_log_line() const;

 private:
  void kill_all();

  std::vector<std::string> args_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int starts_ = 0;
  int status_ = 0; ///< waitpid's status of the last run reaped
};

} // namespace chaos_run
