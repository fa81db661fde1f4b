// make_rate_estimator: Spark's RateEstimator.create (SEMANTICS §6.32).
#pragma once

#include <memory>
#include <string>

#include "sluice/conf.hpp"
#include "sluice/rate_estimator.hpp"
#include "sluice/time.hpp"

namespace sluice {

/// Builds the estimator named by `sluice.streaming.backpressure.rateEstimator`
/// (default "pid") from `c`. For "pid" it reads `...backpressure.pid.proportional`
/// (1.0), `.integral` (0.2), `.derived` (0.0) and `.minRate` (100) and builds a
/// `pid_rate_estimator` with `batch_interval`. Throws `sluice::invalid_argument`
/// on a malformed number, an out-of-range term (the pid constructor's message),
/// or an unknown estimator ("Unknown rate estimator: <name>").
std::unique_ptr<rate_estimator> make_rate_estimator(const conf& c, duration batch_interval);

/// Same, with the estimator's name given instead of read from `c`.
std::unique_ptr<rate_estimator> make_rate_estimator(const std::string& name, const conf& c,
                                                    duration batch_interval);

} // namespace sluice
