// receiver<T>: Spark's Receiver. Derive from it to bring data in from any
// source; the engine runs on_start/on_stop under a supervisor, on a thread of
// their own, and restarts the receiver when it fails.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/time.hpp"

namespace sluice {

namespace detail {

/// What a running receiver talks to; implemented by the engine per stream.
template <class T>
class receiver_host {
 public:
  virtual ~receiver_host() = default;
  virtual void store(T&& x) = 0;
  virtual void store(std::vector<T>&& xs) = 0;
  virtual void restart(std::string why, duration delay) = 0;
  virtual void stop(std::string why) = 0;
  virtual void report_error(std::string why) = 0;
  virtual bool is_stopped() const = 0;
};

} // namespace detail

/// A custom receiver. on_start() must not block: start your own threads
/// there and have them call store(). The protected members are thread-safe
/// and may be called from any thread of the receiver while it runs.
template <class T>
class receiver {
 public:
  using value_type = T;

  receiver() = default;
  receiver(const receiver&) {}
  receiver& operator=(const receiver&) { return *this; }
  virtual ~receiver() = default;

  virtual void on_start() = 0;
  virtual void on_stop() = 0;

  /// @private The engine attaches the receiver to its stream.
  void attach(detail::receiver_host<T>* host) { host_.store(host); }

 protected:
  /// Stores one record; it reaches a block within blockInterval. Blocks
  /// while the rate limit or a full block queue holds the producer back.
  void store(T x) { host().store(std::move(x)); }

  /// Stores records as one block. Reliable: returns only once the block is
  /// stored (with sluice.streaming.receiver.writeAheadLog.enable=true, once
  /// it is in the write-ahead log). Throws sluice::error if it could not be.
  void store(std::vector<T> xs) { host().store(std::move(xs)); }

  /// Stops the receiver and starts it again after `delay` (growing
  /// exponentially with consecutive restarts), as Spark's restart(). Past
  /// sluice.streaming.receiver.maxRestarts restarts within restartWindow the
  /// receiver stops for good and the context stops with an error naming it
  /// (unless sluice.streaming.receiver.stopContextAfterMaxRestarts=false).
  void restart(std::string why, duration delay = milliseconds(2000)) {
    host().restart(std::move(why), delay);
  }

  /// Stops the receiver for good (the application keeps running).
  void stop(std::string why) { host().stop(std::move(why)); }

  /// Reports an error to the listeners without restarting.
  void report_error(std::string why) { host().report_error(std::move(why)); }

  bool is_stopped() const {
    auto* h = host_.load();
    return h == nullptr || h->is_stopped();
  }

 private:
  detail::receiver_host<T>& host() const {
    auto* h = host_.load();
    if (h == nullptr)
      throw illegal_state("the receiver is not attached to a started stream");
    return *h;
  }

  std::atomic<detail::receiver_host<T>*> host_{nullptr};
};

} // namespace sluice
