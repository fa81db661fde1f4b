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
//
// Runs on different threads are independent (sluice::testing::run_seeds runs
// seeds on every core): each seed gives the same run as alone.
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
#include "sluice/testing/checkers.hpp"
#include "sluice/testing/fault_plan.hpp"
#include "sluice/testing/run_seeds.hpp"
#include "sluice/testing/scripted_receiver.hpp"

namespace sluice {

/// A named fault point in user code (e.g. "payments.write"). A no-op (one
/// relaxed atomic load) unless a simulation's plan arms `name` for the batch
/// running now, or the conf key `sluice.fault.<name>` armed it when a
/// streaming_context was built (syntax in persistence/FORMAT.md "Fault
/// specs"). When armed it does what the arming says, reproducibly: a plan's
/// fault throws a std::runtime_error "sluice: injected fault at <name>" at
/// the point's first hit in its batch; a conf spec throws, sleeps or ends the
/// process as it says. Thread-safe; inside a simulation run it answers to
/// that run's faults only. Throws `invalid_argument` for an empty name.
void fault_point(std::string_view name);

} // namespace sluice

namespace sluice::testing {

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
