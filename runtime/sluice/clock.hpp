// manual_clock: the test clock (Spark's ManualClock). Time starts at 0 and
// moves only when advance() is called; each batch interval passed gives one batch.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "sluice/time.hpp"

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
