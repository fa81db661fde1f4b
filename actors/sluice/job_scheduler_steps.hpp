// The job scheduler's steps that its source files share:
// job_scheduler.cpp (ticks, batches, completion),
// job_scheduler_outputs.cpp (running the output operations) and
// job_scheduler_replace.cpp (cluster mode: a lost worker's replacement).
#pragma once

#include <cstdint>
#include <string>

#include "sluice/job_scheduler.hpp"

namespace sluice::detail::scheduling {

using self_ptr = caf::stateful_actor<scheduler_state>*;

// job_scheduler.cpp

/// Sends `e` to the listener bus, or holds it while an event_scope lives.
void publish(self_ptr self, listener_event e);
/// Sends the events held so far, in their order, as one message. Called
/// before whatever lets another actor go on after this step (a reply,
/// cfg.on_failure), so that whoever then drains the bus sees them.
void flush_events(self_ptr self);

/// Holds the listener events published while it lives and sends them as
/// one message when the outermost scope ends. A batch publishes five
/// (submitted, started, an output's start and end, completed) in two
/// steps: two wake-ups of the bus's thread instead of five, and a tick's
/// tasks go out before the bus is woken (`batch_overhead`, 10 ms batches,
/// 5 interleaved pairs: scheduling delay p99 29-47 -> 5-7 us, mean of
/// scheduling + processing lower in each pair, by 4-24 us).
class event_scope {
 public:
  explicit event_scope(self_ptr self) : self_(self) {
    ++self_->state.event_scopes;
  }
  ~event_scope() {
    if (--self_->state.event_scopes == 0)
      flush_events(self_);
  }
  event_scope(const event_scope&) = delete;
  event_scope& operator=(const event_scope&) = delete;

 private:
  self_ptr self_;
};
/// Fails the context once (later failures are dropped): nothing starts and
/// cfg.on_failure hears `what`.
void fail(self_ptr self, const std::string& what);
/// fail() with the exception kept under `cause` in the transport (if it is
/// still there) as the current exception: its type reaches await_termination.
void fail_with_cause(self_ptr self, const std::string& what, uint64_t cause);
/// Answers the drains whose batches are all done (or the context stopped).
void check_drains(self_ptr self);
/// Starts queued batches while a job slot is free (not while paused for a
/// lost worker's replacement).
void try_start(self_ptr self);
/// Batch t is complete: reports it, lets its sources know, sends its
/// metadata checkpoint to be stored, and retires it.
void complete(self_ptr self, int64_t t);

// job_scheduler_replace.cpp (cluster mode: a lost worker's replacement)

/// Batch t completed: the inputs no re-run can need any more are dropped.
/// Without checkpointed state that is t's own; with it, those up to the
/// state checkpoint before the newest completed one (whose rows may still
/// be on their way to the checkpoint writer).
void drop_kept_inputs(self_ptr self, int64_t t);
/// A worker was lost: nothing starts, the running batches are given up
/// (they run again), and what the current actors still report is ignored.
void pause_for_replacement(self_ptr self);
/// The graph was placed again with its state as of `cut`: the batches
/// after it run again on their kept input, before those still queued.
void resume(self_ptr self, int64_t cut);
/// True for a report of an actor placed before a lost worker was replaced.
bool retired_sender(self_ptr self);

// job_scheduler_outputs.cpp

/// Runs the output operations of batch t that are due, in their order,
/// while their gathers have reported; then completes t if it is complete.
void run_outputs(self_ptr self, int64_t t);
/// Answers the stops that wait, once no output runs.
void answer_stops(self_ptr self);

} // namespace sluice::detail::scheduling
