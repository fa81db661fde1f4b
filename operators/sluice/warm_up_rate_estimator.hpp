// warm_up_rate_estimator: bounds a receiver's rate until the backpressure
// estimator has its first estimate, for when the user set neither
// backpressure.initialRate nor receiver.maxRate.
//
// Why: Spark's PID estimator publishes nothing before the SECOND completed
// batch with records (the first only measures). Without initialRate the
// first batches are received at whatever rate the producer offers, and a
// producer at 10x the pipeline's capacity fills them with ten intervals of
// work each; every batch received before the estimate (all the buffer
// holds) then runs at that size, so the delay grows for minutes after the
// estimator has lowered the rate. A careful user sets initialRate below
// the pipeline's capacity; this does it for them.
//
// What: the bound starts at `start_rate` (the receiver source passes
// pid.minRate: 100 records/s by default, the lowest rate the estimator
// itself would ask for) and doubles after each completed batch that had
// records and was done (scheduling + processing) within half the batch
// interval: at linear cost, twice the records then still fit in one
// interval. Once the wrapped estimator returns a rate, this passes the
// estimator's rates through unchanged (Spark's formula, untouched) and
// never bounds again. The PID's first estimate is the measured processing
// rate (records / processing time), so a small first batch is enough:
// with 100 records/s the estimate comes after two batches for any pipeline
// that needs at least 1 ms for them, and sooner doubling otherwise.
//
// Not chosen: bounding what is ALLOCATED to each batch by the rate instead
// of what is received. Blocks left unallocated wait in the receiver's
// bounded buffer (maxBufferedRecords: minutes of work under overload), so
// the batches' scheduling delay would look small while the records' age
// stays at the buffer's length. Bounding reception keeps the producer
// waiting (TCP flow control, a blocked store) and the buffer short.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "sluice/rate_estimator.hpp"

namespace sluice {

class warm_up_rate_estimator final : public rate_estimator {
 public:
  /// Throws `sluice::invalid_argument` naming the value unless inner is set,
  /// batch_interval_ms > 0 and start_rate >= 1.
  warm_up_rate_estimator(std::unique_ptr<rate_estimator> inner, int64_t batch_interval_ms,
                         double start_rate);

  /// The bound to give the receiver before it starts: start_rate.
  double initial_rate() const { return start_rate_; }

  /// Forwards to the wrapped estimator. While it has given no rate yet:
  /// returns the doubled bound after a batch with records done within half
  /// the interval, nullopt otherwise. The bound stops doubling at 1e9/s.
  std::optional<double> compute(int64_t time_ms, int64_t num_elements,
                                int64_t processing_delay_ms,
                                int64_t scheduling_delay_ms) override;

  /// True until the wrapped estimator has returned a rate.
  bool warming_up() const;
  /// The current bound (meaningful while warming up).
  double bound() const;

 private:
  std::unique_ptr<rate_estimator> inner_;
  int64_t batch_interval_ms_;
  double start_rate_;
  mutable std::mutex mtx_;
  bool warming_up_ = true;
  double bound_;
};

} // namespace sluice
