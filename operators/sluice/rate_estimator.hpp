// rate_estimator: Spark's RateEstimator (scheduler/rate/RateEstimator.scala),
// which turns the statistics of a finished batch into a new ingestion rate.
#pragma once

#include <cstdint>
#include <optional>

namespace sluice {

/// Estimates how many records per second a stream can ingest (SEMANTICS §6).
class rate_estimator {
 public:
  virtual ~rate_estimator() = default;

  /// Called once per completed batch with `time_ms` = its processing end time,
  /// `num_elements` = the records the stream contributed, and the batch's
  /// processing and scheduling delays. Returns the new rate in records/s, or
  /// `nullopt` when there is no new estimate.
  virtual std::optional<double> compute(int64_t time_ms, int64_t num_elements,
                                        int64_t processing_delay_ms,
                                        int64_t scheduling_delay_ms)
    = 0;
};

} // namespace sluice
