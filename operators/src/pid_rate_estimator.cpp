#include "sluice/pid_rate_estimator.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "sluice/error.hpp"

namespace sluice {

std::string java_double_string(double d) {
  if (std::isnan(d))
    return "NaN";
  if (std::isinf(d))
    return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0)
    return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto a = std::fabs(d);
  if (a >= 1e-3 && a < 1e7) {
    auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
    std::string s(buf, r.ptr);
    if (s.find('.') == std::string::npos)
      s += ".0";
    return s;
  }
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string s(buf, r.ptr); // e.g. "1.5e-05" or "1e+07"
  auto e = s.find('e');
  auto mantissa = s.substr(0, e);
  if (mantissa.find('.') == std::string::npos)
    mantissa += ".0";
  return mantissa + "E" + std::to_string(std::stoi(s.substr(e + 1)));
}

namespace {

void require(bool ok, const std::string& message) {
  if (!ok)
    throw invalid_argument("requirement failed: " + message);
}

} // namespace

pid_rate_estimator::pid_rate_estimator(int64_t batch_interval_ms, double proportional,
                                       double integral, double derivative, double min_rate)
  : batch_interval_ms_(batch_interval_ms),
    proportional_(proportional),
    integral_(integral),
    derivative_(derivative),
    min_rate_(min_rate) {
  require(batch_interval_ms > 0, "Specified batch interval " + std::to_string(batch_interval_ms)
                                   + " in PIDRateEstimator is invalid.");
  require(proportional >= 0, "Proportional term " + java_double_string(proportional)
                               + " in PIDRateEstimator should be >= 0.");
  require(integral >= 0, "Integral term " + java_double_string(integral)
                           + " in PIDRateEstimator should be >= 0.");
  require(derivative >= 0, "Derivative term " + java_double_string(derivative)
                             + " in PIDRateEstimator should be >= 0.");
  require(min_rate > 0, "Minimum rate in PIDRateEstimator should be > 0");
}

std::optional<double> pid_rate_estimator::compute(int64_t time_ms, int64_t num_elements,
                                                  int64_t processing_delay_ms,
                                                  int64_t scheduling_delay_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!(time_ms > latest_time_ && num_elements > 0 && processing_delay_ms > 0))
    return std::nullopt;
  // Same operations in the same order as Spark, so the doubles match.
  double delay_since_update = static_cast<double>(time_ms - latest_time_) / 1000;
  double processing_rate
    = static_cast<double>(num_elements) / static_cast<double>(processing_delay_ms) * 1000;
  double error = latest_rate_ - processing_rate;
  double historical_error = static_cast<double>(scheduling_delay_ms) * processing_rate
                            / static_cast<double>(batch_interval_ms_);
  double d_error = (error - latest_error_) / delay_since_update;
  double new_rate = std::max(latest_rate_ - proportional_ * error - integral_ * historical_error
                               - derivative_ * d_error,
                             min_rate_);
  latest_time_ = time_ms;
  if (first_run_) {
    latest_rate_ = processing_rate;
    latest_error_ = 0;
    first_run_ = false;
    return std::nullopt;
  }
  latest_rate_ = new_rate;
  latest_error_ = error;
  return new_rate;
}

bool pid_rate_estimator::first_run() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return first_run_;
}

int64_t pid_rate_estimator::latest_time() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return latest_time_;
}

double pid_rate_estimator::latest_rate() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return latest_rate_;
}

double pid_rate_estimator::latest_error() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return latest_error_;
}

} // namespace sluice
