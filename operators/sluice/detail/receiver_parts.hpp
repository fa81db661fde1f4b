// What a receiver stream and the engine's receiver pipeline know of each
// other, without CAF: the stream (a graph node, templated on its record
// type) builds a typed buffer and an adapter of the user's receiver, and
// hands both to the engine at start (`receiver_launch`); the engine's
// pipeline (actors/sluice/receiver_pipeline.hpp) owns every actor and
// thread, and links back into the buffer (`receiver_link`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/detail/erased.hpp"
#include "sluice/time.hpp"

// rate_limiter: Spark's receiver RateLimiter (SEMANTICS §6.33, §7.35) over a
// smooth, bursty limiter like Guava's RateLimiter.create (SmoothBursty).
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


namespace sluice::detail {

/// A block in the receiving process (it travels between actors as block_msg).
struct block {
  int32_t stream = 0;
  int64_t id = 0;
  int64_t created_ms = 0;
  int64_t records = 0;
  erased data;          ///< std::vector<T> of the receiver's record type
  bool queued = false;  ///< cut from the block queue (release() once stored)
};

/// A condition variable kept out of line (operators/src/rate_limiter.cpp), so
/// that the public headers that hold one (receiver buffers) need not parse
/// <condition_variable>. Same contract as std::condition_variable with a
/// std::mutex; spurious wake-ups happen, so callers wait in a loop. It owns
/// its implementation through a plain pointer: a std::unique_ptr member
/// would make every includer instantiate it.
class waiter {
 public:
  waiter();
  ~waiter();
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  /// Releases `lock`, blocks until notified (or woken spuriously), then
  /// holds `lock` again. @pre `lock` owns its mutex.
  void wait(std::unique_lock<std::mutex>& lock);
  void notify_all() noexcept;

 private:
  struct impl;
  impl* impl_;  ///< owned
};

/// The engine side of a running receiver, as its buffer calls it from the
/// receiver's own threads. Implemented by the receiver pipeline.
class receiver_link {
 public:
  virtual ~receiver_link() = default;
  /// Reliable store: returns once the block manager stored `b` (in the WAL
  /// when it is on); throws sluice::error when it could not.
  virtual void store_block(block b) = 0;
  virtual void restart(std::string why, duration delay) = 0;
  virtual void stop(std::string why) = 0;
  virtual void report_error(std::string why) = 0;
};

/// The receiver side of block generation: a bounded buffer that a receiver's
/// own thread stores into. Implemented per record type by the runtime.
class block_source {
 public:
  virtual ~block_source() = default;
  /// Called once by the pipeline before the receiver starts.
  virtual void attach(std::shared_ptr<receiver_link> link) = 0;
  /// Cuts everything stored since the last cut into a block. Returns
  /// nullopt when nothing was stored or, unless `force`, when the block
  /// queue is full (then the producer blocks until release()).
  virtual std::optional<block> cut(bool force = false) = 0;
  /// A cut block was stored by the block manager: frees its queue slot.
  virtual void release() = 0;
  /// `blocks` stored blocks holding `records` records were processed (their
  /// batch completed) and dropped: frees room in the buffering bounds.
  virtual void processed(int64_t blocks, int64_t records) = 0;
  /// Encodes a block's records with their codec, for the write-ahead log:
  /// calls `f` with each record's bytes, in order (the view is valid during
  /// the call only: one buffer serves every record).
  virtual void encode_each(const erased& data,
                           const std::function<void(std::string_view)>& f) const = 0;
  /// Decodes records written by encode_each() (WAL replay after a restart).
  virtual erased decode(const std::vector<std::string>& records) const = 0;
  /// Block ids continue after `id` (ids already in the WAL).
  virtual void continue_after(int64_t id) = 0;
};

/// Marks a receiver<T> that starts no thread of its own (sluice::testing's
/// scripted_receiver): the only kind sluice.streaming.clock=simulated runs.
/// Its source is polled instead: the context calls pump() on the thread
/// that moves the manual clock, outside every actor's handler, so the
/// receiver's reliable store(std::vector<T>) may wait for the block manager
/// (the coordinator runs it then: deterministic.hpp).
class threadless_receiver {
 public:
  virtual ~threadless_receiver() = default;
  /// Stores what the source has for batch times up to `until_ms`, unless
  /// the receiver is stopped (between a failure and its restart).
  virtual void pump(int64_t until_ms) = 0;
};

/// The receiver as its supervisor sees it (the runtime adapts receiver<T>).
class supervised_receiver {
 public:
  virtual ~supervised_receiver() = default;
  virtual void start() = 0;  ///< calls on_start(); may throw
  virtual void stop() = 0;   ///< calls on_stop(); may throw
  virtual void update_rate(int64_t records_per_s) = 0;
  /// The receiver as a threadless_receiver, or null when it has threads.
  virtual threadless_receiver* threadless() { return nullptr; }
};

/// What a receiver stream hands the engine at start (source_env::launch_receiver).
struct receiver_launch {
  int32_t stream = 0;   ///< the stream's node id
  std::string name;     ///< for logs and listeners, e.g. "socket_text_stream 0"
  std::shared_ptr<block_source> buffer;
  std::shared_ptr<supervised_receiver> receiver;
};

} // namespace sluice::detail
