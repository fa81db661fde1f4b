#define BOOST_TEST_MODULE operators/warm_up_rate_estimator
#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <string>

#include "sluice/error.hpp"
#include "sluice/pid_rate_estimator.hpp"
#include "sluice/warm_up_rate_estimator.hpp"

using namespace sluice;

namespace {

// Spark's defaults (kP 1, kI 0.2, kD 0, minRate 100) on 1 s batches.
warm_up_rate_estimator make(double start = 100) {
  return warm_up_rate_estimator{std::make_unique<pid_rate_estimator>(1000, 1.0, 0.2, 0.0, 100),
                                1000, start};
}

std::string message_of(int64_t batch, double start, bool with_inner = true) {
  try {
    warm_up_rate_estimator{
      with_inner ? std::make_unique<pid_rate_estimator>(1000, 1.0, 0.2, 0.0, 100) : nullptr,
      batch, start};
  } catch (const invalid_argument& e) {
    return e.what();
  }
  return "no exception";
}

/// The rate, or -1 for none (Boost.Test prints doubles, not optionals).
double rate(std::optional<double> r) { return r ? *r : -1; }

} // namespace

BOOST_AUTO_TEST_CASE(starts_at_the_start_rate_and_doubles_after_each_fast_batch) {
  auto w = make();
  BOOST_TEST(w.initial_rate() == 100.0);
  // 0 ms of processing: the PID does not accept it; the bound doubles.
  BOOST_TEST(rate(w.compute(1000, 50, 0, 0)) == 200.0);
  // The PID's first accepted call only measures; the bound doubles again.
  BOOST_TEST(rate(w.compute(2000, 200, 16, 0)) == 400.0);
  BOOST_TEST(w.warming_up());
}

BOOST_AUTO_TEST_CASE(the_first_estimate_ends_the_warm_up_and_passes_through_unchanged) {
  auto w = make();
  pid_rate_estimator spark{1000, 1.0, 0.2, 0.0, 100};
  BOOST_TEST(rate(w.compute(1000, 100, 8, 0)) == 200.0);
  BOOST_TEST(rate(spark.compute(1000, 100, 8, 0)) == -1);
  // Second accepted call: the PID's rate (records / processing time), as is.
  auto expected = spark.compute(2000, 200, 16, 5);
  BOOST_TEST(expected.has_value());
  BOOST_TEST(rate(w.compute(2000, 200, 16, 5)) == rate(expected));
  BOOST_TEST(!w.warming_up());
  // From now on only the PID speaks, even for a fast batch it ignores.
  BOOST_TEST(rate(w.compute(3000, 10, 0, 0)) == -1);
  BOOST_TEST(rate(w.compute(4000, 12000, 900, 100))
             == rate(spark.compute(4000, 12000, 900, 100)));
}

BOOST_AUTO_TEST_CASE(no_doubling_without_records_or_after_a_batch_over_half_the_interval) {
  auto w = make();
  BOOST_TEST(rate(w.compute(1000, 0, 0, 0)) == -1);      // nothing received: nothing learnt
  BOOST_TEST(rate(w.compute(2000, 100, 0, 501)) == -1);  // late: 501 ms of 1000 > half
  BOOST_TEST(rate(w.compute(3000, 100, 300, 201)) == -1); // 501 ms again, first PID call
  BOOST_TEST(w.bound() == 100.0);
  BOOST_TEST(w.warming_up());
}

BOOST_AUTO_TEST_CASE(the_bound_stops_at_a_billion_per_second) {
  auto w = make(4e8);
  BOOST_TEST(rate(w.compute(1000, 1, 0, 0)) == 8e8);
  BOOST_TEST(rate(w.compute(2000, 1, 0, 0)) == 1e9);
  BOOST_TEST(rate(w.compute(3000, 1, 0, 0)) == -1);
  BOOST_TEST(w.bound() == 1e9);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_named) {
  BOOST_TEST(message_of(0, 100) == "warm_up_rate_estimator: batch interval 0 ms, expected > 0");
  BOOST_TEST(message_of(1000, 0.5)
             == "warm_up_rate_estimator: start rate 0.5 records/s, expected 1 to 1.0E9");
  BOOST_TEST(message_of(1000, 100, false) == "warm_up_rate_estimator: no estimator to wrap");
}
