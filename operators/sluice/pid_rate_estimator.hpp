// pid_rate_estimator: Spark's PIDRateEstimator (SEMANTICS §6.31-32), exactly:
// same formula, same first-call behaviour, same validation messages.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "sluice/rate_estimator.hpp"

namespace sluice {

/// A PID controller on the processing rate. Thread-safe (`compute` is
/// synchronized, like Spark's). Deterministic: no clock, no I/O.
class pid_rate_estimator final : public rate_estimator {
 public:
  /// Throws `sluice::invalid_argument` with Spark's `require` message unless
  /// batch_interval_ms > 0, proportional, integral, derivative >= 0 and
  /// min_rate > 0 (NaN fails every check), e.g.
  /// "requirement failed: Specified batch interval 0 in PIDRateEstimator is invalid."
  pid_rate_estimator(int64_t batch_interval_ms, double proportional, double integral,
                     double derivative, double min_rate);

  /// Returns a rate only if time_ms > latest_time(), num_elements > 0 and
  /// processing_delay_ms > 0; otherwise returns nullopt and changes nothing.
  /// The first accepted call only records the processing rate and returns
  /// nullopt; later calls return max(latest_rate - kP*error - kI*historical_error
  /// - kD*d_error, min_rate) (SEMANTICS §6.31).
  std::optional<double> compute(int64_t time_ms, int64_t num_elements,
                                int64_t processing_delay_ms,
                                int64_t scheduling_delay_ms) override;

  // -- state, for tests and diagnostics ---------------------------------------

  /// True until the first accepted `compute`.
  bool first_run() const;
  /// Time of the last accepted `compute` (-1 initially).
  int64_t latest_time() const;
  /// Last rate: the processing rate after the first call, then the last
  /// returned rate (-1 initially).
  double latest_rate() const;
  /// Last error term (-1 initially, 0 after the first accepted call).
  double latest_error() const;

  int64_t batch_interval_ms() const { return batch_interval_ms_; }
  double proportional() const { return proportional_; }
  double integral() const { return integral_; }
  double derivative() const { return derivative_; }
  double min_rate() const { return min_rate_; }

 private:
  int64_t batch_interval_ms_;
  double proportional_;
  double integral_;
  double derivative_;
  double min_rate_;

  mutable std::mutex mtx_;
  bool first_run_ = true;
  int64_t latest_time_ = -1;
  double latest_rate_ = -1;
  double latest_error_ = -1;
};

/// Formats a double like Java's `Double.toString` ("1.0", "-0.5", "1.0E7",
/// "NaN", "Infinity"), so that messages match Spark's.
std::string java_double_string(double d);

} // namespace sluice
