// sluice::testing::scripted_receiver (<sluice/testing.hpp>): scripted
// records delivered through a real receiver<T> inside the simulation, one
// block a batch, stored from the thread that moves the simulated clock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sluice/sluice.hpp"

namespace sluice::testing {

namespace detail {

/// The simulation run going on on this thread (each run_plan takes the
/// next number of the process), or 0 outside one.
std::uint64_t current_run() noexcept;

/// A scripted receiver's source: the script, and how far receivers of the
/// current run have stored it (acknowledged: their store returned, so the
/// block is in the receiver write-ahead log when that is on). It outlives
/// the contexts of a run, as a broker keeps a consumer's committed offset
/// across its restarts, and starts over with each run.
template <class T>
struct receiver_script {
  explicit receiver_script(std::map<std::int64_t, std::vector<T>> r) : records(std::move(r)) {}
  const std::map<std::int64_t, std::vector<T>> records;
  std::mutex mtx;
  std::uint64_t run = 0;
  std::int64_t stored = 0;  ///< batches 1..stored are stored
};

/// The receiver behind scripted_receiver: no thread of its own; the
/// context pumps it (sluice/detail/receiver_parts.hpp threadless_receiver).
template <class T>
class scripted_receiver_impl final : public receiver<T>,
                                     public sluice::detail::threadless_receiver {
 public:
  scripted_receiver_impl(std::shared_ptr<receiver_script<T>> src, std::int64_t interval_ms,
                         duration restart_delay)
      : src_(std::move(src)), interval_ms_(interval_ms), restart_delay_(restart_delay) {}

  void on_start() override {}  // the pump stores; it resumes after src_->stored
  void on_stop() override {}

  /// Stores, one block a batch, the records of every batch up to `until_ms`
  /// not stored yet (an empty batch still calls store, which hits the
  /// receiver.store point). A failed store stores nothing: the receiver
  /// asks for a restart and a later pump stores that batch again.
  void pump(std::int64_t until_ms) override {
    std::lock_guard<std::mutex> guard{src_->mtx};
    if (src_->run != current_run()) {
      src_->run = current_run();
      src_->stored = 0;
    }
    for (auto i = src_->stored + 1; i <= until_ms / interval_ms_ && !this->is_stopped(); ++i) {
      auto r = src_->records.find(i);
      try {
        this->store(r == src_->records.end() ? std::vector<T>{} : r->second);
      } catch (const std::exception& e) {
        this->restart("scripted receiver: storing batch " + std::to_string(i)
                        + " failed: " + e.what(),
                      restart_delay_);
        return;
      }
      src_->stored = i;
    }
  }

 private:
  std::shared_ptr<receiver_script<T>> src_;
  std::int64_t interval_ms_;
  duration restart_delay_;
};

} // namespace detail

/// Scripted records delivered through a real receiver (receiver<T>): each
/// batch's records are stored as one block halfway through the batch, and
/// go through block manager, write-ahead log (when
/// sluice.streaming.receiver.writeAheadLog.enable=true) and tracker into
/// exactly their batch, as a receiver's would; a receiver_crash fault fails
/// the receiver there. The same script as a scripted_input gives the same
/// outputs. After a driver restart the receiver resumes after the last
/// batch it stored (the WAL gives back what was stored but not processed),
/// so with the WAL on no record is lost or stored twice; without it, what
/// was stored but not processed when the driver restarted is lost (as in
/// Spark). Runs only in the simulation (or a context with
/// sluice.streaming.clock=simulated), without simulated workers.
template <class T>
class scripted_receiver {
 public:
  explicit scripted_receiver(std::map<std::int64_t, std::vector<T>> script)
      : src_(std::make_shared<detail::receiver_script<T>>(std::move(script))) {}

  /// The receiver's stream in `ssc` (call it in the build function, once
  /// per context). A failed store asks for a restart after
  /// sluice.streaming.receiverRestartDelay.
  dstream<T> stream(streaming_context& ssc) const {
    auto delay = ssc.config().get_duration("sluice.streaming.receiverRestartDelay",
                                           milliseconds(2000));
    return ssc.receiver_stream(
      detail::scripted_receiver_impl<T>{src_, ssc.batch_interval().count(), delay});
  }

 private:
  std::shared_ptr<detail::receiver_script<T>> src_;
};

} // namespace sluice::testing
