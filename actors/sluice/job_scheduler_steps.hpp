// The job scheduler's steps that its two source files share:
// job_scheduler.cpp (ticks, batches, completion) and
// job_scheduler_outputs.cpp (running the output operations).
#pragma once

#include <cstdint>
#include <string>

#include "sluice/job_scheduler.hpp"

namespace sluice::detail::scheduling {

using self_ptr = caf::stateful_actor<scheduler_state>*;

// job_scheduler.cpp

void publish(self_ptr self, listener_event e);
/// Fails the context once (later failures are dropped): nothing starts and
/// cfg.on_failure hears `what`.
void fail(self_ptr self, const std::string& what);
/// fail() with the exception kept under `cause` in the transport (if it is
/// still there) as the current exception: its type reaches await_termination.
void fail_with_cause(self_ptr self, const std::string& what, uint64_t cause);
/// Batch t is complete: reports it, lets its sources know, sends its
/// metadata checkpoint to be stored, and retires it.
void complete(self_ptr self, int64_t t);

// job_scheduler_outputs.cpp

/// Runs the output operations of batch t that are due, in their order,
/// while their gathers have reported; then completes t if it is complete.
void run_outputs(self_ptr self, int64_t t);
/// Answers the stops that wait, once no output runs.
void answer_stops(self_ptr self);

} // namespace sluice::detail::scheduling
