#define BOOST_TEST_MODULE testing/sim_cluster
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>

#include "fixtures/word_script.hpp"
#include "sluice/testing.hpp"

// The simulation with workers (simulation::workers): a driver and its
// workers as actor systems of this process on a simulated network, run by
// the test's thread. Their outputs must equal the one-process run's.

using namespace sluice;
using namespace sluice::testing;
using fixtures::split_words;
using fixtures::word_script;
using kv = std::pair<std::string, int64_t>;

namespace {

std::optional<int64_t> add(const std::vector<int64_t>& vs, std::optional<int64_t> s) {
  int64_t sum = s.value_or(0);
  for (auto v : vs)
    sum += v;
  return sum;
}

/// Running totals per word; `builds` counts the contexts the pipeline is
/// built in (the driver and each worker).
auto word_count(const scripted_input<std::string>& lines, std::shared_ptr<int> builds) {
  return [lines, builds](streaming_context& ssc) {
    ++*builds;
    return lines.stream(ssc)
      .flat_map(split_words)
      .map([](const std::string& w) { return kv{w, 1}; })
      .update_state_by_key(add);
  };
}

/// Counts per word over the last 3 batches, sliding by 1, summed up.
auto windowed_totals(const scripted_input<std::string>& lines) {
  return [lines](streaming_context& ssc) {
    return lines.stream(ssc)
      .flat_map(split_words)
      .map([](const std::string& w) { return kv{w, 1}; })
      .reduce_by_key_and_window(std::plus<int64_t>{}, seconds(3), seconds(1))
      .update_state_by_key(add);
  };
}

/// The running totals after batch `last`, counted from the script.
std::vector<kv> totals_until(int last) {
  std::map<std::string, int64_t> m;
  for (auto& [i, lines] : word_script(last))
    for (auto& l : lines)
      for (auto& w : split_words(l))
        ++m[w];
  return {m.begin(), m.end()};
}

} // namespace

BOOST_AUTO_TEST_CASE(a_stateful_word_count_on_two_simulated_workers_equals_the_one_process_run) {
  constexpr int batches = 55;
  simulation one{3};
  auto one_builds = std::make_shared<int>(0);
  auto alone = one.run(word_count(one.scripted_input<std::string>(word_script(batches)),
                                  one_builds), batches);
  simulation sim{3};
  sim.workers(2);
  BOOST_TEST(sim.workers() == 2);
  auto builds = std::make_shared<int>(0);
  auto clustered = sim.run(word_count(sim.scripted_input<std::string>(word_script(batches)),
                                      builds), batches);
  BOOST_TEST(*one_builds == 1);
  BOOST_TEST(*builds == 3);  // the driver and two workers
  BOOST_TEST(clustered.outputs().size() == static_cast<size_t>(batches));
  auto check = exactly_once(clustered, alone);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST((clustered.outputs().at(batches * 1000) == totals_until(batches)));
}

BOOST_AUTO_TEST_CASE(a_windowed_count_with_state_on_two_simulated_workers_equals_the_one_process_run) {
  constexpr int batches = 52;
  simulation one{5};
  auto alone = one.run(windowed_totals(one.scripted_input<std::string>(word_script(batches))),
                       batches);
  simulation sim{5};
  sim.config().master("local-cluster[2,1]");  // the same as sim.workers(2)
  auto clustered = sim.run(windowed_totals(sim.scripted_input<std::string>(word_script(batches))),
                           batches);
  BOOST_TEST(clustered.outputs().size() == static_cast<size_t>(batches));
  auto check = exactly_once(clustered, alone);
  BOOST_TEST(check.ok(), check.message());
}

BOOST_AUTO_TEST_CASE(two_runs_of_one_seed_on_simulated_workers_give_identical_traces) {
  auto run = [](uint64_t seed) {
    simulation sim{seed};
    sim.workers(2);
    auto builds = std::make_shared<int>(0);
    auto build = word_count(sim.scripted_input<std::string>(word_script(30)), builds);
    sim.faults(sim.random_faults({operator_error, process_crash}, 0.15));
    return sim.run(build, 30);
  };
  auto first = run(11);
  auto second = run(11);
  BOOST_TEST(!first.trace().empty());
  BOOST_TEST(first.trace() == second.trace(), boost::test_tools::per_element());
  BOOST_TEST((first.outputs() == second.outputs()));
}
