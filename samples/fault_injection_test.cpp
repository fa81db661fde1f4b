// A user's test of a pipeline under faults, with sluice::testing: account
// balances (update_state_by_key) written by a sink to an outside store.
// Seeded plans of crashes find that a sink appending each batch's rows
// writes a re-run batch twice; the seed the failure prints replays it
// exactly; a sink that upserts each batch's rows by batch time passes, under
// 220 seeds run on every core at once (sluice::testing::run_seeds).
//
// Build: link sluice::testing and Boost.Test. Run: build/samples/fault_injection_test
// (SLUICE_SIM_SEED=<n> runs every simulation with seed n).
#define BOOST_TEST_MODULE fault_injection_test
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>

#include <sluice/testing.hpp>

namespace st = sluice::testing;
using balance = std::pair<std::string, int64_t>;

namespace {

/// Payments ("account amount") at batches 1..40.
std::map<int64_t, std::vector<std::string>> payments() {
  const char* accounts[] = {"alice", "bob", "carol"};
  std::map<int64_t, std::vector<std::string>> out;
  for (int i = 1; i <= 40; ++i)
    out[i] = {std::string{accounts[i % 3]} + " " + std::to_string(i * 10),
              std::string{accounts[(i + 1) % 3]} + " " + std::to_string(i)};
  return out;
}

/// The store outside the program: it outlives every crash.
struct store {
  std::mutex mtx;
  st::batch_outputs<balance> rows;  // batch time -> rows written for it
};

/// The pipeline: balances per account, written to `out` after each batch,
/// appended (a plain INSERT) or upserted by batch time (idempotent).
auto balances(st::scripted_input<std::string> lines, std::shared_ptr<store> out, bool upsert) {
  return [=](sluice::streaming_context& ssc) {
    auto totals = lines.stream(ssc)
      .map([](const std::string& line) {
        std::istringstream in{line};
        balance b;
        in >> b.first >> b.second;
        return b;
      })
      .update_state_by_key([](const std::vector<int64_t>& amounts, std::optional<int64_t> s) {
        int64_t sum = s.value_or(0);
        for (auto a : amounts)
          sum += a;
        return std::optional<int64_t>{sum};
      });
    totals.foreach_rdd([out, upsert](const sluice::rdd<balance>& r, sluice::batch_time t) {
      sluice::fault_point("payments.write");  // a plan may fail the write here
      auto rows = r.collect();
      std::sort(rows.begin(), rows.end());
      std::lock_guard<std::mutex> guard{out->mtx};
      auto& at = out->rows[t.ms];
      if (upsert)
        at = rows;
      else
        at.insert(at.end(), rows.begin(), rows.end());
    });
    return totals;
  };
}

/// Runs the pipeline with a sink into a fresh store under `sim`'s plan and
/// checks the store exactly-once against the fault-free balances.
st::check_result run_and_check(st::simulation& sim, bool upsert,
                               const st::batch_outputs<balance>& expected) {
  auto out = std::make_shared<store>();
  auto lines = sim.scripted_input<std::string>(payments());
  auto run = sim.run(balances(lines, out, upsert), 40);
  return st::exactly_once(out->rows, expected, run.describe());
}

st::batch_outputs<balance> fault_free() {
  st::simulation sim{1};
  auto out = std::make_shared<store>();
  auto lines = sim.scripted_input<std::string>(payments());
  return sim.run_without_faults(balances(lines, out, true), 40).outputs();
}

const std::vector<st::fault> crashes{st::process_crash, st::fault::user_point("payments.write")};

} // namespace

BOOST_AUTO_TEST_CASE(an_appending_sink_is_caught_and_its_seed_replays_the_failure) {
  auto expected = fault_free();
  std::optional<st::check_result> caught;
  st::fault_plan plan;
  uint64_t seed = 1;
  for (; seed <= 20 && !caught; ++seed) {
    st::simulation sim{seed};
    sim.faults(sim.random_faults(crashes, 0.05));
    if (auto check = run_and_check(sim, false, expected); !check.ok()) {
      caught = check;
      plan = sim.random_faults(crashes, 0.05);
    }
  }
  BOOST_TEST_REQUIRE(caught.has_value(), "no seed of 1..20 caught the appending sink");
  BOOST_TEST_MESSAGE("caught: " << caught->message());
  // What the failure printed is enough to see it again, exactly.
  st::simulation again{seed - 1};
  again.faults(st::fault_plan::parse(plan.to_string()));
  auto replayed = run_and_check(again, false, expected);
  BOOST_TEST(!replayed.ok());
  BOOST_TEST(replayed.message() == caught->message());
}

BOOST_AUTO_TEST_CASE(an_upserting_sink_passes_under_the_same_plans_and_200_more) {
  auto expected = fault_free();
  // Seeds on every core at once: each call has its own simulation and
  // store, and returns what to check (Boost.Test checks on this thread).
  auto checks = st::run_seeds(1, 220, [&](uint64_t seed) {
    st::simulation sim{seed};
    sim.faults(sim.random_faults(crashes, 0.05));
    return run_and_check(sim, true, expected);
  });
  BOOST_TEST_REQUIRE(checks.size() == 220u);
  for (auto& check : checks)
    BOOST_TEST_REQUIRE(check.ok(), check.message());
}
