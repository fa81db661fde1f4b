// job_scheduler: turns ticks into batches, tracks them to completion and has
// the output operations run, in their order, by its output runners
// (output_runner.hpp) while it goes on (spawn it detached).
#pragma once

#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <caf/all.hpp>

#include "sluice/initial_release.hpp"
#include "sluice/listener_bus.hpp"
#include "sluice/messages.hpp"
#include "sluice/output_runner.hpp"
#include "sluice/source.hpp"
#include "sluice/wiring.hpp"

namespace sluice::detail {

struct scheduler_config {
  int concurrent_jobs = 1;                       ///< sluice.streaming.concurrentJobs
  caf::actor listener_bus;
  /// Called once, on the job thread, inside the catch block of the failure's
  /// exception when there is one (std::current_exception() is its cause).
  std::function<void(std::string)> on_failure;
  /// With checkpoints: called on the job thread when a batch is generated
  /// (after its sources' `prepare`, with the batch times queued or running,
  /// its own included) and after each completed batch (with those still
  /// queued or running); returns the metadata checkpoint to store through
  /// `wiring::checkpoint_writer`: before the generated batch starts, and
  /// before the next batch starts. May throw, which fails the context.
  std::function<std::optional<metadata_checkpoint>(const batch_info&,
                                                   const std::vector<int64_t>&)>
    metadata;
  std::vector<source_base*> sources;             ///< parallel to plan.sources
  /// Cluster mode: called on the job thread when the cluster driver reports
  /// a worker lost (`why` says how) or a worker joined the running cluster
  /// (`joined`), after the scheduler paused (no batch starts, reports of the
  /// actors placed so far are ignored). The callee places the graph again
  /// and sends `(resume_atom, cut)`. Unset: a lost worker fails the context.
  std::function<void(std::string worker, std::string why, bool joined)> on_workers_changed;
};

/// An output operation whose last runs took less runs on the scheduler's
/// thread instead of a runner's (scheduler_state::slow_runs). Handing it to
/// a runner and back costs two thread wake-ups: `batch_overhead` (10 ms batches, a count and a
/// foreach_rdd) took 50 us more a batch, mean 180 -> 235 us.
constexpr int64_t inline_output_limit_us = 1000;

struct scheduler_state {
  wiring_ptr w;
  scheduler_config cfg;
  struct batch {
    batch_info info;
    int expected = 0;
    int done = 0;
    std::map<int, std::function<void()>> jobs;  // gather id -> output job
    std::set<int> reported;                     // gathers that reported
    size_t next_output = 0;                     // index into plan.outputs
    int pending_sources = 0;                    // receiver allocations not in yet
    std::vector<int64_t> source_records;        // per source, parallel to plan.sources
    uint64_t output_call = 0;                   // its output running now (a call number); 0: none
  };
  std::deque<std::pair<int64_t, int64_t>> queued;  ///< batch time, submission time (us)
  std::map<int64_t, batch> running;
  /// Generated batches whose metadata checkpoint is not stored yet: their
  /// output operations wait for it (their input is fixed in it).
  std::set<int64_t> unsaved;
  /// Completed batches whose completion checkpoint is not stored yet. They
  /// hold no slot of concurrent_jobs (Spark writes checkpoints off the job
  /// path); a drain up to one of them waits for it.
  std::set<int64_t> storing;
  /// The newest batch time generated (ticked).
  int64_t last_generated = 0;
  /// Allocations of batches not started yet: batch time -> source -> blocks.
  std::map<int64_t, std::map<size_t, std::optional<parts>>> allocated;
  int64_t last_completed = 0;
  /// With on_workers_changed: every batch's input as bytes, from its start
  /// until a state checkpoint covers it (batch time -> source -> parts, none
  /// for a source without partitions). A lost worker's batches re-run on it.
  struct kept_input {
    bool have = false;
    std::optional<std::vector<part_msg>> data;
  };
  std::map<int64_t, std::vector<kept_input>> retained;
  /// Inputs of batches up to this one were dropped (-1: none).
  int64_t dropped_through = -1;
  /// The two newest completed batches at state checkpoint times: inputs up
  /// to the older one are dropped (its state rows are surely stored).
  std::pair<int64_t, int64_t> checkpointed{-1, -1};
  /// A worker was lost: no batch starts until resume.
  bool replacing = false;
  /// While replacing: the oldest batch that had not completed when the
  /// scheduler paused (running, or queued to run again); max: none.
  int64_t first_open = std::numeric_limits<int64_t>::max();
  /// Operator and gather actors of earlier placements: what they still
  /// report is ignored (their batches run again).
  std::set<caf::actor_addr> retired;
  /// When the operators' initial states are released (initial_release.hpp);
  /// set up at the first completed batch.
  std::optional<initial_release> initial;
  /// sluice.streaming.concurrentJobs output runners (none when
  /// deterministic: outputs run on the scheduler's turn), and the call each
  /// runs (0: idle). Calls are numbered from 1 (`calls`: the last one).
  std::vector<caf::actor> runners;
  std::vector<uint64_t> runner_call;
  uint64_t calls = 0;
  /// Running batches whose next output waits for an idle runner (a batch
  /// given up while its output ran may still hold one), oldest first.
  std::deque<int64_t> waiting_outputs;
  /// Per output operation (index into plan.outputs): how many of its last
  /// runs in a row took inline_output_limit_us or more, up to 2 (2 before
  /// its first run). One with fewer than 2 runs on the scheduler's thread:
  /// a single run slowed by the host does not send the next to a runner.
  std::vector<int> slow_runs;
  /// Replies to stop, held until no output runs: once a stop is answered,
  /// no output operation runs or is left running.
  std::vector<caf::response_promise> stop_replies;
  bool stopped = false;
  bool failed = false;
  std::vector<std::pair<int64_t, caf::response_promise>> drains;
  /// The listener events of the step that runs now, held while an
  /// event_scope lives (job_scheduler_steps.hpp), and how many live.
  std::vector<listener_event> events;
  int event_scopes = 0;
  static inline const char* name = "sluice.job_scheduler";
};

/// Handles `(tick_atom, int64_t t)`, `gather_done`, `batch_failed`,
/// `(lost_atom, worker, why)`, `(join_atom, worker)` and `(resume_atom,
/// int64_t cut)` (cluster mode, replace_atoms.hpp), `(drain_atom, int64_t t)
/// -> bool` (replies once every batch up to t has completed and its
/// completion checkpoint is stored), `(stop_atom) -> bool` (no batch or
/// output starts afterwards; replies once no output runs) and
/// `(introspect_atom)` (actor_probe.hpp). `wiring` must be complete before the first tick.
///
/// It never waits on another actor: at a tick it asks each receiver
/// stream's tracker for the batch's blocks and goes on; with checkpoints, a
/// batch starts once its generation checkpoint is stored (the metadata that
/// fixes its input) and a job slot is free; each source's partitions enter
/// its stage as soon as they are there, and the output operations run in
/// their order as soon as their input is complete (so a stalled receiver
/// delays only what depends on it, and whatever comes after it in the
/// batch), on an output runner unless known to be short
/// (job_scheduler_outputs.cpp). A batch completes when every source
/// delivered and every output ran.
caf::behavior job_scheduler(caf::stateful_actor<scheduler_state>* self, wiring_ptr w,
                            scheduler_config cfg);

} // namespace sluice::detail
