// What a map_with_state checkpoint costs and how long recovery takes:
// 1 M int64 keys (int64 state) preloaded through state_spec::initial_state,
// 100 batches of 10 k updates (keys from a fixed-seed RNG) at 100 ms under
// the manual clock, the state stream checkpointed every 1 s (every 10th
// batch) and at the run's first batch. Every 10th checkpoint is a full
// snapshot (the first, with the initial load, and the one at batch 100); the
// others are deltas of the keys changed since the previous one (~95 k).
//
// Checkpoint cost = a checkpoint batch's processing delay (listener
// batch_info::processing_delay_us) minus the mean of the other batches.
// Recovery = get_or_create(dir, factory) + start + the first batch done
// (which, as the first batch of any run, writes a full snapshot again), in a
// new process of this program by default, as a driver restarted after a
// crash recovers (--recovery same: in this process, after the first run,
// where the allocator's heap left by that run makes it read differently).
// Each of --runs runs does all of it in a fresh directory; the summary gives
// min/median/max over the runs of each figure and of recovery / full
// snapshot (issue 15's goal: recovery under 1 s and under 3x the snapshot).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_util.hpp"
#include "child.hpp"
#include "sluice/sluice.hpp"

namespace {

using kv = std::pair<int64_t, int64_t>;
using bench::clock_type;
using bench::seconds_since;
using bench::initial_state;
using bench::temp_dir;
using bench::batch_recorder;

struct options {
  std::string master = "local[2]";
  int64_t keys = 1'000'000;
  int changed = 10'000;
  int batches = 100;
  int64_t interval_ms = 100;
  int64_t checkpoint_ms = 1000;
  uint64_t seed = 42;
  bool show_batches = false;
  int runs = 3;
  std::string recovery = "new";  ///< "new": recover in a new process; "same": in this one
  std::vector<std::string> self_args;  ///< this program's arguments, for the recovery process
};

/// The figures of one run.
struct figures {
  double full_ms = 0, delta_ms = 0, recovery_ms = 0;
};

std::vector<std::vector<kv>> make_batches(const options& o, int n, uint64_t seed) {
  return bench::uniform_updates(o.keys, n, o.changed, seed);
}

/// The program: the same graph for the first run and for recovery.
sluice::streaming_context make_context(const options& o, const std::string& dir,
                                       std::vector<std::vector<kv>> input) {
  sluice::conf c;
  c.app_name("bench-checkpoint-cost")
    .master(o.master)
    .set("sluice.streaming.clock", "manual")
    .set("sluice.streaming.concurrentJobs", "1");
  sluice::streaming_context ssc{c, sluice::milliseconds(o.interval_ms)};
  ssc.checkpoint(dir);
  auto mapping = [](const int64_t& k, std::optional<int64_t> v, sluice::state<int64_t>& st) {
    int64_t sum = st.get_option().value_or(0) + v.value_or(0);
    st.update(sum);
    return kv{k, sum};
  };
  auto spec = sluice::state_spec<int64_t, int64_t, int64_t, kv>::function(mapping);
  spec.initial_state(ssc.make_rdd(initial_state(o.keys), 2));
  ssc.queue_stream(std::move(input), true)
    .map_with_state(spec)
    .checkpoint(sluice::milliseconds(o.checkpoint_ms))
    .foreach_rdd([](const sluice::rdd<kv>& r) { (void)r.count(); });
  return ssc;
}

/// Recovery: get_or_create from `dir` + start + the first batch done, in ms.
double recover(const options& o, const std::string& dir) {
  auto t0 = clock_type::now();
  auto ssc = sluice::streaming_context::get_or_create(
    dir, [&] { return make_context(o, dir, make_batches(o, 1, o.seed + 1)); });
  auto waiter = std::make_shared<bench::completion_waiter>();
  ssc.add_listener(waiter);
  ssc.start();
  ssc.manual_clock().advance(sluice::milliseconds(o.interval_ms));
  if (!waiter->wait_for(1, std::chrono::seconds(600)))
    throw std::runtime_error("timed out waiting for the first recovered batch");
  double ms = seconds_since(t0) * 1000.0;
  ssc.stop(false);
  ssc.await_termination();
  return ms;
}

/// One run: the first run with its checkpoints, then the recovery.
figures run_once(const options& o) {
  temp_dir dir{"sluice-checkpoint-cost"};
  auto interval = sluice::milliseconds(o.interval_ms);
  int every = static_cast<int>(o.checkpoint_ms / o.interval_ms);
  // First run: all batches, a state checkpoint every `every` batches.
  std::vector<std::pair<int64_t, double>> d;
  double wall_s = 0;
  {
    auto ssc = make_context(o, dir.str(), make_batches(o, o.batches, o.seed));
    auto recorder = std::make_shared<batch_recorder>();
    ssc.add_listener(recorder);
    ssc.start();
    auto t0 = clock_type::now();
    for (int i = 1; i <= o.batches; ++i) {
      ssc.manual_clock().advance(interval);
      if (!recorder->wait_for(i, std::chrono::seconds(600)))
        throw std::runtime_error("timed out waiting for batch " + std::to_string(i));
    }
    wall_s = seconds_since(t0);
    ssc.stop(false);
    ssc.await_termination();
    d = recorder->delays_ms();
  }
  // Batch i (1-based) checkpoints when i == 1 or i % every == 0; the first
  // batch also loads the initial state, so it is left out of the baseline.
  auto checkpoints_at = [&](size_t i) { return i == 0 || (i + 1) % static_cast<size_t>(every) == 0; };
  double base = 0;
  int nbase = 0;
  for (size_t i = 1; i < d.size(); ++i)
    if (!checkpoints_at(i)) {
      base += d[i].second;
      ++nbase;
    }
  base /= std::max(nbase, 1);
  std::printf("keys=%lld changed_per_batch=%d batches=%d interval_ms=%lld checkpoint_ms=%lld "
              "first_batch_ms=%.1f non_checkpoint_batch_ms_mean=%.2f wall_s=%.1f\n",
              static_cast<long long>(o.keys), o.changed, o.batches,
              static_cast<long long>(o.interval_ms), static_cast<long long>(o.checkpoint_ms),
              d.front().second, base, wall_s);
  if (o.show_batches) {
    std::printf("  batch_ms:");
    for (auto& [t, ms] : d)
      std::printf(" %.1f", ms);
    std::printf("\n");
  }
  double full_ms = 0, delta_sum = 0;
  int ndelta = 0, ncp = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (!checkpoints_at(i))
      continue;
    bool full = ncp % 10 == 0;
    double cost = d[i].second - base;
    std::printf("  checkpoint %d at batch %zu (t=%lld): %s, batch_ms=%.1f cost_ms=%.1f\n",
                ncp + 1, i + 1, static_cast<long long>(d[i].first),
                i == 0 ? "full snapshot of all keys, with the initial load"
                : full ? "full snapshot of all keys"
                       : "delta of the changed keys",
                d[i].second, cost);
    if (full && ncp > 0 && full_ms == 0)
      full_ms = cost;
    else if (!full) {
      delta_sum += cost;
      ++ndelta;
    }
    ++ncp;
  }
  double delta_ms = ndelta > 0 ? delta_sum / ndelta : 0;
  std::fflush(stdout);
  // Recovery: the same program from the checkpoint, to its first batch done,
  // in a new process as a restarted driver does (or in this one).
  double recovery_ms = 0;
  if (o.recovery == "same") {
    recovery_ms = recover(o, dir.str());
  } else {
    auto args = o.self_args;
    args.insert(args.end(), {"--recover-from", dir.str()});
    auto out = bench::run_self(args, "  recovery process: ");
    auto at = out.find("recovery_ms=");
    if (at == std::string::npos
        || std::sscanf(out.c_str() + at, "recovery_ms=%lf", &recovery_ms) != 1)
      throw std::runtime_error("the recovery process printed no recovery_ms");
  }
  std::printf("recovery (%s process): get_or_create + start + first batch = %.1f ms\n",
              o.recovery == "same" ? "the same" : "a new", recovery_ms);
  std::printf("checkpoint_full_ms=%.1f checkpoint_delta_ms=%.1f recovery_ms=%.1f keys=%lld "
              "recovery_over_full=%.2f\n",
              full_ms, delta_ms, recovery_ms, static_cast<long long>(o.keys),
              full_ms > 0 ? recovery_ms / full_ms : 0.0);
  std::fflush(stdout);
  return {full_ms, delta_ms, recovery_ms};
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice checkpoint cost: map_with_state state checkpoints (full and delta) "
               "and recovery time"};
  options o;
  app.add_option("--master", o.master, "local[N]")->capture_default_str();
  app.add_option("--keys", o.keys, "keys preloaded into state")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--changed", o.changed, "updates per batch")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--batches", o.batches, "batches in the first run")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "RNG seed of the update keys")->capture_default_str();
  app.add_flag("--show-batches", o.show_batches, "print every batch's processing time");
  app.add_option("--runs", o.runs, "runs (each a first run and a recovery)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--recovery", o.recovery,
                 "where recovery runs: 'new' (a new process of this program, as a restarted "
                 "driver) or 'same' (this process, after the first run)")
    ->capture_default_str()
    ->check(CLI::IsMember({"new", "same"}));
  std::string recover_from;
  app.add_option("--recover-from", recover_from,
                 "recover from this checkpoint directory, print recovery_ms and exit (what "
                 "--recovery new runs)");
  CLI11_PARSE(app, argc, argv);
  o.self_args.assign(argv, argv + argc);

  if (!recover_from.empty()) {
    try {
      std::printf("recovery_ms=%.1f\n", recover(o, recover_from));
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }

  try {
    std::vector<double> full, delta, recovery, ratio;
    for (int r = 1; r <= o.runs; ++r) {
      std::printf("run %d of %d\n", r, o.runs);
      auto f = run_once(o);
      full.push_back(f.full_ms);
      delta.push_back(f.delta_ms);
      recovery.push_back(f.recovery_ms);
      ratio.push_back(f.full_ms > 0 ? f.recovery_ms / f.full_ms : 0.0);
    }
    auto line = [&](const char* what, const std::vector<double>& xs, const char* unit) {
      auto sp = bench::spread(xs);
      std::printf("%s min/median/max = %.2f/%.2f/%.2f%s (%d runs)\n", what, sp.min, sp.median,
                  sp.max, unit, o.runs);
    };
    line("checkpoint_full_ms", full, " ms");
    line("checkpoint_delta_ms", delta, " ms");
    line("recovery_ms", recovery, " ms");
    line("recovery_over_full", ratio, "x (goal < 3)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
