#define BOOST_TEST_MODULE testing/sim_receiver
#include <boost/test/unit_test.hpp>

// Receivers inside the deterministic simulation: scripted_receiver delivers
// a script through a real receiver pipeline (block manager, receiver WAL,
// tracker), and receiver_crash fails the receiver at a batch.

#include <string>
#include <vector>

#include "fixtures/counting_receiver.hpp"
#include "fixtures/error_text.hpp"
#include "fixtures/word_script.hpp"
#include "sluice/testing.hpp"

using namespace sluice;
using namespace sluice::testing;
using fixtures::contains;
using fixtures::split_words;
using fixtures::word_script;
using kv = std::pair<std::string, int64_t>;

namespace {

/// The stateful word count over any stream of lines.
dstream<kv> count_words(dstream<std::string> lines) {
  return lines.flat_map(split_words)
    .map([](const std::string& w) { return kv{w, 1}; })
    .update_state_by_key(fixtures::add_counts);
}

auto word_count(const scripted_receiver<std::string>& lines) {
  return [lines](streaming_context& ssc) { return count_words(lines.stream(ssc)); };
}

/// A simulation whose receivers write ahead: a driver restart loses nothing stored.
simulation with_wal(std::uint64_t seed) {
  simulation sim{seed};
  sim.config().set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  return sim;
}

const std::string crashed_and_restarted
  = "receiver_crash: the receiver's store failed (injected at receiver.store), it asked for a "
    "restart; its supervisor stopped it and started it again after the restart delay "
    "(simulated clock)";

} // namespace

BOOST_AUTO_TEST_CASE(scripted_receiver_outputs_equal_scripted_input) {
  auto sim = with_wal(1);
  auto script = word_script(36);
  auto input = sim.scripted_input<std::string>(script);
  auto by_input = sim.run_without_faults(
    [input](streaming_context& ssc) { return count_words(input.stream(ssc)); }, 36);
  auto by_receiver = sim.run_without_faults(word_count(sim.scripted_receiver(script)), 36);
  BOOST_TEST(by_receiver.outputs().size() == 36u);
  BOOST_TEST(by_receiver.outputs().at(36000).size() == 5u);  // every word seen by then
  auto check = exactly_once(by_receiver.outputs(), by_input.outputs(), by_receiver.describe());
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(by_receiver.trace().empty());
  BOOST_TEST(by_receiver.restarts() == 0);
}

BOOST_AUTO_TEST_CASE(records_land_in_exactly_their_scripted_batch) {
  simulation sim{2};
  auto numbers = sim.scripted_receiver<int>({{1, {1, 2}}, {3, {30}}, {5, {52, 50, 51}}});
  auto run = sim.run_without_faults([numbers](streaming_context& ssc) { return numbers.stream(ssc); },
                                    6);
  batch_outputs<int> want{{1000, {1, 2}}, {2000, {}}, {3000, {30}},
                          {4000, {}},     {5000, {50, 51, 52}}, {6000, {}}};
  BOOST_TEST((run.outputs() == want));
}

BOOST_AUTO_TEST_CASE(a_receiver_crash_loses_nothing_and_stores_nothing_twice) {
  auto sim = with_wal(3);
  auto build = word_count(sim.scripted_receiver(word_script(20)));
  auto plan = fault_plan::parse("faults 3=receiver_crash,7=receiver_crash,8=receiver_crash");
  auto faulty = sim.replay(plan, build, 20);
  auto clean = sim.run_without_faults(build, 20);
  auto check = exactly_once(faulty, clean);
  BOOST_TEST(check.ok(), check.message());
  // No driver restart: the receiver's supervisor restarted the receiver, on
  // the simulated clock, before each batch was cut.
  BOOST_TEST(faulty.restarts() == 0);
  std::vector<trace_event> want{
    {3, crashed_and_restarted}, {7, crashed_and_restarted}, {8, crashed_and_restarted}};
  BOOST_TEST((faulty.trace() == want), to_string(faulty.trace()));
  BOOST_TEST((faulty.plan() == plan));
}

BOOST_AUTO_TEST_CASE(receiver_crash_combines_with_driver_restarts) {
  auto sim = with_wal(4);
  auto build = word_count(sim.scripted_receiver(word_script(24)));
  auto plan = fault_plan::parse("faults 3=receiver_crash,5=process_crash,6=receiver_crash,"
                                "9=operator_error,10=receiver_crash,13=torn_write,"
                                "14=receiver_crash");
  auto faulty = sim.replay(plan, build, 24);
  auto clean = sim.run_without_faults(build, 24);
  auto check = exactly_once(faulty, clean);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(faulty.restarts() == 3);
  int crashes = 0;
  for (auto& e : faulty.trace())
    crashes += e.what == crashed_and_restarted;
  BOOST_TEST(crashes == 4, to_string(faulty.trace()));
}

BOOST_AUTO_TEST_CASE(random_plans_with_receiver_crashes_are_exactly_once_and_replay) {
  const int batches = 30;
  std::optional<run_result<kv>> clean;
  int struck = 0, receiver_crashes = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    auto sim = with_wal(seed);
    auto build = word_count(sim.scripted_receiver(word_script(batches)));
    if (!clean)
      clean = sim.run_without_faults(build, batches);
    sim.faults(sim.random_faults({receiver_crash, process_crash, operator_error, torn_write},
                                 0.06));
    auto faulty = sim.run(build, batches);
    auto check = exactly_once(faulty, *clean);
    BOOST_TEST(check.ok(), check.message());
    auto again = sim.run(build, batches);
    BOOST_TEST((again.trace() == faulty.trace()), "seed " << seed);
    BOOST_TEST((again.outputs() == faulty.outputs()), "seed " << seed);
    auto faults = faulty.plan().faults_until(batches);
    struck += static_cast<int>(faults.size());
    for (auto& [i, f] : faults)
      receiver_crashes += f == receiver_crash;
  }
  BOOST_TEST(struck >= 6);
  BOOST_TEST(receiver_crashes >= 2);
}

BOOST_AUTO_TEST_CASE(a_receiver_with_a_thread_of_its_own_is_still_refused) {
  simulation sim{5};
  auto build = [](streaming_context& ssc) { return ssc.receiver_stream(fixtures::counting_receiver{3}); };
  BOOST_CHECK_EXCEPTION(sim.run_without_faults(build, 2), invalid_argument,
                        [](const invalid_argument& e) {
                          std::string what = e.what();
                          return contains(what, "a receiver stores from a thread of its own, "
                                                "which sluice.streaming.clock=simulated does not "
                                                "allow");
                        });
}

BOOST_AUTO_TEST_CASE(receiver_crash_text_round_trips) {
  BOOST_TEST(receiver_crash.to_string() == "receiver_crash");
  auto text = std::string{"faults 2=receiver_crash,5=operator_error"};
  auto plan = fault_plan::parse(text);
  BOOST_TEST(plan.to_string() == text);
  BOOST_TEST((plan.at(2) == std::optional<fault>{receiver_crash}));
  auto random = fault_plan::random(9, {receiver_crash, process_crash}, 0.25);
  BOOST_TEST(random.to_string() == "random seed=9 p=0.25 kinds=receiver_crash,process_crash");
  BOOST_TEST((fault_plan::parse(random.to_string()) == random));
}

BOOST_AUTO_TEST_CASE(receiver_crash_without_a_receiver_is_not_injected) {
  simulation sim{6};
  auto input = sim.scripted_input<std::string>(word_script(6));
  auto build = [input](streaming_context& ssc) { return count_words(input.stream(ssc)); };
  auto faulty = sim.replay(fault_plan::parse("faults 2=receiver_crash"), build, 6);
  std::vector<trace_event> want{
    {2, "receiver_crash not injected: the pipeline has no receiver stream"}};
  BOOST_TEST((faulty.trace() == want), to_string(faulty.trace()));
  auto check = exactly_once(faulty, sim.run_without_faults(build, 6));
  BOOST_TEST(check.ok(), check.message());
}
