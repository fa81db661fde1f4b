// <sluice/testing.hpp> (target sluice::testing): a user's pipeline run under a
// seeded fault plan, one batch at a time, recovered after each fault as a
// restarted driver would be, and checked against the fault-free run
// (DESIGN.md "Faults", "Determinism seams"; README "Testing under faults").
//
//   sluice::testing::simulation sim{42};                    // SLUICE_SIM_SEED overrides
//   auto lines = sim.scripted_input<std::string>({{1, {"a b"}}, {3, {"b"}}});
//   auto build = [&](sluice::streaming_context& ssc) {      // built again after each fault
//     return lines.stream(ssc).flat_map(split).map(pair_1).update_state_by_key(add);
//   };
//   sim.faults(sim.random_faults({testing::operator_error, testing::process_crash}, 0.1));
//   auto faulty = sim.run(build, 50);
//   auto clean = sim.run_without_faults(build, 50);
//   auto check = sluice::testing::exactly_once(faulty, clean);
//   BOOST_TEST(check.ok(), check.message());  // names the batch, the seed and the plan
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/sluice.hpp"
#include "sluice/testing/scripted_receiver.hpp"

namespace sluice {

/// A named fault point in user code (e.g. "payments.write"). A no-op (one
/// relaxed atomic load) unless a simulation's plan arms `name` for the batch
/// running now, or the conf key `sluice.fault.<name>` armed it when a
/// streaming_context was built (syntax in persistence/FORMAT.md "Fault
/// specs"). When armed it does what the arming says, reproducibly: a plan's
/// fault throws a std::runtime_error "sluice: injected fault at <name>" at
/// the point's first hit in its batch; a conf spec throws, sleeps or ends the
/// process as it says. Thread-safe. Throws `invalid_argument` for an empty
/// name.
void fault_point(std::string_view name);

} // namespace sluice

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
};

/// One kind of fault a plan injects. Text form: "operator_error",
/// "process_crash", "storage_full", "torn_write", "worker_loss",
/// "worker_stall", "receiver_crash", "point:<name>".
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

// -- results and checkers --------------------------------------------------------

/// What an output produced: batch time (ms) -> its records.
template <class T>
using batch_outputs = std::map<std::int64_t, std::vector<T>>;

namespace detail {

/// What the non-template part of a run reports.
struct run_record {
  std::uint64_t seed = 0;
  /// The faults that struck (explicit; replays the run).
  fault_plan injected;
  std::vector<trace_event> trace;
  /// Contexts started after the first (restarted drivers).
  int restarts = 0;
};

template <class T>
concept ordered = requires(const T& a, const T& b) {
  { a < b } -> std::convertible_to<bool>;
};

template <class T>
void sort_records(std::vector<T>& v) {
  if constexpr (ordered<T>)
    std::sort(v.begin(), v.end());
}

template <class T>
std::string show(const std::vector<T>& v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      os << ", ";
    if (i == 20) {
      os << "... " << v.size() - 20 << " more";
      break;
    }
    format_record(os, v[i]);
  }
  os << ']';
  return os.str();
}

} // namespace detail

/// A simulation run's outcome.
template <class T>
class run_result {
 public:
  run_result(batch_outputs<T> out, detail::run_record rec)
      : outputs_(std::move(out)), rec_(std::move(rec)) {}

  /// What the pipeline's returned stream produced per batch time, each
  /// batch's records sorted (when T has `<`). Collected as an idempotent sink
  /// would: a batch re-run after a recovery replaces what it produced before.
  const batch_outputs<T>& outputs() const noexcept {
    return outputs_;
  }

  /// Every injected fault and every recovery, in order.
  const std::vector<trace_event>& trace() const noexcept {
    return rec_.trace;
  }

  /// The faults that struck, as an explicit plan: `simulation::replay` with
  /// it reproduces this run.
  const fault_plan& plan() const noexcept {
    return rec_.injected;
  }

  std::uint64_t seed() const noexcept {
    return rec_.seed;
  }

  /// Contexts started after the first (restarted drivers).
  int restarts() const noexcept {
    return rec_.restarts;
  }

  /// "seed 7, plan \"faults 4=process_crash\" (replay: SLUICE_SIM_SEED=7 or
  /// sim.replay(fault_plan::parse(\"faults 4=process_crash\"), ...))".
  std::string describe() const {
    auto p = rec_.injected.to_string();
    return "seed " + std::to_string(rec_.seed) + ", plan \"" + p + "\" (replay: SLUICE_SIM_SEED="
           + std::to_string(rec_.seed) + " or sim.replay(fault_plan::parse(\"" + p
           + "\"), build, batches))";
  }

 private:
  batch_outputs<T> outputs_;
  detail::run_record rec_;
};

/// A checker's verdict: ok, or a message naming the first differing batch
/// time, what was expected and found, and how to replay the run.
class check_result {
 public:
  check_result() = default;
  explicit check_result(std::string violation) : message_(std::move(violation)) {}

  bool ok() const noexcept {
    return message_.empty();
  }

  explicit operator bool() const noexcept {
    return ok();
  }

  /// Empty when ok.
  const std::string& message() const noexcept {
    return message_;
  }

 private:
  std::string message_;
};

/// Exactly-once: `actual` holds, for every batch time, the same records as
/// `expected` (the fault-free run), no more, no fewer (records compared
/// sorted when T has `<`). `run` names the faulty run in the message
/// (`run_result::describe()`).
template <class T>
check_result exactly_once(batch_outputs<T> actual, batch_outputs<T> expected,
                          std::string_view run) {
  for (auto* m : {&actual, &expected})
    for (auto& [t, v] : *m)
      detail::sort_records(v);
  auto empty = std::vector<T>{};
  auto a = actual.begin();
  auto e = expected.begin();
  while (a != actual.end() || e != expected.end()) {
    // The earlier batch time of the two; a missing one counts as empty.
    std::int64_t t = a == actual.end()     ? e->first
                     : e == expected.end() ? a->first
                                           : std::min(a->first, e->first);
    auto& got = (a != actual.end() && a->first == t) ? a->second : empty;
    auto& want = (e != expected.end() && e->first == t) ? e->second : empty;
    if (!(got == want))
      return check_result{"exactly-once violated at batch time " + std::to_string(t)
                          + " ms: expected " + detail::show(want) + " but got "
                          + detail::show(got) + " -- " + std::string{run}};
    if (a != actual.end() && a->first == t)
      ++a;
    if (e != expected.end() && e->first == t)
      ++e;
  }
  return {};
}

template <class T>
check_result exactly_once(const run_result<T>& faulty, const run_result<T>& clean) {
  return exactly_once(faulty.outputs(), clean.outputs(), faulty.describe());
}

/// At-least-once: for every batch time, `actual` holds the expected records
/// whole, one or more times (an appending sink that saw the batch re-run
/// after a recovery), and nothing else. Needs T with `<` and `==`.
template <class T>
check_result at_least_once(batch_outputs<T> actual, batch_outputs<T> expected,
                           std::string_view run) {
  static_assert(detail::ordered<T>, "at_least_once compares records sorted: T needs <");
  auto fail = [&](std::int64_t t, const std::vector<T>& want, const std::vector<T>& got) {
    return check_result{"at-least-once violated at batch time " + std::to_string(t)
                        + " ms: expected " + detail::show(want)
                        + " one or more times, whole, but got " + detail::show(got) + " -- "
                        + std::string{run}};
  };
  for (auto& [t, want] : expected) {
    auto i = actual.find(t);
    std::vector<T> got = i == actual.end() ? std::vector<T>{} : i->second;
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (want.empty() ? !got.empty() : got.empty() || got.size() % want.size() != 0)
      return fail(t, want, got);
    // got must be want with each record repeated k times.
    auto k = got.size() / std::max<size_t>(want.size(), 1);
    for (size_t j = 0; j < got.size(); ++j)
      if (!(got[j] == want[j / k]))
        return fail(t, want, got);
  }
  for (auto& [t, got] : actual)
    if (!expected.count(t) && !got.empty())
      return fail(t, {}, got);
  return {};
}

template <class T>
check_result at_least_once(const run_result<T>& faulty, const run_result<T>& clean) {
  return at_least_once(faulty.outputs(), clean.outputs(), faulty.describe());
}

// -- the simulation ---------------------------------------------------------------

/// Scripted input: records at given batch indexes (batch i runs at batch
/// time i x the interval), nothing at the others. A pure function of the
/// batch time, so a batch re-run after a recovery reads the same records.
template <class T>
class scripted_input {
 public:
  explicit scripted_input(std::map<std::int64_t, std::vector<T>> script)
      : script_(std::make_shared<const std::map<std::int64_t, std::vector<T>>>(std::move(script))) {}

  /// The input as a stream of `ssc` (call it in the build function, once
  /// per context). Its batches have `ssc.parallelism()` partitions.
  dstream<T> stream(streaming_context& ssc) const {
    auto script = script_;
    auto interval = ssc.batch_interval().count();
    int parts = ssc.parallelism();
    return ssc.queue_stream<T>(std::vector<std::vector<T>>{})
      .transform([script, interval, parts](const rdd<T>&, batch_time t) {
        auto i = script->find(t.ms / interval);
        return rdd<T>::slice(i == script->end() ? std::vector<T>{} : i->second, parts, parts);
      });
  }

 private:
  std::shared_ptr<const std::map<std::int64_t, std::vector<T>>> script_;
};

namespace detail {

/// Called by the harness's output with each batch time it ran for.
using delivered_fn = std::function<void(std::int64_t batch_ms)>;

/// Builds the user's pipeline in a fresh context and adds the harness's
/// output (last of the context's outputs), which calls the delivered_fn.
using build_fn = std::function<void(streaming_context&, delivered_fn)>;

struct sim_settings {
  std::uint64_t seed = 0;
  conf base;
  duration interval{1000};
  /// Simulated workers (simulation::workers); 0: one process.
  int workers = 0;
};

/// Runs `batches` batches under `plan` (README "Testing under faults"):
/// each context built through get_or_create in a fresh checkpoint directory
/// kept in memory (mem_vfs.hpp: `/sluice-mem/sim-<pid>-<n>`, nothing on the
/// disk; forgotten after the run),
/// the manual clock advanced one batch at a time; every actor runs on this
/// thread (sluice.streaming.clock=simulated), so each batch has ended when
/// the clock's advance returns. Throws `sluice::error` naming the seed and
/// plan when the pipeline fails without an injected fault or a batch
/// neither completes nor fails once every actor is idle (a hang).
run_record run_plan(const sim_settings& s, const fault_plan& plan, int batches,
                    const build_fn& build);

/// The seed: SLUICE_SIM_SEED when set (invalid_argument naming its value if
/// it is not a non-negative integer), else `seed`.
std::uint64_t seed_from_env(std::uint64_t seed);

} // namespace detail

/// A seeded simulation of a pipeline. Runs are sequential and use the
/// process-wide fault points: run one simulation at a time per process.
class simulation {
 public:
  /// `seed` seeds random_faults(); the environment variable SLUICE_SIM_SEED,
  /// when set, overrides it (to replay a failing seed without editing code).
  explicit simulation(std::uint64_t seed = 0) {
    settings_.seed = detail::seed_from_env(seed);
    settings_.base.master("local[2]").app_name("simulation").set("sluice.ui.enabled", "false");
  }

  std::uint64_t seed() const noexcept {
    return settings_.seed;
  }

  /// The conf every context of a run is built with (default local[2]); the
  /// simulation sets sluice.streaming.clock=simulated itself: a manual clock
  /// and every actor on CAF's deterministic test coordinator, on the thread
  /// that runs the simulation (so no receivers but scripted_receiver, no
  /// UI, and no cluster master but a simulated local-cluster[W,C]:
  /// workers()).
  conf& config() noexcept {
    return settings_.base;
  }

  /// Runs every context as a cluster of a driver and `n` simulated workers
  /// (n >= 1; 0, the default, runs one process): `n` + 1 actor systems in
  /// this process, each on CAF's test coordinator and test multiplexer,
  /// exchanging real BASP messages over a simulated network, all run by
  /// the simulation's thread, so a seed still gives one order of events.
  /// The build function runs once per node (the driver and each worker),
  /// as a program's main runs in every process of local-cluster[W,C]; the
  /// outputs equal a one-process run's. A master of local-cluster[W,C] in
  /// config() means the same (W workers of C cores). Throws
  /// `invalid_argument` for n < 0.
  void workers(int n) {
    if (n < 0)
      throw invalid_argument("simulation: the number of workers must be >= 0, got "
                             + std::to_string(n));
    settings_.workers = n;
  }

  /// The simulated workers (default 0: one process).
  int workers() const noexcept {
    return settings_.workers;
  }

  /// The batch interval (default 1 s).
  void batch_interval(duration d) {
    if (d.count() <= 0)
      throw invalid_argument("simulation: the batch interval must be positive, got "
                             + sluice::to_string(d));
    settings_.interval = d;
  }

  template <class T>
  testing::scripted_input<T> scripted_input(std::map<std::int64_t, std::vector<T>> script) const {
    return testing::scripted_input<T>{std::move(script)};
  }

  /// The script delivered by a receiver (scripted_receiver). A run's
  /// receivers get sluice.streaming.receiverRestartDelay = a quarter of
  /// the batch interval and receiver.maxRestartDelay = half of it unless
  /// config() sets them, so a receiver failing halfway through a batch is
  /// back before the batch is cut.
  template <class T>
  testing::scripted_receiver<T> scripted_receiver(
    std::map<std::int64_t, std::vector<T>> script) const {
    return testing::scripted_receiver<T>{std::move(script)};
  }

  /// The plan run() uses (default: none).
  void faults(fault_plan plan) {
    plan_ = std::move(plan);
  }

  /// fault_plan::random seeded by this simulation's seed.
  fault_plan random_faults(std::vector<fault> kinds, double per_batch) const {
    return fault_plan::random(seed(), std::move(kinds), per_batch);
  }

  /// Runs batches 1..batches of `build(ssc)` (which builds the pipeline in
  /// the given context, the same way every time, and returns the stream whose
  /// records the result collects) under the plan; recovers after each fault.
  /// Throws `sluice::error` naming the batch, the seed and the plan when the
  /// pipeline fails without an injected fault (its error's message
  /// included) or a batch neither completes nor fails once every actor is
  /// idle.
  template <class Build>
  auto run(Build build, int batches) {
    return run_with(plan_, std::move(build), batches);
  }

  /// The same, without faults: the reference run.
  template <class Build>
  auto run_without_faults(Build build, int batches) {
    return run_with(fault_plan{}, std::move(build), batches);
  }

  /// The same under `plan` (e.g. a failing run's `plan()`, or one parsed
  /// from its printed text): the same trace, event for event.
  template <class Build>
  auto replay(const fault_plan& plan, Build build, int batches) {
    return run_with(plan, std::move(build), batches);
  }

 private:
  template <class Build>
  auto run_with(const fault_plan& plan, Build build, int batches) {
    using stream_type = std::invoke_result_t<Build&, streaming_context&>;
    using U = typename stream_type::value_type;
    struct collected {
      std::mutex mtx;
      batch_outputs<U> out;
    };
    auto got = std::make_shared<collected>();
    detail::build_fn fn = [&build, got](streaming_context& ssc, detail::delivered_fn delivered) {
      stream_type out = build(ssc);
      out.foreach_rdd([got, delivered](const rdd<U>& r, batch_time t) {
        auto v = r.collect();
        detail::sort_records(v);
        {
          std::lock_guard<std::mutex> guard{got->mtx};
          got->out[t.ms] = std::move(v);
        }
        delivered(t.ms);
      });
    };
    auto rec = detail::run_plan(settings_, plan, batches, fn);
    std::lock_guard<std::mutex> guard{got->mtx};
    return run_result<U>{std::move(got->out), std::move(rec)};
  }

  detail::sim_settings settings_;
  fault_plan plan_;
};

} // namespace sluice::testing
