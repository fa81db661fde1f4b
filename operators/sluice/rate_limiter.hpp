// rate_limiter: Spark's receiver RateLimiter (SEMANTICS §6.33, §7.35) over a
// smooth, bursty limiter like Guava's RateLimiter.create (SmoothBursty).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace sluice {

/// Limits how fast records are pushed. Permits are handed out at the current
/// limit; up to one second of unused permits is stored and handed out without
/// waiting. A request whose permits are not yet available is served at once
/// when the limiter is free, and the NEXT caller waits for it (Guava's
/// "pay later"), so the long-run rate stays at the limit even when the
/// caller oversleeps. Thread-safe: many producers may share one limiter.
class rate_limiter {
 public:
  /// Returns the current time in microseconds (any fixed origin).
  using now_fn = std::function<int64_t()>;
  /// Blocks the calling thread for the given number of microseconds (> 0).
  using sleep_fn = std::function<void(int64_t us)>;

  /// `max_rate` is `sluice.streaming.receiver.maxRate`: <= 0 or INT64_MAX
  /// means unlimited. `initial_rate` is `backpressure.initialRate` and falls
  /// back to max_rate; the initial limit is min(initial_rate, max_rate) when
  /// max_rate > 0. Throws `sluice::invalid_argument` naming the value when
  /// `initial_rate` is given and <= 0 (Guava: "rate must be positive").
  rate_limiter(int64_t max_rate, std::optional<int64_t> initial_rate);

  /// Same, with a clock seam (tests pass a fake clock that never blocks).
  rate_limiter(int64_t max_rate, std::optional<int64_t> initial_rate, now_fn now_us,
               sleep_fn sleep_us);

  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  /// Blocks until `records` more records may be pushed. Returns at once when
  /// the limit is unlimited or records == 0.
  void wait_to_push(size_t records = 1);

  /// Spark's updateRate: ignores new_rate <= 0; caps it at max_rate when
  /// max_rate > 0. Stored permits are scaled to the new rate (Guava).
  void update_rate(int64_t new_rate);

  /// Records per second now; INT64_MAX means unlimited.
  int64_t current_limit() const;

  /// The configured maximum; INT64_MAX means unlimited.
  int64_t max_rate() const { return max_rate_; }

 private:
  static constexpr double max_burst_seconds = 1.0;

  double elapsed_us() const;
  void resync(double now);
  void set_rate(int64_t rate, double now);

  int64_t max_rate_;
  now_fn now_us_;
  sleep_fn sleep_us_;
  int64_t origin_us_;

  mutable std::mutex mtx_;
  int64_t limit_ = 0;             ///< INT64_MAX: unlimited
  double stable_interval_us_ = 0; ///< 1e6 / limit
  double max_permits_ = 0;        ///< one second of permits
  double stored_permits_ = 0;
  double next_free_us_ = 0;       ///< when the next request may go, since origin
};

} // namespace sluice
