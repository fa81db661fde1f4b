// chaos_run's faults carried out against a running program.
#pragma once

#include "plan.hpp"
#include "process.hpp"

namespace chaos_run {

/// Restarts the driver if it died of anything but our SIGKILL (a worker's
/// loss the context could not survive ends it): the faulty run goes on.
void keep_alive(program& p);

/// Injects `f` into the running `p` and returns once the fault is over (a
/// killed driver started again, a stopped process continued). A worker
/// fault at local[N], where there is no worker, does nothing.
void inject(program& p, const fault& f);

} // namespace chaos_run
