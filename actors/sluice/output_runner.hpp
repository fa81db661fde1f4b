// output_runner: runs output operations (foreach_rdd and the outputs built on
// it) off the job scheduler's thread, as Spark's job executor pool of
// sluice.streaming.concurrentJobs threads. While one batch's output runs, the
// scheduler goes on generating, starting and completing others; before, a
// slow output held back the next batch's generation (and its tasks) by its
// whole duration.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "sluice/messages.hpp"
#include "sluice/transport.hpp"

namespace sluice::detail {

using run_atom = caf::atom_constant<caf::atom("run")>;

/// What running one output operation gave.
struct output_run {
  int64_t start_us = 0;
  int64_t end_us = 0;
  /// Set when it threw a std::exception: its what() and the exception.
  bool failed = false;
  std::string what;
  std::exception_ptr cause;
};

/// Runs `job` on the calling thread (on_job_thread() is true meanwhile),
/// catching whatever it throws.
output_run run_output_job(const std::function<void()>& job);

struct output_runner_state {
  static inline const char* name = "sluice.output_runner";
};

/// Handles `(run_atom, uint64_t job) -> (int64_t start_us, int64_t end_us,
/// bool failed, std::string what, uint64_t cause)`: takes the
/// std::function<void()> kept under `job` in `net`, runs it, and replies
/// with when it started and ended. When it threw, `failed` is set, `what`
/// says what (a std::exception's what()) and `cause` is the exception kept
/// in `net` (its type reaches await_termination). A handle that holds no job
/// replies at once. Answers `(introspect_atom)` (actor_probe.hpp) between
/// two outputs.
/// Spawn it with spawn_service: a thread of its own, as the scheduler's.
caf::behavior output_runner(caf::stateful_actor<output_runner_state>* self,
                            std::shared_ptr<transport> net);

/// True on an output runner's thread while an output operation runs (a
/// stop from there must not wait for the operation it is called from).
bool on_job_thread();

} // namespace sluice::detail
