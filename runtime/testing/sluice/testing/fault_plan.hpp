// sluice::testing's faults and fault plans (<sluice/testing.hpp>): which
// fault strikes which batch of a simulation run, as a value with a text
// form, and the trace of what was injected and recovered.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::testing {

// -- faults and plans -----------------------------------------------------------

enum class fault_type : std::uint8_t {
  /// An operator throws at the batch (the engine's operator.run point): the
  /// context fails as Spark's does and the simulation restarts the driver
  /// (get_or_create from the checkpoint directory).
  operator_error,
  /// The process "crashes" once the batch's output operations ran: from then
  /// on nothing more is written to the checkpoint directory (the batch's
  /// metadata checkpoint is lost), the context is dropped and recovered
  /// through get_or_create, in this process. When no output operation runs at
  /// that batch (a window sliding over it) the crash falls after the batch.
  process_crash,
  /// The user fault point `point` throws at its first hit in the batch
  /// (`sluice::fault_point(point)`); the context fails and is restarted.
  user_point,
  /// The disk fills up once the batch's output operations ran: the
  /// checkpoint directory's SQLite files are opened through sluice's fault
  /// VFS (persistence/sluice/fault_vfs.hpp), whose writes then fail with
  /// SQLITE_FULL, so the batch's checkpoint write throws `storage_error`
  /// ("database or disk is full") and the context fails; the disk is freed
  /// and the context restarted through get_or_create, as for operator_error.
  /// When no output operation runs at that batch nothing is injected.
  storage_full,
  /// The process crashes, as process_crash, once the batch's output
  /// operations ran, but through the fault VFS: every SQLite file of the
  /// checkpoint directory loses what was not synced, and the last write
  /// before the `-wal` file's last sync (the end of its last commit) is torn
  /// to its first half, so SQLite's recovery drops that commit although it
  /// was acknowledged (a disk that lied about the sync). The context's
  /// connections fail from then on; it is dropped and recovered through
  /// get_or_create. When no output operation runs at that batch the crash
  /// falls after it.
  torn_write,
  /// A simulated worker is lost, as by SIGKILL, before the batch runs
  /// (simulation::workers; sim_network::cut): worker (batch mod the live
  /// workers) of those alive, in the order added. The driver sees its links
  /// close and confirms the loss by a ping that times out on the simulated
  /// clock (the simulation moves every node's CAF clock a heartbeat
  /// interval at a time until the batch has run), places its partitions on
  /// the survivors with the state of the last checkpoint, and runs the
  /// batches since again, in the same context (no restart). With
  /// sluice.cluster.replaceLostWorkers=true a new simulated worker joins
  /// then. Not injected when the run has no simulated workers or only one
  /// is alive (the trace says so).
  worker_loss,
  /// A simulated worker stalls, as by SIGSTOP, before the batch runs
  /// (sim_network::stall): the same worker worker_loss would pick runs
  /// nothing and answers nothing, but its links stay open, so the driver
  /// sees no link close. It is declared lost only by the heartbeat timeout
  /// (a ping unanswered for sluice.cluster.workerTimeout, on the simulated
  /// clock, which the simulation moves a heartbeat interval at a time), then
  /// handled as worker_loss: partitions placed on the others, state from the
  /// last checkpoint, the batches since run again, a replacement with
  /// sluice.cluster.replaceLostWorkers=true. Once the batch has run, the
  /// worker resumes, as by SIGCONT, with its clock where it stopped: it
  /// works off what waited for it (late answers and reports, which the
  /// driver ignores as it does a real stalled worker's), reads the driver's
  /// word that it was declared lost, and ends, as a worker process exits
  /// with status 1; its links then close and it stays lost. Not injected
  /// when worker_loss would not be.
  worker_stall,
  /// The receiver fails at the batch: its first store of the batch (a
  /// scripted_receiver stores each batch's records, or nothing, halfway
  /// through the batch) throws at the engine's receiver.store point, so the
  /// receiver asks for a restart, as a real receiver whose source failed
  /// would. Its supervisor reports the error, stops it and starts it again
  /// after sluice.streaming.receiverRestartDelay on the simulated clock
  /// (the simulation's default: a quarter of the batch interval, growing
  /// with consecutive restarts up to receiver.maxRestartDelay, by default
  /// half of it), before the batch is cut; the receiver then stores what it
  /// had not, once. No driver restart. Not injected when the pipeline has
  /// no receiver stream (the trace says so).
  receiver_crash,
  /// A simulated worker is lost, as by SIGKILL, in the middle of the batch:
  /// the worker and the moment are drawn from the simulation's seed and the
  /// batch index (the moment: after k steps of the simulated network, k
  /// uniform in [1, the steps the batch before took]), so some of the
  /// batch's stages ran, some of its shuffle buckets and results are on
  /// their way, and what the worker held in memory is gone. Handled as
  /// worker_loss (the driver sees the links close, confirms by a ping timing
  /// out on the simulated clock, places the worker's partitions on the
  /// others with the state of the last checkpoint of a completed batch and
  /// runs the batches since again). When the batch ends before the moment
  /// comes, the worker is lost right after it (the trace says so). Not
  /// injected when worker_loss would not be.
  worker_loss_mid_batch,
};

/// One kind of fault a plan injects. Text form: "operator_error",
/// "process_crash", "storage_full", "torn_write", "worker_loss",
/// "worker_stall", "receiver_crash", "worker_loss_mid_batch", "point:<name>".
struct fault {
  fault_type type = fault_type::operator_error;
  /// The user fault point's name (user_point only).
  std::string point;

  /// Throws `invalid_argument` unless `name` is non-empty and free of
  /// spaces, ',', '=' and ';' (the plan text's separators).
  static fault user_point(std::string name);

  std::string to_string() const;

  friend bool operator==(const fault&, const fault&) = default;
};

inline const fault operator_error{fault_type::operator_error, {}};
inline const fault process_crash{fault_type::process_crash, {}};
inline const fault storage_full{fault_type::storage_full, {}};
inline const fault torn_write{fault_type::torn_write, {}};
inline const fault worker_loss{fault_type::worker_loss, {}};
inline const fault worker_stall{fault_type::worker_stall, {}};
inline const fault receiver_crash{fault_type::receiver_crash, {}};
inline const fault worker_loss_mid_batch{fault_type::worker_loss_mid_batch, {}};

/// Which fault, if any, strikes each batch index (batch i runs at batch time
/// i x the batch interval; the first batch is 1). At most one fault per
/// batch; a fault strikes the first time its batch runs, not when a
/// recovery re-runs it. A plan is a value: copy it, print it, parse it back.
class fault_plan {
 public:
  /// No faults.
  fault_plan() = default;

  /// Each batch i draws, for each kind in order, from a generator seeded by
  /// (seed, i, the kind's text) only -- never by timing: the first kind whose
  /// draw is below `per_batch` strikes batch i. Throws `invalid_argument` for
  /// a probability outside [0, 1] or no kinds.
  static fault_plan random(std::uint64_t seed, std::vector<fault> kinds, double per_batch);

  /// Exactly these faults, by batch index (>= 1, else `invalid_argument`).
  static fault_plan explicit_faults(std::map<std::int64_t, fault> faults);

  /// Reads what `to_string()` writes: "none", "faults 3=operator_error,
  /// 7=point:payments.write" (explicit), or "random seed=42 p=0.05
  /// kinds=operator_error,process_crash". Throws `invalid_argument` naming
  /// the text and what was expected.
  static fault_plan parse(std::string_view text);

  /// The fault striking batch `index`, if any.
  std::optional<fault> at(std::int64_t index) const;

  /// The faults striking batches 1..batches, by index.
  std::map<std::int64_t, fault> faults_until(std::int64_t batches) const;

  bool empty() const noexcept {
    return !random_ && faults_.empty();
  }

  std::string to_string() const;

  friend bool operator==(const fault_plan&, const fault_plan&) = default;

 private:
  struct random_spec {
    std::uint64_t seed = 0;
    std::vector<fault> kinds;
    double per_batch = 0;
    friend bool operator==(const random_spec&, const random_spec&) = default;
  };
  std::optional<random_spec> random_;
  std::map<std::int64_t, fault> faults_;
};

/// One injected fault or recovery, at a batch index. Two runs of one seed
/// and plan give equal traces, event for event (nothing in them depends on
/// timing: no error message, no wall time).
struct trace_event {
  std::int64_t batch = 0;
  std::string what;

  friend bool operator==(const trace_event&, const trace_event&) = default;
};

/// "batch 4: process_crash after the outputs: ...".
inline std::ostream& operator<<(std::ostream& os, const trace_event& e) {
  return os << "batch " << e.batch << ": " << e.what;
}

/// One event a line, as operator<< prints it.
std::string to_string(const std::vector<trace_event>& trace);

} // namespace sluice::testing
