#define BOOST_TEST_MODULE testing/simulation
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <sstream>
#include <stdlib.h>

#include <sqlite3.h>

#include "fixtures/error_text.hpp"
#include "fixtures/word_script.hpp"
#include "sluice/sqlite_db.hpp"
#include "sluice/testing.hpp"

using namespace sluice;
using namespace sluice::testing;
using fixtures::contains;
using fixtures::split_words;
using fixtures::word_script;
using kv = std::pair<std::string, int64_t>;

namespace {

/// The stateful word count: running totals per word, with a user fault point.
auto word_count(const scripted_input<std::string>& lines) {
  return [lines](streaming_context& ssc) {
    return lines.stream(ssc)
      .flat_map([](const std::string& line) {
        sluice::fault_point("wordcount.split");
        return split_words(line);
      })
      .map([](const std::string& w) { return kv{w, 1}; })
      .update_state_by_key(fixtures::add_counts);
  };
}

/// Counts per word over the last 4 batches, sliding by 2: the output runs at even
/// batches only.
auto counts_sliding_by_two(const scripted_input<std::string>& lines) {
  return [lines](streaming_context& ssc) {
    return lines.stream(ssc)
      .flat_map(split_words)
      .map([](const std::string& w) { return kv{w, 1}; })
      .reduce_by_key_and_window(std::plus<int64_t>{}, seconds(4), seconds(2));
  };
}

/// Counts per word over the last 3 batches, sliding by 1.
auto windowed_count(const scripted_input<std::string>& lines) {
  return [lines](streaming_context& ssc) {
    return lines.stream(ssc)
      .flat_map([](const std::string& line) {
        sluice::fault_point("window.split");
        return split_words(line);
      })
      .map([](const std::string& w) { return kv{w, 1}; })
      .reduce_by_key_and_window(std::plus<int64_t>{}, seconds(3), seconds(1));
  };
}

/// Runs as many seeded plans as fit in `budget` over `batches` batches,
/// each checked exactly-once against the fault-free run. Returns the number
/// of plans and of faults that struck.
template <class MakeBuild>
std::pair<int, int> many_plans(MakeBuild make, std::vector<fault> kinds, int batches,
                               std::chrono::seconds budget) {
  auto until = std::chrono::steady_clock::now() + budget;
  int plans = 0, faults = 0;
  std::optional<run_result<kv>> clean;
  // At least 5 seeds however loaded the machine is, then as many as fit.
  for (uint64_t seed = 1; seed <= 5 || std::chrono::steady_clock::now() < until; ++seed) {
    simulation sim{seed};
    auto build = make(sim.scripted_input<std::string>(word_script(batches)));
    if (!clean)
      clean = sim.run_without_faults(build, batches);
    sim.faults(sim.random_faults(kinds, 0.08));
    auto faulty = sim.run(build, batches);
    auto check = exactly_once(faulty, *clean);
    BOOST_TEST_REQUIRE(check.ok(), check.message() << "\ntrace:\n" << to_string(faulty.trace()));
    ++plans;
    faults += static_cast<int>(faulty.plan().faults_until(batches).size());
  }
  BOOST_TEST_MESSAGE(plans << " plans, " << faults << " faults");
  return {plans, faults};
}

/// An external store a sink writes to: it outlives the crashes.
struct ledger {
  std::mutex mtx;
  batch_outputs<kv> rows;
};

} // namespace

BOOST_AUTO_TEST_CASE(a_plan_reads_back_from_its_text) {
  auto r = fault_plan::random(42, {operator_error, process_crash, fault::user_point("pay.write")},
                              0.05);
  BOOST_TEST(r.to_string() == "random seed=42 p=0.05 kinds=operator_error,process_crash,"
                              "point:pay.write");
  BOOST_TEST((fault_plan::parse(r.to_string()) == r));
  auto e = fault_plan::explicit_faults(
    {{3, operator_error}, {7, fault::user_point("pay.write")}, {9, process_crash}});
  BOOST_TEST(e.to_string() == "faults 3=operator_error,7=point:pay.write,9=process_crash");
  BOOST_TEST((fault_plan::parse(e.to_string()) == e));
  BOOST_TEST((fault_plan::parse("none") == fault_plan{}));
  BOOST_TEST(e.at(7)->to_string() == "point:pay.write");
  BOOST_TEST(!e.at(8).has_value());
  // Decided by (seed, batch, kind) alone: the same seed, the same faults.
  auto again = fault_plan::random(42, {operator_error, process_crash,
                                       fault::user_point("pay.write")}, 0.05);
  BOOST_TEST((r.faults_until(1000) == again.faults_until(1000)));
  auto other = fault_plan::random(43, {operator_error, process_crash}, 0.05);
  BOOST_TEST((r.faults_until(1000) != other.faults_until(1000)));
  auto n = r.faults_until(1000).size();
  BOOST_TEST(n >= 100u);  // about 1 - 0.95^3 of 1000 batches: 143
  BOOST_TEST(n <= 190u);
  try {
    fault_plan::parse("faults 3=meteor");
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& x) {
    BOOST_TEST(contains(x.what(), "faults 3=meteor"));
    BOOST_TEST(contains(x.what(), "unknown fault \"meteor\""));
  }
  BOOST_CHECK_THROW(fault_plan::random(1, {operator_error}, 1.5), invalid_argument);
  BOOST_CHECK_THROW(fault::user_point("a b"), invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_user_fault_point_is_a_no_op_unless_armed) {
  sluice::fault_point("payments.write");  // not armed: nothing happens
  {
    // Armed by conf when a context is built.
    conf c;
    c.set("sluice.fault.payments.write", "throw,times=1");
    streaming_context ssc{c, seconds(1)};
  }
  try {
    sluice::fault_point("payments.write");
    BOOST_FAIL("expected the armed point to throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string{e.what()} == "sluice: injected fault at payments.write");
  }
  sluice::fault_point("payments.write");  // times=1: fired once
  BOOST_CHECK_THROW(sluice::fault_point(""), invalid_argument);
}

BOOST_AUTO_TEST_CASE(the_trace_of_a_plan_names_every_fault_and_recovery) {
  simulation sim{5};
  auto build = word_count(sim.scripted_input<std::string>(word_script(24)));
  auto plan = fault_plan::parse("faults 3=operator_error,6=point:wordcount.split,"
                                "13=process_crash,15=point:no.such.point");
  auto r = sim.replay(plan, build, 24);
  std::vector<trace_event> expected{
    {3, "operator_error injected: the context failed"},
    {3, "recovered through get_or_create: resumes after batch 1"},
    {6, "point:wordcount.split injected: the context failed"},
    {6, "recovered through get_or_create: resumes after batch 2"},
    {13, "process_crash after the outputs: nothing more written, the context is dropped"},
    {13, "recovered through get_or_create: resumes after batch 10"},
    {15, "point:no.such.point armed, not hit"},
  };
  BOOST_TEST(r.trace() == expected, boost::test_tools::per_element());
  BOOST_TEST(r.restarts() == 3);
  BOOST_TEST(r.plan().to_string() == plan.to_string());
  auto clean = sim.run_without_faults(build, 24);
  auto check = exactly_once(r, clean);
  BOOST_TEST(check.ok(), check.message());
  BOOST_TEST(clean.trace().empty());
  BOOST_TEST(clean.outputs().size() == 24u);
}

BOOST_AUTO_TEST_CASE(a_crash_at_a_batch_without_output_falls_after_it) {
  simulation sim{3};
  auto build = counts_sliding_by_two(sim.scripted_input<std::string>(word_script(12)));
  auto r = sim.replay(fault_plan::parse("faults 5=process_crash,8=process_crash"), build, 12);
  std::vector<trace_event> expected{
    {5, "process_crash after the batch (no output ran): the context is dropped"},
    {5, "recovered through get_or_create: resumes after batch 1"},
    {8, "process_crash after the outputs: nothing more written, the context is dropped"},
    {8, "recovered through get_or_create: resumes after batch 2"},
  };
  BOOST_TEST(r.trace() == expected, boost::test_tools::per_element());
  auto clean = sim.run_without_faults(build, 12);
  BOOST_TEST(clean.outputs().size() == 6u);  // 2000, 4000, ... 12000 ms
  auto check = exactly_once(r, clean);
  BOOST_TEST(check.ok(), check.message());
}

BOOST_AUTO_TEST_CASE(a_pipeline_failing_by_itself_is_reported_with_the_batch_and_plan) {
  simulation sim{9};
  auto lines = sim.scripted_input<std::string>({{1, {"ok"}}, {3, {"boom"}}});
  auto build = [lines](streaming_context& ssc) {
    return lines.stream(ssc).map([](const std::string& w) {
      if (w == "boom")
        throw invalid_argument("cannot parse boom");
      return w;
    });
  };
  sim.faults(fault_plan::parse("faults 2=operator_error"));
  try {
    sim.run(build, 4);
    BOOST_FAIL("expected the run to throw");
  } catch (const sluice::error& e) {
    std::string what = e.what();
    BOOST_TEST(contains(what, "the pipeline failed at batch 3 (3000 ms) without an injected "
                              "fault"), what);
    BOOST_TEST(contains(what, "cannot parse boom"), what);
    BOOST_TEST(contains(what, "seed 9, plan \"faults 2=operator_error\""), what);
  }
}

BOOST_AUTO_TEST_CASE(sluice_sim_seed_overrides_the_seed_in_code) {
  ::setenv("SLUICE_SIM_SEED", "77", 1);
  simulation sim{1};
  BOOST_TEST(sim.seed() == 77u);
  BOOST_TEST(sim.random_faults({operator_error}, 0.5).to_string()
             == "random seed=77 p=0.5 kinds=operator_error");
  ::setenv("SLUICE_SIM_SEED", "seven", 1);
  try {
    simulation bad{1};
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(contains(e.what(), "SLUICE_SIM_SEED"));
    BOOST_TEST(contains(e.what(), "\"seven\""));
  }
  ::unsetenv("SLUICE_SIM_SEED");
  BOOST_TEST(simulation{1}.seed() == 1u);
}

BOOST_AUTO_TEST_CASE(two_runs_of_one_seed_give_identical_traces_and_a_replay_the_same) {
  auto run = [](uint64_t seed) {
    simulation sim{seed};
    auto build = word_count(sim.scripted_input<std::string>(word_script(40)));
    sim.faults(sim.random_faults({operator_error, process_crash,
                                  fault::user_point("wordcount.split")}, 0.15));
    return sim.run(build, 40);
  };
  auto first = run(11);
  auto second = run(11);
  BOOST_TEST(first.trace().size() >= 4u);  // seed 11 strikes several times in 40 batches
  BOOST_TEST(first.trace() == second.trace(), boost::test_tools::per_element());
  BOOST_TEST((first.outputs() == second.outputs()));
  // The printed plan, read back, replays the run event for event.
  simulation sim{11};
  auto build = word_count(sim.scripted_input<std::string>(word_script(40)));
  auto replayed = sim.replay(fault_plan::parse(first.plan().to_string()), build, 40);
  BOOST_TEST(replayed.trace() == first.trace(), boost::test_tools::per_element());
  BOOST_TEST((replayed.outputs() == first.outputs()));
}

BOOST_AUTO_TEST_CASE(a_stateful_word_count_under_seeded_plans_equals_the_fault_free_run) {
  auto [plans, faults] = many_plans(word_count,
                                    {operator_error, process_crash,
                                     fault::user_point("wordcount.split")},
                                    30, std::chrono::seconds(12));
  BOOST_TEST(plans >= 5);
  BOOST_TEST(faults >= plans);  // about 0.22 x 30 per plan
}

BOOST_AUTO_TEST_CASE(a_windowed_count_under_seeded_plans_equals_the_fault_free_run) {
  auto [plans, faults] = many_plans(windowed_count,
                                    {operator_error, process_crash,
                                     fault::user_point("window.split")},
                                    30, std::chrono::seconds(12));
  BOOST_TEST(plans >= 5);
  BOOST_TEST(faults >= plans);
}

BOOST_AUTO_TEST_CASE(a_full_disk_fails_the_batch_checkpoint_and_the_context_recovers) {
  BOOST_TEST(fault_plan::parse("faults 4=storage_full,9=operator_error").to_string()
             == "faults 4=storage_full,9=operator_error");
  simulation sim{8};
  auto build = word_count(sim.scripted_input<std::string>(word_script(16)));
  auto r = sim.replay(fault_plan::parse("faults 4=storage_full,9=storage_full"), build, 16);
  std::vector<trace_event> expected{
    {4, "storage_full after the outputs: a checkpoint write failed (database or disk is full), "
        "the context failed"},
    {4, "recovered through get_or_create: resumes after batch 1"},
    {9, "storage_full after the outputs: a checkpoint write failed (database or disk is full), "
        "the context failed"},
    {9, "recovered through get_or_create: resumes after batch 2"},
  };
  BOOST_TEST(r.trace() == expected, boost::test_tools::per_element());
  BOOST_TEST(r.restarts() == 2);
  auto clean = sim.run_without_faults(build, 16);
  auto check = exactly_once(r, clean);
  BOOST_TEST(check.ok(), check.message());
}

BOOST_AUTO_TEST_CASE(a_full_disk_at_a_batch_without_output_is_not_hit) {
  simulation sim{3};
  auto build = counts_sliding_by_two(sim.scripted_input<std::string>(word_script(8)));
  auto r = sim.replay(fault_plan::parse("faults 5=storage_full"), build, 8);
  std::vector<trace_event> expected{{5, "storage_full armed, not hit (no output ran)"}};
  BOOST_TEST(r.trace() == expected, boost::test_tools::per_element());
  auto check = exactly_once(r, sim.run_without_faults(build, 8));
  BOOST_TEST(check.ok(), check.message());
}

BOOST_AUTO_TEST_CASE(a_torn_wal_write_loses_the_last_commit_and_the_context_recovers) {
  simulation sim{8};
  auto build = word_count(sim.scripted_input<std::string>(word_script(16)));
  auto r = sim.replay(fault_plan::parse("faults 5=torn_write,12=torn_write"), build, 16);
  std::vector<trace_event> expected{
    {5, "torn_write after the outputs: the process crashed, the last write to sluice.db-wal "
        "torn (512 of 1024 bytes kept), the context is dropped"},
    {5, "recovered through get_or_create: resumes after batch 1"},
    {12, "torn_write after the outputs: the process crashed, the last write to sluice.db-wal "
         "torn (512 of 1024 bytes kept), the context is dropped"},
    {12, "recovered through get_or_create: resumes after batch 10"},
  };
  BOOST_TEST(r.trace() == expected, boost::test_tools::per_element());
  auto clean = sim.run_without_faults(build, 16);
  auto check = exactly_once(r, clean);
  BOOST_TEST(check.ok(), check.message());
}

BOOST_AUTO_TEST_CASE(a_stateful_word_count_under_seeded_storage_faults_equals_the_fault_free_run) {
  auto [plans, faults] = many_plans(word_count, {storage_full, torn_write, process_crash}, 30,
                                    std::chrono::seconds(8));
  BOOST_TEST(plans >= 5);
  BOOST_TEST(faults >= 1);
}

BOOST_AUTO_TEST_CASE(a_non_idempotent_sink_is_caught_and_the_idempotent_one_passes) {
  // The user's sink writes each batch's running totals to an external store.
  auto with_sink = [](scripted_input<std::string> lines, std::shared_ptr<ledger> store,
                      bool idempotent) {
    return [=](streaming_context& ssc) {
      auto counts = word_count(lines)(ssc);
      counts.foreach_rdd([store, idempotent](const rdd<kv>& r, batch_time t) {
        auto v = r.collect();
        std::lock_guard<std::mutex> guard{store->mtx};
        auto& row = store->rows[t.ms];
        if (idempotent)
          row = v;  // upsert keyed by batch time
        else
          row.insert(row.end(), v.begin(), v.end());  // append
      });
      return counts;
    };
  };
  simulation sim{21};
  auto lines = sim.scripted_input<std::string>(word_script(20));
  auto clean = sim.run_without_faults(word_count(lines), 20);
  sim.faults(fault_plan::parse("faults 14=process_crash"));
  auto appended = std::make_shared<ledger>();
  auto faulty = sim.run(with_sink(lines, appended, false), 20);
  // The crash after batch 14's outputs re-runs batches 11..14 (state was
  // checkpointed at 10): the appending sink holds them twice.
  auto caught = exactly_once(appended->rows, clean.outputs(), faulty.describe());
  BOOST_TEST(!caught.ok());
  BOOST_TEST(contains(caught.message(), "exactly-once violated at batch time 11000 ms"),
             caught.message());
  BOOST_TEST(contains(caught.message(), "seed 21, plan \"faults 14=process_crash\""));
  BOOST_TEST(contains(caught.message(), "SLUICE_SIM_SEED=21"));
  auto whole = at_least_once(appended->rows, clean.outputs(), faulty.describe());
  BOOST_TEST(whole.ok(), whole.message());
  // The harness's own output is idempotent: exactly-once holds for it.
  BOOST_TEST(exactly_once(faulty, clean).ok());
  // The printed plan replays the same failure.
  auto again = std::make_shared<ledger>();
  auto replay = sim.replay(fault_plan::parse("faults 14=process_crash"),
                           with_sink(lines, again, false), 20);
  BOOST_TEST(exactly_once(again->rows, clean.outputs(), replay.describe()).message()
             == caught.message());
  // The idempotent sink passes.
  auto upserted = std::make_shared<ledger>();
  auto good = sim.run(with_sink(lines, upserted, true), 20);
  auto ok = exactly_once(upserted->rows, clean.outputs(), good.describe());
  BOOST_TEST(ok.ok(), ok.message());
  // A batch missing from a sink is not at-least-once either.
  auto lost = upserted->rows;
  lost.erase(12000);
  auto missing = at_least_once(lost, clean.outputs(), good.describe());
  BOOST_TEST(contains(missing.message(), "at-least-once violated at batch time 12000 ms"),
             missing.message());
}

BOOST_AUTO_TEST_CASE(a_sink_failing_midway_is_caught_by_at_least_once) {
  // Writes a batch record by record with a fault point between records: a
  // fault there leaves part of the batch in the store, and the re-run
  // appends all of it again.
  simulation sim{4};
  auto lines = sim.scripted_input<std::string>(word_script(10));
  auto clean = sim.run_without_faults(word_count(lines), 10);
  auto store = std::make_shared<ledger>();
  auto build = [lines, store](streaming_context& ssc) {
    auto counts = word_count(lines)(ssc);
    counts.foreach_rdd([store](const rdd<kv>& r, batch_time t) {
      auto v = r.collect();
      std::sort(v.begin(), v.end());
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0)
          sluice::fault_point("ledger.write");
        std::lock_guard<std::mutex> guard{store->mtx};
        store->rows[t.ms].push_back(v[i]);
      }
    });
    return counts;
  };
  sim.faults(fault_plan::parse("faults 6=point:ledger.write"));
  auto faulty = sim.run(build, 10);
  BOOST_TEST(faulty.trace().front().what == "point:ledger.write injected: the context failed");
  auto check = at_least_once(store->rows, clean.outputs(), faulty.describe());
  BOOST_TEST(contains(check.message(), "at-least-once violated at batch time 6000 ms"),
             check.message());
  BOOST_TEST(exactly_once(faulty, clean).ok());  // the harness's own output is whole
}

BOOST_AUTO_TEST_CASE(a_simulation_turns_off_sqlite_memory_statistics) {
  // The first simulation of a process that has not used SQLite yet saves
  // every SQLite allocation a process-wide mutex: nothing counts bytes after.
  simulation sim{5};
  auto lines = sim.scripted_input<std::string>(word_script(3));
  auto run = sim.run(word_count(lines), 3);
  BOOST_TEST(run.outputs().size() == 3u);
  BOOST_TEST(sqlite3_memory_used() == 0);
  BOOST_TEST(!sluice::disable_sqlite_memory_statistics());  // SQLite runs: too late
}
