#define BOOST_TEST_MODULE operators/pid_rate_estimator
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/pid_rate_estimator.hpp"
#include "sluice/rate_estimator_factory.hpp"

using namespace sluice;

namespace {

// Spark's PIDRateEstimatorSuite.createDefaultEstimator.
pid_rate_estimator make_default() { return pid_rate_estimator{20, 1.0, 0.0, 0.0, 10}; }

std::string message_of(int64_t batch, double p, double i, double d, double min) {
  try {
    pid_rate_estimator{batch, p, i, d, min};
  } catch (const invalid_argument& e) {
    return e.what();
  }
  return "no exception";
}

struct snapshot {
  bool first;
  int64_t time;
  double rate;
  double error;
  bool operator==(const snapshot&) const = default;
};

snapshot state_of(const pid_rate_estimator& p) {
  return {p.first_run(), p.latest_time(), p.latest_rate(), p.latest_error()};
}

} // namespace

// -- construction -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(initial_fields_are_minus_one) {
  auto p = make_default();
  BOOST_TEST(p.first_run());
  BOOST_TEST(p.latest_time() == -1);
  BOOST_TEST(p.latest_rate() == -1.0);
  BOOST_TEST(p.latest_error() == -1.0);
}

BOOST_AUTO_TEST_CASE(estimator_checks_ranges) {
  // Spark: "estimator checks ranges".
  BOOST_CHECK_THROW((pid_rate_estimator{0, 1, 2, 3, 10}), invalid_argument);
  BOOST_CHECK_THROW((pid_rate_estimator{100, -1, 2, 3, 10}), invalid_argument);
  BOOST_CHECK_THROW((pid_rate_estimator{100, 0, -1, 3, 10}), invalid_argument);
  BOOST_CHECK_THROW((pid_rate_estimator{100, 0, 0, -1, 10}), invalid_argument);
  BOOST_CHECK_THROW((pid_rate_estimator{100, 0, 0, 0, 0}), invalid_argument);
  BOOST_CHECK_THROW((pid_rate_estimator{100, 0, 0, 0, -10}), invalid_argument);
  BOOST_CHECK_NO_THROW((pid_rate_estimator{1, 0, 0, 0, 1e-9}));
}

BOOST_AUTO_TEST_CASE(validation_messages_are_sparks) {
  BOOST_TEST(message_of(0, 1, 2, 3, 10)
             == "requirement failed: Specified batch interval 0 in PIDRateEstimator is invalid.");
  BOOST_TEST(message_of(-20, 1, 2, 3, 10)
             == "requirement failed: Specified batch interval -20 in PIDRateEstimator is invalid.");
  BOOST_TEST(message_of(100, -1, 2, 3, 10)
             == "requirement failed: Proportional term -1.0 in PIDRateEstimator should be >= 0.");
  BOOST_TEST(message_of(100, -0.5, 2, 3, 10)
             == "requirement failed: Proportional term -0.5 in PIDRateEstimator should be >= 0.");
  BOOST_TEST(message_of(100, 0, -1, 3, 10)
             == "requirement failed: Integral term -1.0 in PIDRateEstimator should be >= 0.");
  BOOST_TEST(message_of(100, 0, -1e-4, 3, 10)
             == "requirement failed: Integral term -1.0E-4 in PIDRateEstimator should be >= 0.");
  BOOST_TEST(message_of(100, 0, 0, -1, 10)
             == "requirement failed: Derivative term -1.0 in PIDRateEstimator should be >= 0.");
  BOOST_TEST(message_of(100, 0, 0, 0, 0)
             == "requirement failed: Minimum rate in PIDRateEstimator should be > 0");
  BOOST_TEST(message_of(100, 0, 0, 0, -10)
             == "requirement failed: Minimum rate in PIDRateEstimator should be > 0");
  // NaN fails `require(x >= 0)` like on the JVM.
  auto nan = std::numeric_limits<double>::quiet_NaN();
  BOOST_TEST(message_of(100, nan, 0, 0, 10)
             == "requirement failed: Proportional term NaN in PIDRateEstimator should be >= 0.");
  BOOST_TEST(message_of(100, 0, 0, 0, nan)
             == "requirement failed: Minimum rate in PIDRateEstimator should be > 0");
  // The checks run in Spark's order: the batch interval first.
  BOOST_TEST(message_of(0, -1, -1, -1, 0)
             == "requirement failed: Specified batch interval 0 in PIDRateEstimator is invalid.");
}

BOOST_AUTO_TEST_CASE(java_double_strings) {
  BOOST_TEST(java_double_string(1.0) == "1.0");
  BOOST_TEST(java_double_string(-1.0) == "-1.0");
  BOOST_TEST(java_double_string(0.0) == "0.0");
  BOOST_TEST(java_double_string(-0.0) == "-0.0");
  BOOST_TEST(java_double_string(0.2) == "0.2");
  BOOST_TEST(java_double_string(100.0) == "100.0");
  BOOST_TEST(java_double_string(1234567.5) == "1234567.5");
  BOOST_TEST(java_double_string(1e7) == "1.0E7");
  BOOST_TEST(java_double_string(-2.5e-5) == "-2.5E-5");
  BOOST_TEST(java_double_string(0.001) == "0.001");
  BOOST_TEST(java_double_string(-std::numeric_limits<double>::infinity()) == "-Infinity");
}

// -- compute: Spark's PIDRateEstimatorSuite -----------------------------------

BOOST_AUTO_TEST_CASE(first_estimate_is_none) {
  auto p = make_default();
  BOOST_TEST(!p.compute(0, 10, 10, 0).has_value());
  // The first accepted call stores the processing rate and a zero error.
  BOOST_TEST(!p.first_run());
  BOOST_TEST(p.latest_time() == 0);
  BOOST_TEST(p.latest_rate() == 1000.0);
  BOOST_TEST(p.latest_error() == 0.0);
}

BOOST_AUTO_TEST_CASE(second_estimate_is_not_none) {
  auto p = make_default();
  BOOST_TEST(!p.compute(0, 10, 10, 0).has_value());
  auto r = p.compute(10, 10, 10, 0); // 1000 elements/s
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(*r == 1000.0);
  BOOST_TEST(p.latest_rate() == 1000.0);
  BOOST_TEST(p.latest_error() == 0.0);
  BOOST_TEST(p.latest_time() == 10);
}

BOOST_AUTO_TEST_CASE(no_estimate_when_no_time_difference_between_successive_calls) {
  auto p = make_default();
  p.compute(0, 10, 10, 0);
  BOOST_TEST(p.compute(10, 10, 10, 0).has_value());
  auto before = state_of(p);
  BOOST_TEST(!p.compute(10, 10, 10, 0).has_value());
  BOOST_TEST((state_of(p) == before));
  // Nor when time goes backwards.
  BOOST_TEST(!p.compute(5, 10, 10, 0).has_value());
  BOOST_TEST((state_of(p) == before));
}

BOOST_AUTO_TEST_CASE(no_estimate_when_no_records_in_previous_batch) {
  auto p = make_default();
  p.compute(0, 10, 10, 0);
  auto before = state_of(p);
  BOOST_TEST(!p.compute(10, 0, 10, 0).has_value());
  BOOST_TEST(!p.compute(20, -10, 10, 0).has_value());
  BOOST_TEST((state_of(p) == before));
}

BOOST_AUTO_TEST_CASE(no_estimate_when_there_is_no_processing_delay) {
  auto p = make_default();
  p.compute(0, 10, 10, 0);
  auto before = state_of(p);
  BOOST_TEST(!p.compute(10, 10, 0, 0).has_value());
  BOOST_TEST(!p.compute(20, 10, -10, 0).has_value());
  BOOST_TEST((state_of(p) == before));
}

BOOST_AUTO_TEST_CASE(rejected_calls_before_the_first_accepted_one_keep_the_initial_state) {
  auto p = make_default();
  auto initial = state_of(p);
  BOOST_TEST(!p.compute(0, 0, 10, 0).has_value());
  BOOST_TEST(!p.compute(0, 10, 0, 0).has_value());
  BOOST_TEST(!p.compute(-1, 10, 10, 0).has_value()); // not > latestTime = -1
  BOOST_TEST((state_of(p) == initial));
  // The first accepted call still returns none.
  BOOST_TEST(!p.compute(0, 10, 10, 0).has_value());
  BOOST_TEST(p.compute(10, 10, 10, 0).has_value());
}

BOOST_AUTO_TEST_CASE(estimate_is_never_less_than_min_rate) {
  double min_rate = 5;
  pid_rate_estimator p{20, 1.0, 1.0, 0.0, min_rate};
  // One batch every 20 ms, 1 element, 20 ms of processing, 100 ms of scheduling delay.
  std::vector<std::optional<double>> res;
  for (int i = 0; i < 50; ++i)
    res.push_back(p.compute(i * 20, 1, 20, 100));
  BOOST_TEST(!res[0].has_value());
  for (int i = 1; i < 50; ++i) {
    BOOST_TEST_REQUIRE(res[i].has_value());
    BOOST_TEST(*res[i] == min_rate);
  }
}

BOOST_AUTO_TEST_CASE(no_accumulated_or_positive_error_follows_the_processing_speed) {
  pid_rate_estimator p{20, 1.0, 1.0, 0.0, 10};
  for (int i = 0; i < 50; ++i) {
    auto r = p.compute(i * 20, (i + 1) * 20, 20, 0); // increasing
    if (i == 0) {
      BOOST_TEST(!r.has_value());
    } else {
      BOOST_TEST_REQUIRE(r.has_value());
      BOOST_TEST(*r == (i + 1) * 1000.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(no_accumulated_but_some_positive_error_follows_the_processing_speed) {
  pid_rate_estimator p{20, 1.0, 1.0, 0.0, 10};
  for (int i = 0; i < 50; ++i) {
    auto r = p.compute(i * 20, (50 - i) * 20, 20, 0); // decreasing
    if (i == 0) {
      BOOST_TEST(!r.has_value());
    } else {
      BOOST_TEST_REQUIRE(r.has_value());
      BOOST_TEST(*r == (50 - i) * 1000.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(accumulated_and_positive_error_stays_below_the_processing_speed) {
  double min_rate = 10;
  pid_rate_estimator p{20, 1.0, 0.01, 0.0, min_rate};
  std::mt19937 rng{42};
  std::uniform_int_distribution<int> elements_dist{1000, 1999};
  std::uniform_int_distribution<int> sched_dist{1, 19};
  int64_t proc = 20;
  for (int i = 0; i < 50; ++i) {
    int64_t elements = elements_dist(rng);
    int64_t sched = sched_dist(rng);
    double speed = static_cast<double>(elements) / proc * 1000;
    auto r = p.compute(i * 20, elements, proc, sched);
    if (i == 0) {
      BOOST_TEST(!r.has_value());
      continue;
    }
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(*r < speed);
    BOOST_TEST(*r >= min_rate);
  }
}

BOOST_AUTO_TEST_CASE(all_three_terms_match_the_formula_step_by_step) {
  const int64_t batch = 100;
  const double kp = 0.5, ki = 0.1, kd = 0.05, min_rate = 1;
  pid_rate_estimator p{batch, kp, ki, kd, min_rate};

  // Step 1 (first accepted call): stores latestRate = procRate, latestError = 0.
  BOOST_TEST(!p.compute(1000, 500, 250, 0).has_value());
  double latest_rate = 500.0 / 250.0 * 1000; // 2000
  double latest_error = 0;
  int64_t latest_time = 1000;
  BOOST_TEST(p.latest_rate() == latest_rate);
  BOOST_TEST(p.latest_error() == latest_error);
  BOOST_TEST(p.latest_time() == latest_time);

  // Step 2: (1100, 300 elements, 200 ms processing, 50 ms scheduling).
  {
    double dt = static_cast<double>(1100 - latest_time) / 1000;        // 0.1 s
    double proc_rate = 300.0 / 200.0 * 1000;                            // 1500
    double error = latest_rate - proc_rate;                             // 500
    double hist_error = 50.0 * proc_rate / static_cast<double>(batch);  // 750
    double d_error = (error - latest_error) / dt;                       // 5000
    double expected = std::max(latest_rate - kp * error - ki * hist_error - kd * d_error,
                               min_rate);                               // 1425
    auto r = p.compute(1100, 300, 200, 50);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(*r == expected);
    BOOST_TEST(*r == 1425.0, boost::test_tools::tolerance(1e-9));
    latest_rate = expected, latest_error = error, latest_time = 1100;
    BOOST_TEST(p.latest_rate() == latest_rate);
    BOOST_TEST(p.latest_error() == latest_error);
  }

  // Step 3: (1300, 400, 200, 20): negative error and derivative push the rate up.
  {
    double dt = static_cast<double>(1300 - latest_time) / 1000;        // 0.2 s
    double proc_rate = 400.0 / 200.0 * 1000;                            // 2000
    double error = latest_rate - proc_rate;                             // -575
    double hist_error = 20.0 * proc_rate / static_cast<double>(batch);  // 400
    double d_error = (error - latest_error) / dt;                       // -5375
    double expected = std::max(latest_rate - kp * error - ki * hist_error - kd * d_error,
                               min_rate);                               // 1941.25
    auto r = p.compute(1300, 400, 200, 20);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(*r == expected);
    BOOST_TEST(*r == 1941.25, boost::test_tools::tolerance(1e-9));
    latest_rate = expected, latest_error = error, latest_time = 1300;
  }

  // Step 4: (1400, 100, 400, 400): the raw value is negative, clamped to minRate.
  {
    double dt = static_cast<double>(1400 - latest_time) / 1000;        // 0.1 s
    double proc_rate = 100.0 / 400.0 * 1000;                            // 250
    double error = latest_rate - proc_rate;                             // 1691.25
    double hist_error = 400.0 * proc_rate / static_cast<double>(batch); // 1000
    double d_error = (error - latest_error) / dt;                       // 22662.5
    double raw = latest_rate - kp * error - ki * hist_error - kd * d_error; // -137.5
    BOOST_TEST(raw < 0);
    auto r = p.compute(1400, 100, 400, 400);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(*r == min_rate);
    // The clamped rate is what is stored; the error is stored as computed.
    BOOST_TEST(p.latest_rate() == min_rate);
    BOOST_TEST(p.latest_error() == error);
    latest_rate = min_rate, latest_error = error, latest_time = 1400;
  }

  // Step 5: (1500, 300, 100, 0): recovers from the clamped rate.
  {
    double dt = static_cast<double>(1500 - latest_time) / 1000;        // 0.1 s
    double proc_rate = 300.0 / 100.0 * 1000;                            // 3000
    double error = latest_rate - proc_rate;                             // -2999
    double hist_error = 0.0 * proc_rate / static_cast<double>(batch);   // 0
    double d_error = (error - latest_error) / dt;                       // -46902.5
    double expected = std::max(latest_rate - kp * error - ki * hist_error - kd * d_error,
                               min_rate);                               // 3845.625
    auto r = p.compute(1500, 300, 100, 0);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(*r == expected);
    BOOST_TEST(*r == 3845.625, boost::test_tools::tolerance(1e-9));
  }
}

// -- RateEstimator.create -----------------------------------------------------

BOOST_AUTO_TEST_CASE(the_right_estimator_is_created_with_sparks_defaults) {
  conf c;
  auto e = make_rate_estimator(c, seconds(1));
  auto* pid = dynamic_cast<pid_rate_estimator*>(e.get());
  BOOST_TEST_REQUIRE(pid != nullptr);
  BOOST_TEST(pid->batch_interval_ms() == 1000);
  BOOST_TEST(pid->proportional() == 1.0);
  BOOST_TEST(pid->integral() == 0.2);
  BOOST_TEST(pid->derivative() == 0.0);
  BOOST_TEST(pid->min_rate() == 100.0);

  c.set("sluice.streaming.backpressure.rateEstimator", "pid");
  BOOST_TEST(dynamic_cast<pid_rate_estimator*>(make_rate_estimator(c, seconds(1)).get())
             != nullptr);
}

BOOST_AUTO_TEST_CASE(factory_reads_the_pid_terms) {
  conf c;
  c.set("sluice.streaming.backpressure.pid.proportional", "0.5")
    .set("sluice.streaming.backpressure.pid.integral", "0.25")
    .set("sluice.streaming.backpressure.pid.derived", "0.125")
    .set("sluice.streaming.backpressure.pid.minRate", "7.5");
  auto e = make_rate_estimator(c, milliseconds(250));
  auto* pid = dynamic_cast<pid_rate_estimator*>(e.get());
  BOOST_TEST_REQUIRE(pid != nullptr);
  BOOST_TEST(pid->batch_interval_ms() == 250);
  BOOST_TEST(pid->proportional() == 0.5);
  BOOST_TEST(pid->integral() == 0.25);
  BOOST_TEST(pid->derivative() == 0.125);
  BOOST_TEST(pid->min_rate() == 7.5);
  // Through the base class: Spark's "second estimate" example with these terms.
  BOOST_TEST(!e->compute(0, 10, 10, 0).has_value());
  BOOST_TEST(e->compute(10, 10, 10, 0).has_value());
}

BOOST_AUTO_TEST_CASE(unknown_estimator_is_rejected) {
  conf c;
  try {
    make_rate_estimator("magic", c, seconds(1));
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(std::string(e.what()) == "Unknown rate estimator: magic");
  }
  BOOST_CHECK_THROW(make_rate_estimator("PID", c, seconds(1)), invalid_argument);
  BOOST_TEST(dynamic_cast<pid_rate_estimator*>(make_rate_estimator("pid", c, seconds(1)).get())
             != nullptr);
  // conf::set already refuses an unknown estimator.
  BOOST_CHECK_THROW(c.set("sluice.streaming.backpressure.rateEstimator", "magic"),
                    invalid_argument);
}

BOOST_AUTO_TEST_CASE(factory_validates_like_the_constructor) {
  conf c;
  try {
    make_rate_estimator(c, milliseconds(0));
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(std::string(e.what())
               == "requirement failed: Specified batch interval 0 in PIDRateEstimator is invalid.");
  }
}
