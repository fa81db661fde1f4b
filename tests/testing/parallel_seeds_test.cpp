#define BOOST_TEST_MODULE testing/parallel_seeds
#include <boost/test/unit_test.hpp>

// Simulations on several threads at once (sluice::testing::run_seeds): each
// seed gives the run it gives alone, with every kind of fault a one-process
// run can have (operator errors, process crashes, torn writes, full disks,
// receiver crashes, user fault points) and a simulated cluster's (lost and
// stalled workers), checked against a fault-free run.

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "fixtures/word_script.hpp"
#include "sluice/testing.hpp"

using namespace sluice;
using namespace sluice::testing;
using fixtures::split_words;
using fixtures::word_script;
using kv = std::pair<std::string, int64_t>;

namespace {

constexpr int batches = 24;

/// Running totals per word and counts over the last 3 batches, from a
/// receiver that writes ahead, with a user fault point.
auto pipeline(const scripted_receiver<std::string>& lines) {
  return [lines](streaming_context& ssc) {
    auto words = lines.stream(ssc)
                   .flat_map([](const std::string& line) {
                     sluice::fault_point("parallel.split");
                     return split_words(line);
                   })
                   .map([](const std::string& w) { return kv{w, 1}; });
    return words.update_state_by_key(fixtures::add_counts)
      .union_with(words.reduce_by_key_and_window(std::plus<int64_t>{}, seconds(3), seconds(1)));
  };
}

/// A plan of `faults` (kind by base batch), each at its base batch moved
/// by seed % 3, so seeds differ in where they strike.
fault_plan plan_for(std::uint64_t seed, const std::vector<std::pair<int, std::string>>& faults) {
  std::string text = "faults ";
  for (auto& [base, kind] : faults)
    text += (text.size() > 7 ? "," : "") + std::to_string(base + static_cast<int>(seed % 3)) + "="
            + kind;
  return fault_plan::parse(text);
}

/// Every kind of fault once, never at a fourth batch (which has no lines,
/// so no split hits the user point).
fault_plan plan_for(std::uint64_t seed) {
  return plan_for(seed, {{1, "operator_error"}, {5, "torn_write"}, {9, "storage_full"},
                         {13, "point:parallel.split"}, {17, "receiver_crash"},
                         {21, "process_crash"}});
}

struct seed_run {
  std::vector<trace_event> trace;
  int restarts = 0;
  batch_outputs<kv> outputs;
  std::string exactly_once;  // "" when the faulty run equals the fault-free one
};

/// What a test checks of one seed; the simulation and its receiver are the
/// call's own (a scripted_receiver keeps how far its run stored).
seed_run run(std::uint64_t seed) {
  simulation sim{seed};
  sim.config().set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  auto build = pipeline(sim.scripted_receiver(word_script(batches)));
  auto faulty = sim.replay(plan_for(seed), build, batches);
  auto clean = sim.run_without_faults(build, batches);
  auto check = exactly_once(faulty, clean);
  return {faulty.trace(), faulty.restarts(), faulty.outputs(),
          check.ok() ? std::string{} : check.message()};
}

} // namespace

BOOST_AUTO_TEST_CASE(seeds_on_four_threads_give_the_runs_they_give_alone) {
  const std::size_t seeds = 8;
  auto alone = run_seeds(1, seeds, run, 1);
  auto together = run_seeds(1, seeds, run, 4);
  BOOST_TEST_REQUIRE(alone.size() == seeds);
  BOOST_TEST_REQUIRE(together.size() == seeds);
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < seeds; ++i) {
    BOOST_TEST_CONTEXT("seed " << i + 1) {
      BOOST_TEST(alone[i].exactly_once == "");
      BOOST_TEST(together[i].exactly_once == "");
      BOOST_TEST(together[i].trace == alone[i].trace, to_string(together[i].trace));
      BOOST_TEST(together[i].restarts == alone[i].restarts);
      BOOST_TEST((together[i].outputs == alone[i].outputs));
      // The torn write, the operator error, the full disk, the user point and
      // the process crash each end the context: five restarts.
      BOOST_TEST(alone[i].restarts == 5, to_string(alone[i].trace));
      for (auto& e : alone[i].trace)
        kinds.insert(e.what.substr(0, e.what.find_first_of(" :")));
    }
  }
  BOOST_TEST((kinds == std::set<std::string>{"operator_error", "point", "process_crash",
                                             "receiver_crash", "recovered", "storage_full",
                                             "torn_write"}));
}

BOOST_AUTO_TEST_CASE(simulated_clusters_on_three_threads_give_the_runs_they_give_alone) {
  // A driver and 2 workers a run, each an actor system on CAF's test
  // multiplexer; lost and stalled workers, driver crashes and full disks.
  auto cluster_run = [](std::uint64_t seed) {
    simulation sim{seed};
    sim.workers(2);
    auto lines = sim.scripted_input<std::string>(word_script(batches));
    auto build = [lines](streaming_context& ssc) {
      return lines.stream(ssc)
        .flat_map(split_words)
        .map([](const std::string& w) { return kv{w, 1}; })
        .update_state_by_key(fixtures::add_counts);
    };
    auto faulty = sim.replay(plan_for(seed, {{2, "worker_loss"}, {6, "process_crash"},
                                             {10, "worker_stall"}, {14, "storage_full"},
                                             {18, "operator_error"}}),
                             build, batches);
    auto check = exactly_once(faulty, sim.run_without_faults(build, batches));
    return std::tuple{faulty.trace(), faulty.restarts(),
                      check.ok() ? std::string{} : check.message()};
  };
  auto alone = run_seeds(1, 6, cluster_run, 1);
  auto together = run_seeds(1, 6, cluster_run, 3);
  for (std::size_t i = 0; i < alone.size(); ++i) {
    BOOST_TEST_CONTEXT("seed " << i + 1) {
      auto& [trace, restarts, check] = alone[i];
      BOOST_TEST(check == "");
      BOOST_TEST(std::get<2>(together[i]) == "");
      BOOST_TEST(std::get<0>(together[i]) == trace, to_string(std::get<0>(together[i])));
      BOOST_TEST(std::get<1>(together[i]) == restarts);
      BOOST_TEST(restarts >= 2, to_string(trace));  // at least the crash and the error
    }
  }
}

BOOST_AUTO_TEST_CASE(run_seeds_returns_in_seed_order_and_rethrows_the_lowest_failure) {
  std::atomic<int> calls{0};
  auto square = [&](std::uint64_t seed) {
    ++calls;
    return seed * seed;
  };
  BOOST_TEST((run_seeds(3, 4, square, 2) == std::vector<std::uint64_t>{9, 16, 25, 36}));
  BOOST_TEST(calls == 4);
  BOOST_TEST(run_seeds(1, 0, square).empty());
  BOOST_TEST((run_seeds(UINT64_MAX, 1, square) == std::vector<std::uint64_t>{1}));
  calls = 0;
  try {
    run_seeds(
      1, 6,
      [&](std::uint64_t seed) {
        ++calls;
        if (seed == 2 || seed == 5)
          throw std::runtime_error("seed " + std::to_string(seed) + " failed");
        return seed;
      },
      3);
    BOOST_FAIL("expected the failure of seed 2");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string{e.what()} == "seed 2 failed");
  }
  BOOST_TEST(calls == 6);  // every seed ran
  try {
    run_seeds(UINT64_MAX, 2, square);
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(std::string{e.what()}
               == "run_seeds: 2 seeds from 18446744073709551615 on go past the largest "
                  "seed, 18446744073709551615");
  }
}
