// chaos_run's faults carried out against a running program.
#pragma once

#include "disk.hpp"
#include "plan.hpp"
#include "process.hpp"

namespace chaos_run {

/// Restarts the driver if it died of anything but our SIGKILL (a worker's
/// loss the context could not survive ends it): the faulty run goes on.
void keep_alive(program& p);

/// Injects `f` into the running `p` and returns once the fault is over (a
/// killed driver started again, a stopped process continued). A worker
/// fault at local[N], where there is no worker, does nothing.
///
/// full-disk fills `disk` (which holds the program's {checkpoint}) and
/// keeps it full until the program stops, at most `full_for`: a sluice
/// program stops with an error at its next checkpoint or block write
/// (await_termination rethrows a storage_error). Then the room is given back
/// and the program started again on the same checkpoint, as after a
/// kill-driver. A program still running after `full_for` is said on stdout
/// and left running once there is room. The outcome is printed as one line
/// starting "full-disk: ", with the program's exit and last log line.
/// @pre `disk` is not null when `f` is a full-disk fault.
void inject(program& p, const fault& f, small_disk* disk, milliseconds full_for);

} // namespace chaos_run
