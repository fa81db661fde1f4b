// The messages that re-place a lost worker's share of the graph (cluster
// mode, DESIGN.md "Distribution"): the cluster driver tells the job
// scheduler that a worker was lost, every executor clears what it hosts,
// the checkpoint writer names the newest consistent state cut, and the
// scheduler resumes by re-running the batches after that cut. Atoms only:
// the values they carry are built-in types.
#pragma once

#include <caf/atom.hpp>

namespace sluice::detail {

/// `(lost_atom, std::string worker, std::string why)` to the job scheduler.
using lost_atom = caf::atom_constant<caf::atom("lost")>;
/// `(clear_atom) -> bool` to an executor: every actor it hosts terminated.
using clear_atom = caf::atom_constant<caf::atom("clear")>;
/// `(cut_atom, std::vector<int32_t> ops, std::vector<int32_t> partitions,
/// int64_t bound) -> int64_t` to the checkpoint writer: the newest batch
/// time up to `bound` every state of the listed operators can be restored
/// as of (-1: none stored yet). `(cut_atom) -> int64_t` to the paused job
/// scheduler: that bound, the newest batch time up to which every batch
/// completed (a state checkpoint of a batch whose outputs did not run
/// cannot be the cut: that batch would run neither before nor after it).
using cut_atom = caf::atom_constant<caf::atom("cut")>;
/// `(resume_atom, int64_t cut)` to the job scheduler: the graph was placed
/// again with its state as of `cut`; the batches after it run again.
using resume_atom = caf::atom_constant<caf::atom("resume")>;

} // namespace sluice::detail
