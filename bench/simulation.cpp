// Simulated batches per second (issue 14's figure): a word count with
// update_state_by_key and a 3-batch window, run by sluice::testing's
// simulation over --batches batches, fault-free and under a random plan of
// operator errors, process crashes and user fault points (--p per batch),
// for --seeds seeds. Counts every batch the engine ran, re-runs included.
// The seeds run on one thread, then on --threads threads at once
// (sluice::testing::run_seeds: the rate of a CI job running many seeds);
// each run is checked to give the same trace and restarts on both.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "bench_util.hpp"
#include "sluice/testing.hpp"

namespace {

using kv = std::pair<std::string, int64_t>;
using namespace sluice;
using namespace sluice::testing;

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in{line};
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"simulated batches per second"};
  int batches = 100;
  int seeds = 5;
  double p = 0.05;
  app.add_option("--batches", batches, "batches per run")->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeded plans")->check(CLI::PositiveNumber);
  app.add_option("--p", p, "fault probability per batch")->check(CLI::Range(0.0, 1.0));
  int runs = 3;
  app.add_option("--runs", runs, "runs of all seeds, each setting; min/median/max printed")
    ->check(CLI::PositiveNumber);
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--threads", threads, "threads running seeds at once after the 1-thread run "
                 "(1: that run only)")->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::map<int64_t, std::vector<std::string>> script;
  for (int i = 1; i <= batches; ++i)
    script[i] = {"a b c " + std::to_string(i % 7), "b c " + std::to_string(i % 5)};
  auto run = [&](uint64_t seed, bool faults) {
    simulation sim{seed};
    auto lines = sim.scripted_input<std::string>(script);
    auto build = [lines](streaming_context& ssc) {
      auto words = lines.stream(ssc).flat_map(split).map([](const std::string& w) {
        return kv{w, 1};
      });
      auto totals = words.update_state_by_key(
        [](const std::vector<int64_t>& vs, std::optional<int64_t> s) {
          return std::optional<int64_t>{s.value_or(0) + static_cast<int64_t>(vs.size())};
        });
      return totals.union_with(
        words.reduce_by_key_and_window(std::plus<int64_t>{}, seconds(3), seconds(1)));
    };
    if (faults)
      sim.faults(sim.random_faults({operator_error, process_crash, fault::user_point("x")}, p));
    auto r = faults ? sim.run(build, batches) : sim.run_without_faults(build, batches);
    // Batches run: each batch once, plus the re-runs after each recovery.
    int64_t ran = batches;
    for (auto& e : r.trace())
      if (e.what.rfind("recovered", 0) == 0)
        ran += e.batch - std::stoll(e.what.substr(e.what.rfind(' ') + 1));
    return std::tuple{ran, r.restarts(), r.trace()};
  };
  std::vector<unsigned> settings{1};
  if (threads > 1)
    settings.push_back(threads);
  // Fault-free and faulty runs, on 1 and on --threads threads, alternate:
  // all four see the same machine load.
  std::map<std::pair<unsigned, bool>, std::vector<double>> rates;
  std::map<bool, std::vector<std::vector<trace_event>>> traces;  // of the 1-thread runs
  for (int k = 1; k <= runs; ++k)
    for (unsigned n : settings)
      for (bool faults : {false, true}) {
        auto start = std::chrono::steady_clock::now();
        auto out = run_seeds(1, static_cast<size_t>(seeds),
                             [&](uint64_t seed) { return run(seed, faults); }, n);
        double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        int64_t ran = 0;
        int restarts = 0;
        std::vector<std::vector<trace_event>> seen;
        for (auto& [r, rs, trace] : out) {
          ran += r;
          restarts += rs;
          seen.push_back(std::move(trace));
        }
        if (traces[faults].empty()) {
          traces[faults] = std::move(seen);
        } else if (seen != traces[faults]) {
          std::fprintf(stderr, "error: a seed's trace %s differs from the first run's\n",
                       n > 1 ? "on several threads" : "on one thread");
          return 1;
        }
        rates[{n, faults}].push_back(ran / secs);
        std::printf("run %d, %u thread(s), simulation %s: %d seeds x %d batches, %lld batches "
                    "run (re-runs included), %d restarts, %.2f s: %.0f simulated batches/s "
                    "(%.2f ms each, restarts included)\n",
                    k, n, faults ? "under faults" : "fault-free", seeds, batches,
                    static_cast<long long>(ran), restarts, secs, ran / secs,
                    1000.0 * secs / ran);
        std::fflush(stdout);
      }
  for (unsigned n : settings)
    for (bool faults : {false, true}) {
      auto sp = bench::spread(rates[{n, faults}]);
      std::printf("simulation %s on %u thread(s), simulated batches/s over %d runs: min=%.0f "
                  "median=%.0f max=%.0f (goal >= 20000)\n",
                  faults ? "under faults" : "fault-free", n, runs, sp.min, sp.median, sp.max);
    }
}
