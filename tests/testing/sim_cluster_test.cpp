#define BOOST_TEST_MODULE testing/sim_cluster
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

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

/// Seed 7, 2 workers, 30 batches of the word count with the one fault `f`
/// at batch 12: checks that its plan's text reads back, that the run is
/// exactly-once against the fault-free run, with the right final totals,
/// and no restart (the same driver); returns the trace's text.
std::string one_fault_at_batch_12(const fault& f, const std::string& plan_text) {
  constexpr int batches = 30;
  simulation sim{7};
  sim.workers(2);
  auto builds = std::make_shared<int>(0);
  auto build = word_count(sim.scripted_input<std::string>(word_script(batches)), builds);
  auto clean = sim.run_without_faults(build, batches);
  auto plan = fault_plan::explicit_faults({{12, f}});
  BOOST_TEST(plan.to_string() == plan_text);
  BOOST_TEST((fault_plan::parse(plan_text) == plan));
  sim.faults(plan);
  auto faulty = sim.run(build, batches);
  BOOST_TEST((faulty.plan() == plan));
  auto check = exactly_once(faulty, clean);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST((faulty.outputs().at(batches * 1000) == totals_until(batches)));
  BOOST_TEST(faulty.restarts() == 0);
  return to_string(faulty.trace());
}

/// The word count for `seed` on `workers` simulated workers that replace
/// lost ones, over `batches` batches, under the plan `plan_of(sim)`; the
/// first call also makes the fault-free run into `clean`.
template <class PlanOf>
run_result<kv> run_replacing(uint64_t seed, int workers, int batches,
                             std::optional<run_result<kv>>& clean, PlanOf plan_of) {
  simulation sim{seed};
  sim.workers(workers);
  sim.config().set("sluice.cluster.replaceLostWorkers", "true");
  auto builds = std::make_shared<int>(0);
  auto build = word_count(sim.scripted_input<std::string>(word_script(batches)), builds);
  if (!clean)
    clean = sim.run_without_faults(build, batches);
  sim.faults(plan_of(sim));
  return sim.run(build, batches);
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

BOOST_AUTO_TEST_CASE(a_worker_lost_at_a_batch_is_replaced_and_the_outputs_equal_the_fault_free_run) {
  auto trace = one_fault_at_batch_12(worker_loss, "faults 12=worker_loss");
  // Worker 12 mod 2 of the two; the driver's ping after the links closed
  // times out after twice the heartbeat interval (1 s), on the simulated
  // clock; the state is restored as of the last state checkpoint (every
  // 10 batches) and batches 11 and 12 run again.
  BOOST_TEST(trace
             == "batch 12: worker_loss: sim-worker-0 lost before the batch (as by SIGKILL), the "
                "driver removed sim-worker-0 after 2000 ms of simulated heartbeats, placed the "
                "operators on sim-worker-1 with state as of batch 10 and ran the batches since "
                "again\n");
}

BOOST_AUTO_TEST_CASE(a_replacement_worker_joins_after_a_loss_and_a_second_loss_is_survived) {
  constexpr int batches = 40;
  simulation sim{9};
  sim.workers(2);
  sim.config().set("sluice.cluster.replaceLostWorkers", "true");
  auto builds = std::make_shared<int>(0);
  auto build = word_count(sim.scripted_input<std::string>(word_script(batches)), builds);
  auto clean = sim.run_without_faults(build, batches);
  *builds = 0;
  sim.faults(fault_plan::explicit_faults({{7, worker_loss}, {23, worker_loss}}));
  auto faulty = sim.run(build, batches);
  auto check = exactly_once(faulty, clean);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(*builds == 5);  // the driver, two workers and two replacements
  // Each replacement joins as soon as the operators were placed on the
  // survivor, and gets a share: the trace names the placement after its join.
  BOOST_TEST(to_string(faulty.trace())
             == "batch 7: worker_loss: sim-worker-1 lost before the batch (as by SIGKILL), the "
                "driver removed sim-worker-1 after 2000 ms of simulated heartbeats, placed the "
                "operators on sim-worker-0 and sim-worker-2 with state as of batch 2 and ran the "
                "batches since again\n"
                "batch 23: worker_loss: sim-worker-2 lost before the batch (as by SIGKILL), the "
                "driver removed sim-worker-2 after 2000 ms of simulated heartbeats, placed the "
                "operators on sim-worker-0 and sim-worker-3 with state as of batch 21 and ran the "
                "batches since again\n");
}

BOOST_AUTO_TEST_CASE(released_initial_states_are_not_needed_when_workers_are_lost_and_replaced) {
  // map_with_state from an initial state: every context (the driver, each
  // worker, each replacement) builds its own, and each is released once
  // every partition has stored a state checkpoint. Workers lost after that
  // restore from checkpoints; the totals still count the initial state.
  constexpr int batches = 16;
  using initials_t = std::vector<std::weak_ptr<const std::vector<kv>>>;
  auto initials = std::make_shared<initials_t>();
  auto released = std::make_shared<std::vector<bool>>();  // at each output, all released
  auto build = [initials, released](const scripted_input<std::string>& lines) {
    return [lines, initials, released](streaming_context& ssc) {
      using spec_t = state_spec<std::string, int64_t, int64_t, kv>;
      auto spec = spec_t::function([](const std::string& w, std::optional<int64_t> v,
                                      state<int64_t>& s) {
        s.update(s.get_option().value_or(0) + v.value_or(0));
        return kv{w, s.get()};
      });
      spec.initial_state(ssc.make_rdd<kv>({{"initial", 100}, {"the", 1000}}, 1));
      initials->push_back(spec.initial());
      auto totals = lines.stream(ssc)
                      .flat_map(split_words)
                      .map([](const std::string& w) { return kv{w, 1}; })
                      .map_with_state(spec)
                      .state_snapshots();
      totals.foreach_rdd([initials, released](const rdd<kv>&) {
        released->push_back(std::all_of(initials->begin(), initials->end(),
                                        [](auto& w) { return w.expired(); }));
      });
      return totals;
    };
  };
  simulation one{13};
  auto alone = one.run(build(one.scripted_input<std::string>(word_script(batches))), batches);
  BOOST_TEST(initials->size() == 1u);
  BOOST_REQUIRE(released->size() == static_cast<size_t>(batches));
  BOOST_TEST(released->front() == false);  // batch 1 runs its outputs before it completes
  BOOST_TEST(released->back() == true);
  initials->clear();
  released->clear();
  simulation sim{13};
  sim.workers(2);
  sim.config().set("sluice.cluster.replaceLostWorkers", "true");
  sim.faults(fault_plan::explicit_faults({{4, worker_loss}, {11, worker_loss}}));
  auto faulty = sim.run(build(sim.scripted_input<std::string>(word_script(batches))), batches);
  BOOST_TEST(to_string(faulty.trace()).find("placed the operators on") != std::string::npos);
  auto check = exactly_once(faulty, alone);
  BOOST_TEST(check.ok(), check.message());
  auto expected = totals_until(batches);
  std::map<std::string, int64_t> m{expected.begin(), expected.end()};
  m["initial"] += 100;
  m["the"] += 1000;
  BOOST_TEST((faulty.outputs().at(batches * 1000) == std::vector<kv>{m.begin(), m.end()}));
  BOOST_TEST(initials->size() == 5u);  // the driver, two workers and two replacements
  BOOST_TEST(released->back() == true);
}

BOOST_AUTO_TEST_CASE(worker_loss_without_simulated_workers_or_with_one_left_is_not_injected) {
  simulation sim{1};
  auto builds = std::make_shared<int>(0);
  auto build = word_count(sim.scripted_input<std::string>(word_script(6)), builds);
  sim.faults(fault_plan::explicit_faults({{2, worker_loss}}));
  auto alone = sim.run(build, 6);
  BOOST_TEST(to_string(alone.trace())
             == "batch 2: worker_loss not injected: the run has no simulated workers "
                "(simulation::workers)\n");
  sim.workers(2);
  sim.faults(fault_plan::explicit_faults({{2, worker_loss}, {4, worker_loss}}));
  auto two = sim.run(build, 6);
  auto check = exactly_once(two, alone);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(two.trace().size() == 2u);
  BOOST_TEST(two.trace().at(1).what == "worker_loss not injected: only one simulated worker is alive");
}

BOOST_AUTO_TEST_CASE(random_plans_mixing_worker_loss_with_the_other_faults_equal_the_fault_free_run) {
  constexpr int batches = 40;
  int losses = 0, others = 0;
  std::optional<run_result<kv>> clean;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    auto run = [&] {
      return run_replacing(seed, 2, batches, clean, [](simulation& sim) {
        return sim.random_faults({worker_loss, operator_error, process_crash, storage_full}, 0.1);
      });
    };
    auto faulty = run();
    auto check = exactly_once(faulty, *clean);
    BOOST_TEST_REQUIRE(check.ok(), check.message() << "\ntrace:\n" << to_string(faulty.trace()));
    for (auto& [i, f] : faulty.plan().faults_until(batches))
      ++(f == worker_loss ? losses : others);
    // The same seed: the same trace, event for event.
    auto second = run();
    BOOST_TEST(second.trace() == faulty.trace(), boost::test_tools::per_element());
  }
  BOOST_TEST_MESSAGE(losses << " worker losses, " << others << " other faults");
  BOOST_TEST(losses >= 6);
  BOOST_TEST(others >= 6);
}

BOOST_AUTO_TEST_CASE(a_windowed_count_with_state_survives_worker_losses_on_three_workers) {
  constexpr int batches = 36;
  simulation sim{4};
  sim.workers(3);
  auto build = windowed_totals(sim.scripted_input<std::string>(word_script(batches)));
  auto clean = sim.run_without_faults(build, batches);
  sim.faults(fault_plan::explicit_faults({{5, worker_loss}, {17, worker_loss}, {30, worker_loss}}));
  auto faulty = sim.run(build, batches);
  auto check = exactly_once(faulty, clean);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(faulty.restarts() == 0);
  // Worker 5 mod 3, then 17 mod 2 of those left; with one left the third
  // loss is not injected. State checkpoints fall every 10 batches.
  BOOST_TEST(to_string(faulty.trace())
             == "batch 5: worker_loss: sim-worker-2 lost before the batch (as by SIGKILL), the "
                "driver removed sim-worker-2 after 2000 ms of simulated heartbeats, placed the "
                "operators on sim-worker-0 and sim-worker-1 with state as of batch 1 and ran the "
                "batches since again\n"
                "batch 17: worker_loss: sim-worker-1 lost before the batch (as by SIGKILL), the "
                "driver removed sim-worker-1 after 2000 ms of simulated heartbeats, placed the "
                "operators on sim-worker-0 with state as of batch 10 and ran the batches since "
                "again\n"
                "batch 30: worker_loss not injected: only one simulated worker is alive\n");
}

// worker_stall: SIGSTOP's analogue. The links stay open, so only the
// driver's heartbeat ping, unanswered for sluice.cluster.workerTimeout
// (10 s by default), declares the worker lost; once the batch ran it
// resumes, reads that it was declared lost, and ends.

BOOST_AUTO_TEST_CASE(a_worker_stalled_at_a_batch_is_declared_lost_by_timeout_and_ends_when_it_resumes) {
  constexpr int batches = 50;
  simulation one{3};
  auto one_builds = std::make_shared<int>(0);
  auto alone = one.run(word_count(one.scripted_input<std::string>(word_script(batches)),
                                  one_builds), batches);
  simulation sim{3};
  sim.workers(2);
  auto builds = std::make_shared<int>(0);
  auto build = word_count(sim.scripted_input<std::string>(word_script(batches)), builds);
  auto plan = fault_plan::explicit_faults({{17, worker_stall}});
  BOOST_TEST(plan.to_string() == "faults 17=worker_stall");
  BOOST_TEST((fault_plan::parse("faults 17=worker_stall") == plan));
  sim.faults(plan);
  auto faulty = sim.run(build, batches);
  BOOST_TEST((faulty.plan() == plan));
  auto check = exactly_once(faulty, alone);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST((faulty.outputs().at(batches * 1000) == totals_until(batches)));
  BOOST_TEST(faulty.restarts() == 0);
  BOOST_TEST(*builds == 3);  // no replacement without replaceLostWorkers
  // Worker 17 mod 2. Its last heartbeat ping was answered before the stall;
  // the next, sent 1 s later, goes unanswered for 10 s. The state comes
  // from the checkpoint of batch 10 and batches 11-17 run again on the
  // survivor; then the stalled worker wakes, works off its backlog (late,
  // so ignored), reads that it was declared lost, and ends.
  BOOST_TEST(to_string(faulty.trace())
             == "batch 17: worker_stall: sim-worker-1 stalled before the batch (as by SIGSTOP), "
                "the driver removed sim-worker-1 (no heartbeat answer within 10000 ms) after "
                "11000 ms of simulated heartbeats, placed the operators on sim-worker-0 with "
                "state as of batch 10 and ran the batches since again; resumed after the batch "
                "(as by SIGCONT), it read that the driver had declared it lost and ended "
                "(status 1)\n");
}

BOOST_AUTO_TEST_CASE(a_stalled_worker_is_replaced_when_asked_and_the_outputs_equal_the_fault_free_run) {
  constexpr int batches = 45;
  simulation sim{9};
  sim.workers(2);
  sim.config()
    .set("sluice.cluster.replaceLostWorkers", "true")
    .set("sluice.cluster.heartbeatInterval", "500ms")
    .set("sluice.cluster.workerTimeout", "3s");
  auto builds = std::make_shared<int>(0);
  auto build = word_count(sim.scripted_input<std::string>(word_script(batches)), builds);
  auto clean = sim.run_without_faults(build, batches);
  *builds = 0;
  sim.faults(fault_plan::explicit_faults({{8, worker_stall}, {26, worker_stall}}));
  auto faulty = sim.run(build, batches);
  auto check = exactly_once(faulty, clean);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(*builds == 5);  // the driver, two workers and two replacements
  // The conf's timeout (3 s) and heartbeat (0.5 s) on the simulated clock.
  BOOST_TEST(to_string(faulty.trace())
             == "batch 8: worker_stall: sim-worker-0 stalled before the batch (as by SIGSTOP), "
                "the driver removed sim-worker-0 (no heartbeat answer within 3000 ms) after "
                "3500 ms of simulated heartbeats, placed the operators on sim-worker-1 and "
                "sim-worker-2 with state as of batch 2 and ran the batches since again; resumed "
                "after the batch (as by SIGCONT), it read that the driver had declared it lost "
                "and ended (status 1)\n"
                "batch 26: worker_stall: sim-worker-1 stalled before the batch (as by SIGSTOP), "
                "the driver removed sim-worker-1 (no heartbeat answer within 3000 ms) after "
                "3500 ms of simulated heartbeats, placed the operators on sim-worker-2 and "
                "sim-worker-3 with state as of batch 21 and ran the batches since again; resumed "
                "after the batch (as by SIGCONT), it read that the driver had declared it lost "
                "and ended (status 1)\n");
}

BOOST_AUTO_TEST_CASE(random_plans_mixing_worker_stall_with_losses_and_errors_are_exact_and_deterministic) {
  constexpr int batches = 40;
  const std::vector<fault> kinds{worker_stall, worker_loss, operator_error};
  int stalls = 0;
  std::optional<run_result<kv>> clean;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto run = [&] {
      return run_replacing(seed, 3, batches, clean,
                           [&](simulation& sim) { return sim.random_faults(kinds, 0.12); });
    };
    auto faulty = run();
    auto check = exactly_once(faulty, *clean);
    BOOST_TEST_REQUIRE(check.ok(), check.message() << "\ntrace:\n" << to_string(faulty.trace()));
    // Every stall injected is detected by the timeout and ends on resuming.
    for (auto& e : faulty.trace())
      if (e.what.rfind("worker_stall: sim-worker-", 0) == 0) {
        ++stalls;
        BOOST_TEST(e.what.find("(no heartbeat answer within 10000 ms) after 11000 ms")
                     != std::string::npos, e.what);
        BOOST_TEST(e.what.ends_with("it read that the driver had declared it lost and ended "
                                    "(status 1)"), e.what);
      }
    auto again = run();
    BOOST_TEST(again.trace() == faulty.trace(), boost::test_tools::per_element());
    BOOST_TEST((again.outputs() == faulty.outputs()));
  }
  BOOST_TEST_MESSAGE(stalls << " worker stalls injected");
  BOOST_TEST(stalls >= 5);
}

// worker_loss_mid_batch: SIGKILL's analogue at a moment inside the batch,
// drawn from the seed: after k steps of the simulated network, some of the
// batch's stages ran and some of its buckets are on their way.

BOOST_AUTO_TEST_CASE(a_worker_lost_in_the_middle_of_a_batch_is_replaced_and_the_outputs_equal_the_fault_free_run) {
  auto trace = one_fault_at_batch_12(worker_loss_mid_batch, "faults 12=worker_loss_mid_batch");
  // The worker and the moment come from (seed 7, batch 12); the driver sees
  // the links close and confirms by a ping that times out on the simulated
  // clock, as for a loss before the batch.
  BOOST_TEST(trace
             == "batch 12: worker_loss_mid_batch: sim-worker-0 lost at step 17 of the batch (as "
                "by SIGKILL), the driver removed sim-worker-0 after 2000 ms of simulated "
                "heartbeats, placed the operators on sim-worker-1 with state as of batch 10 and "
                "ran the batches since again\n");
}

BOOST_AUTO_TEST_CASE(workers_lost_at_every_moment_of_a_batch_leave_the_outputs_exact) {
  // Seeds draw moments all over the batch (and some past its end); with
  // replacements, three losses a run on three workers. Each run is exact and
  // a second run of its seed gives the same trace.
  constexpr int batches = 36;
  std::optional<run_result<kv>> clean;
  int mid = 0, after = 0;
  std::set<std::string> moments;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto run = [&] {
      return run_replacing(seed, 3, batches, clean, [&](simulation&) {
        return fault_plan::explicit_faults({{static_cast<int64_t>(4 + seed), worker_loss_mid_batch},
                                            {static_cast<int64_t>(15 + seed), worker_loss_mid_batch},
                                            {static_cast<int64_t>(26 + seed % 5),
                                             worker_loss_mid_batch}});
      });
    };
    BOOST_TEST_MESSAGE("seed " << seed);
    auto faulty = run();
    BOOST_TEST_MESSAGE(to_string(faulty.trace()));
    auto check = exactly_once(faulty, *clean);
    BOOST_TEST_REQUIRE(check.ok(), check.message() << "\ntrace:\n" << to_string(faulty.trace()));
    BOOST_TEST((faulty.outputs().at(batches * 1000) == totals_until(batches)));
    BOOST_TEST(faulty.restarts() == 0);
    BOOST_TEST(faulty.trace().size() == 3u);
    for (auto& e : faulty.trace()) {
      BOOST_TEST(e.what.find("the driver removed sim-worker-") != std::string::npos, e.what);
      if (auto at = e.what.find(" lost at step "); at != std::string::npos) {
        ++mid;
        moments.insert(e.what.substr(at, e.what.find(" of the batch") - at));
      } else if (e.what.find(" lost right after the batch") != std::string::npos) {
        ++after;
      }
    }
    auto again = run();
    BOOST_TEST(again.trace() == faulty.trace(), boost::test_tools::per_element());
  }
  BOOST_TEST_MESSAGE(mid << " losses inside a batch at " << moments.size()
                         << " different steps, " << after << " right after one");
  BOOST_TEST(mid + after == 24);
  BOOST_TEST(mid >= 12);
  BOOST_TEST(moments.size() >= 8u);
}

BOOST_AUTO_TEST_CASE(random_plans_mixing_mid_batch_losses_with_crashes_and_errors_are_exact) {
  constexpr int batches = 40;
  const std::vector<fault> kinds{worker_loss_mid_batch, worker_loss, operator_error,
                                 process_crash};
  std::optional<run_result<kv>> clean;
  int losses = 0;
  for (uint64_t seed = 11; seed <= 15; ++seed) {
    simulation sim{seed};
    sim.workers(2);
    sim.config().set("sluice.cluster.replaceLostWorkers", "true");
    auto builds = std::make_shared<int>(0);
    auto build = word_count(sim.scripted_input<std::string>(word_script(batches)), builds);
    if (!clean)
      clean = sim.run_without_faults(build, batches);
    sim.faults(sim.random_faults(kinds, 0.1));
    auto faulty = sim.run(build, batches);
    auto check = exactly_once(faulty, *clean);
    BOOST_TEST_REQUIRE(check.ok(), check.message() << "\ntrace:\n" << to_string(faulty.trace()));
    for (auto& [i, f] : faulty.plan().faults_until(batches))
      losses += f == worker_loss_mid_batch;
    // The printed plan replays the run exactly.
    auto replayed = sim.replay(fault_plan::parse(faulty.plan().to_string()), build, batches);
    BOOST_TEST(replayed.trace() == faulty.trace(), boost::test_tools::per_element());
  }
  BOOST_TEST_MESSAGE(losses << " mid-batch losses");
  BOOST_TEST(losses >= 4);
}
