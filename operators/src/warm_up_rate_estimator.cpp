#include "sluice/warm_up_rate_estimator.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "sluice/error.hpp"
#include "sluice/pid_rate_estimator.hpp"

namespace sluice {

namespace {

constexpr double max_bound = 1e9; // records/s: far above any receiver, safe as int64

} // namespace

warm_up_rate_estimator::warm_up_rate_estimator(std::unique_ptr<rate_estimator> inner,
                                               int64_t batch_interval_ms, double start_rate)
  : inner_(std::move(inner)),
    batch_interval_ms_(batch_interval_ms),
    start_rate_(start_rate),
    bound_(start_rate) {
  if (!inner_)
    throw invalid_argument("warm_up_rate_estimator: no estimator to wrap");
  if (batch_interval_ms <= 0)
    throw invalid_argument("warm_up_rate_estimator: batch interval "
                           + std::to_string(batch_interval_ms) + " ms, expected > 0");
  if (!(start_rate >= 1) || start_rate > max_bound)
    throw invalid_argument("warm_up_rate_estimator: start rate " + java_double_string(start_rate)
                           + " records/s, expected 1 to 1.0E9");
}

std::optional<double> warm_up_rate_estimator::compute(int64_t time_ms, int64_t num_elements,
                                                      int64_t processing_delay_ms,
                                                      int64_t scheduling_delay_ms) {
  auto rate = inner_->compute(time_ms, num_elements, processing_delay_ms, scheduling_delay_ms);
  std::lock_guard<std::mutex> guard{mtx_};
  if (rate) {
    warming_up_ = false;
    return rate;
  }
  if (!warming_up_ || num_elements <= 0
      || 2 * (processing_delay_ms + scheduling_delay_ms) > batch_interval_ms_
      || bound_ >= max_bound)
    return std::nullopt;
  bound_ = std::min(bound_ * 2, max_bound);
  return bound_;
}

bool warm_up_rate_estimator::warming_up() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return warming_up_;
}

double warm_up_rate_estimator::bound() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return bound_;
}

} // namespace sluice
