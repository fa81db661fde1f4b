#include "sluice/rate_estimator_factory.hpp"

#include "sluice/error.hpp"
#include "sluice/pid_rate_estimator.hpp"

namespace sluice {

std::unique_ptr<rate_estimator> make_rate_estimator(const conf& c, duration batch_interval) {
  auto name = c.get("sluice.streaming.backpressure.rateEstimator").value_or("pid");
  return make_rate_estimator(name, c, batch_interval);
}

std::unique_ptr<rate_estimator> make_rate_estimator(const std::string& name, const conf& c,
                                                    duration batch_interval) {
  if (name == "pid") {
    auto proportional = c.get_double("sluice.streaming.backpressure.pid.proportional", 1.0);
    auto integral = c.get_double("sluice.streaming.backpressure.pid.integral", 0.2);
    auto derived = c.get_double("sluice.streaming.backpressure.pid.derived", 0.0);
    auto min_rate = c.get_double("sluice.streaming.backpressure.pid.minRate", 100);
    return std::make_unique<pid_rate_estimator>(batch_interval.count(), proportional, integral,
                                                derived, min_rate);
  }
  throw invalid_argument("Unknown rate estimator: " + name);
}

} // namespace sluice
