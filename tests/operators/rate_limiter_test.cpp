#define BOOST_TEST_MODULE operators/rate_limiter
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/detail/receiver_parts.hpp"

using namespace sluice;

namespace {

/// A fake clock: sleeping advances the time (plus an optional oversleep)
/// instead of blocking.
struct fake_clock {
  int64_t now = 1'000'000'000; // arbitrary origin
  int64_t oversleep_us = 0;
  int64_t sleeps = 0;

  rate_limiter make(int64_t max_rate, std::optional<int64_t> initial = std::nullopt) {
    return rate_limiter{max_rate, initial, [this] { return now; },
                        [this](int64_t us) {
                          BOOST_REQUIRE(us > 0);
                          ++sleeps;
                          now += us + oversleep_us;
                        }};
  }
};

double seconds_between(int64_t from_us, int64_t to_us) { return (to_us - from_us) / 1e6; }

} // namespace

// -- pacing on a fake clock -------------------------------------------------

BOOST_AUTO_TEST_CASE(ten_thousand_records_at_1000_per_second_take_ten_seconds) {
  fake_clock clk;
  auto lim = clk.make(LLONG_MAX, 1000);
  auto start = clk.now;
  for (int i = 0; i < 10'000; ++i)
    lim.wait_to_push();
  double took = seconds_between(start, clk.now);
  BOOST_TEST(std::fabs(took - 10.0) <= 0.05 * 10.0);
  // Guava's pay-later: the first record goes at once, then one every 1 ms.
  BOOST_TEST(took == 9.999, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(clk.sleeps == 9'999);
}

BOOST_AUTO_TEST_CASE(batches_of_records_are_paced_by_their_size) {
  fake_clock clk;
  auto lim = clk.make(1000);
  auto start = clk.now;
  for (int i = 0; i < 100; ++i)
    lim.wait_to_push(100);
  double took = seconds_between(start, clk.now);
  BOOST_TEST(std::fabs(took - 10.0) <= 0.05 * 10.0);
  // Nothing to push: no wait and no reservation.
  auto before = clk.now;
  lim.wait_to_push(0);
  BOOST_TEST(clk.now == before);
}

BOOST_AUTO_TEST_CASE(oversleeping_does_not_lower_the_long_run_rate) {
  fake_clock clk;
  clk.oversleep_us = 400; // 40 % of the 1 ms interval, every time
  auto lim = clk.make(1000);
  auto start = clk.now;
  for (int i = 0; i < 10'000; ++i)
    lim.wait_to_push();
  double took = seconds_between(start, clk.now);
  BOOST_TEST(std::fabs(took - 10.0) <= 0.05 * 10.0);
}

BOOST_AUTO_TEST_CASE(at_most_one_second_of_permits_is_stored) {
  fake_clock clk;
  auto lim = clk.make(1000);
  lim.wait_to_push();
  clk.now += 5'000'000; // idle for 5 s: only 1 s worth (1000 permits) is kept
  auto start = clk.now;
  int free_pushes = 0;
  while (clk.sleeps == 0) {
    lim.wait_to_push();
    if (clk.sleeps == 0)
      ++free_pushes;
  }
  // 1000 stored permits, plus the one request that is served when free.
  BOOST_TEST(free_pushes == 1001);
  BOOST_TEST(clk.now - start == 1000); // the first waiting push waited 1 ms
  for (int i = 0; i < 1998; ++i)
    lim.wait_to_push();
  // 3000 records after the idle time took 2 s.
  BOOST_TEST(seconds_between(start, clk.now) == 1.999, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(update_rate_changes_the_pace) {
  fake_clock clk;
  auto lim = clk.make(0, 1000);
  for (int i = 0; i < 1000; ++i)
    lim.wait_to_push();
  lim.update_rate(4000);
  auto start = clk.now;
  for (int i = 0; i < 8000; ++i)
    lim.wait_to_push();
  double took = seconds_between(start, clk.now);
  BOOST_TEST(std::fabs(took - 2.0) <= 0.05 * 2.0);
}

// -- limits ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(initial_limit_is_min_of_initial_rate_and_max_rate) {
  fake_clock clk;
  BOOST_TEST(clk.make(1000, 5000).current_limit() == 1000);
  BOOST_TEST(clk.make(1000, 200).current_limit() == 200);
  BOOST_TEST(clk.make(1000).current_limit() == 1000);      // falls back to maxRate
  BOOST_TEST(clk.make(0, 300).current_limit() == 300);     // maxRate <= 0: no cap
  BOOST_TEST(clk.make(-1, 300).current_limit() == 300);
  BOOST_TEST(clk.make(LLONG_MAX, 300).current_limit() == 300);
  BOOST_TEST(clk.make(0).current_limit() == LLONG_MAX);    // unlimited
  BOOST_TEST(clk.make(LLONG_MAX).current_limit() == LLONG_MAX);
  BOOST_TEST(clk.make(0).max_rate() == LLONG_MAX);
  BOOST_TEST(clk.make(1000).max_rate() == 1000);
}

BOOST_AUTO_TEST_CASE(non_positive_initial_rate_is_rejected) {
  fake_clock clk;
  BOOST_CHECK_THROW(clk.make(1000, 0), invalid_argument);
  try {
    clk.make(0, -3);
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("-3") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(update_rate_ignores_non_positive_and_caps_at_max_rate) {
  fake_clock clk;
  auto lim = clk.make(2000);
  BOOST_TEST(lim.current_limit() == 2000);
  lim.update_rate(0);
  BOOST_TEST(lim.current_limit() == 2000);
  lim.update_rate(-5);
  BOOST_TEST(lim.current_limit() == 2000);
  lim.update_rate(500);
  BOOST_TEST(lim.current_limit() == 500);
  lim.update_rate(5000);
  BOOST_TEST(lim.current_limit() == 2000);
  lim.update_rate(0);
  BOOST_TEST(lim.current_limit() == 2000);

  // maxRate <= 0: no cap.
  auto free = clk.make(0, 100);
  free.update_rate(5000);
  BOOST_TEST(free.current_limit() == 5000);
  free.update_rate(-1);
  BOOST_TEST(free.current_limit() == 5000);
  auto unbounded = clk.make(LLONG_MAX, 100);
  unbounded.update_rate(123'456'789);
  BOOST_TEST(unbounded.current_limit() == 123'456'789);
}

BOOST_AUTO_TEST_CASE(unlimited_never_sleeps) {
  fake_clock clk;
  auto lim = clk.make(0);
  for (int i = 0; i < 1'000'000; ++i)
    lim.wait_to_push();
  lim.wait_to_push(1'000'000'000);
  BOOST_TEST(clk.sleeps == 0);
  auto lim2 = clk.make(LLONG_MAX);
  for (int i = 0; i < 100'000; ++i)
    lim2.wait_to_push();
  BOOST_TEST(clk.sleeps == 0);
  // Limiting it later starts pacing from now, without a backlog.
  lim.update_rate(1000);
  auto start = clk.now;
  for (int i = 0; i < 1000; ++i)
    lim.wait_to_push();
  BOOST_TEST(seconds_between(start, clk.now) == 0.999, boost::test_tools::tolerance(1e-9));
  // And unlimited again.
  lim.update_rate(LLONG_MAX);
  auto sleeps = clk.sleeps;
  for (int i = 0; i < 10'000; ++i)
    lim.wait_to_push();
  BOOST_TEST(clk.sleeps == sleeps);
}

BOOST_AUTO_TEST_CASE(concurrent_producers_reserve_distinct_slots) {
  // Time stands still, so the k-th reservation must wait exactly k ms: a lost
  // update between threads would show as a duplicate or missing wait.
  std::mutex mtx;
  std::vector<int64_t> waits;
  rate_limiter lim{1000, std::nullopt, [] { return int64_t{42}; },
                   [&](int64_t us) {
                     std::lock_guard<std::mutex> guard{mtx};
                     waits.push_back(us);
                   }};
  constexpr int threads = 8, per_thread = 500;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i)
        lim.wait_to_push();
    });
  for (auto& t : ts)
    t.join();
  std::sort(waits.begin(), waits.end());
  BOOST_TEST_REQUIRE(waits.size() == size_t{threads * per_thread - 1});
  for (size_t k = 0; k < waits.size(); ++k)
    BOOST_TEST_REQUIRE(waits[k] == static_cast<int64_t>((k + 1) * 1000));
}

// -- real clock -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(holds_5000_per_second_on_the_real_clock) {
  using clock = std::chrono::steady_clock;
  rate_limiter lim{5000, std::nullopt};
  const auto window = std::chrono::milliseconds{600};
  const double expected = 5000 * 0.6;
  int64_t count = 0;
  auto start = clock::now();
  while (clock::now() - start < window) {
    lim.wait_to_push();
    ++count;
  }
  BOOST_TEST_MESSAGE("pushed " << count << " records in 0.6 s at 5000/s");
  BOOST_TEST(std::fabs(static_cast<double>(count) - expected) <= 0.05 * expected);
}
