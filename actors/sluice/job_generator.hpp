// job_generator: one tick per batch interval, from the system or a manual clock.
#pragma once

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

struct generator_state {
  caf::actor scheduler;
  int64_t batch_ms = 0;
  int64_t next = 0;     ///< the next batch time to emit
  bool manual = false;
  static inline const char* name = "sluice.job_generator";
};

/// With the system clock it arms a timer for each batch time; with a manual
/// clock it waits for `(advance_atom, int64_t now)` and emits a tick for every
/// batch time <= now (advancing by one interval gives exactly one batch).
/// Ticks go to `scheduler` as `(tick_atom, int64_t t)`. `first` is the first
/// batch time (SEMANTICS §1.1). Send an exit to stop it: it re-arms a timer.
caf::behavior job_generator(caf::stateful_actor<generator_state>* self, caf::actor scheduler,
                            int64_t batch_ms, int64_t first, bool manual);

/// Returns milliseconds since the Unix epoch (the system clock).
int64_t system_now_ms();

} // namespace sluice::detail
