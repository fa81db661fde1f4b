// Durations and batch times (SEMANTICS §1: batch times are multiples of the batch interval).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>

namespace sluice {

using duration = std::chrono::milliseconds;

inline duration milliseconds(int64_t n) { return duration{n}; }
inline duration seconds(int64_t n) { return duration{n * 1000}; }
inline duration minutes(int64_t n) { return duration{n * 60'000}; }

/// The time of one batch, in milliseconds since the clock's epoch.
/// Prints as "<ms> ms", like Spark's `Time.toString`.
struct batch_time {
  int64_t ms = 0;

  friend constexpr auto operator<=>(batch_time, batch_time) = default;
  friend constexpr batch_time operator+(batch_time t, duration d) { return {t.ms + d.count()}; }
  friend constexpr batch_time operator-(batch_time t, duration d) { return {t.ms - d.count()}; }
  friend constexpr duration operator-(batch_time a, batch_time b) { return duration{a.ms - b.ms}; }
};

inline std::string to_string(batch_time t) { return std::to_string(t.ms) + " ms"; }
inline std::string to_string(duration d) { return std::to_string(d.count()) + " ms"; }
inline std::ostream& operator<<(std::ostream& os, batch_time t) { return os << to_string(t); }

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_time& t) {
  return f(t.ms);
}

} // namespace sluice

// manual_clock: the test clock (Spark's ManualClock). Time starts at 0 and
// moves only when advance() is called; each batch interval passed gives one batch.
namespace sluice {

class manual_clock {
 public:
  /// Moves time forward by `d` and lets the job generator emit every batch
  /// time reached. Returns at once: batches run on the engine's threads.
  /// Thread-safe.
  void advance(duration d);

  batch_time now() const { return batch_time{now_.load()}; }

  /// @private Called by the context: `f(now_ms)` runs on every advance.
  void on_advance(std::function<void(int64_t)> f);

 private:
  std::atomic<int64_t> now_{0};
  std::mutex mtx_;
  std::function<void(int64_t)> listener_;
};

} // namespace sluice
