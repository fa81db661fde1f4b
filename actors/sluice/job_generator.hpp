// job_generator: one tick per batch interval, from the system or a manual clock.
#pragma once

#include <memory>
#include <mutex>

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

/// The batch times a manual clock has reached, sent to the scheduler as
/// `(tick_atom, int64_t t)` in order. Thread-safe: the context calls
/// `advance` from the thread that moves the clock, so a tick never waits for
/// a pool thread (with every pool thread running a task, a tick relayed by a
/// pool actor reached the scheduler only when a task ended; Spark's
/// JobGenerator has an event loop of its own).
class manual_ticks {
 public:
  manual_ticks(caf::actor scheduler, int64_t batch_ms, int64_t first)
      : scheduler_(std::move(scheduler)), batch_ms_(batch_ms), next_(first) {}
  /// Sends a tick for every batch time <= now not sent yet (advancing by one
  /// interval gives exactly one batch).
  void advance(int64_t now);

 private:
  std::mutex mtx_;
  caf::actor scheduler_;
  int64_t batch_ms_;
  int64_t next_; ///< guarded by mtx_
};

struct generator_state {
  caf::actor scheduler;
  int64_t batch_ms = 0;
  int64_t next = 0;                     ///< the first batch time not armed yet
  std::shared_ptr<manual_ticks> manual; ///< null: the system clock
  static inline const char* name = "sluice.job_generator";
};

/// With the system clock it arms each batch time's tick on CAF's clock
/// ahead of time (two intervals, at least 1 s), twice: to itself, relayed
/// to the scheduler when it runs, and one interval later to the scheduler
/// itself, which takes the first tick of a time and drops the other. The
/// relay is the usual path: this actor runs on the pool, and the pool
/// thread it wakes is awake when the batch's tasks come (a tick from CAF's
/// clock thread straight to the scheduler made `batch_overhead`'s
/// scheduling + processing ~60 us longer). The direct tick bounds how late
/// a tick comes when every pool thread runs a task: one interval, not until
/// a task ends (Spark's JobGenerator has a thread of its own).
/// With a manual clock it forwards `(advance_atom, int64_t now)` to
/// `manual` (which the context calls directly, but for the simulated
/// clock). Ticks go to `scheduler` as `(tick_atom, int64_t t)`. `first` is
/// the first batch time (SEMANTICS §1.1). Send an exit to stop it; ticks it
/// armed still come (the scheduler ignores ticks once stopped).
caf::behavior job_generator(caf::stateful_actor<generator_state>* self, caf::actor scheduler,
                            int64_t batch_ms, int64_t first,
                            std::shared_ptr<manual_ticks> manual);

/// Returns milliseconds since the Unix epoch (the system clock).
int64_t system_now_ms();

} // namespace sluice::detail
