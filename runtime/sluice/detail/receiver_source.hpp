// receiver_source<R>: the input stream of a custom receiver. A graph node
// that owns no actor and no thread: at start it builds the receiver's typed
// buffer and hands it, with the receiver, to the engine
// (source_env::launch_receiver), whose receiver pipeline runs them; the job
// scheduler takes each batch's blocks from that pipeline's tracker.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include "sluice/codec.hpp"
#include "sluice/conf.hpp"
#include "sluice/detail/receiver_parts.hpp"
#include "sluice/receiver.hpp"
#include "sluice/source.hpp"

// receiver_runtime<T>: the engine side of one running receiver. The
// receiver's threads store into its bounded buffer (rate-limited; blocked
// while the block queue is full); the block generator cuts blocks from it.
namespace sluice::detail {

/// Fault point receiver.store (defined with the fault injector's users, so
/// that this header needs none of it).
void hit_receiver_store_point();

/// Milliseconds since the Unix epoch (std::chrono::system_clock), for block
/// creation times; defined in actors/src/job_generator.cpp (declared also by
/// actors/sluice/job_generator.hpp), out of line so this header needs no clock.
int64_t system_now_ms();

template <class T>
class receiver_runtime final : public receiver_host<T>, public block_source {
 public:
  /// `queue_size`: blocks cut but not stored yet (blockQueueSize);
  /// `max_buffered`: blocks stored but not processed yet;
  /// `max_records`: records stored but not processed yet (current buffer
  /// included). A producer blocks while any bound is reached, so memory stays
  /// bounded under overload.
  receiver_runtime(int32_t stream, int queue_size, int max_buffered, int64_t max_records,
                   std::unique_ptr<rate_limiter> limiter)
      : stream_(stream), queue_size_(queue_size), max_buffered_(max_buffered),
        max_records_(max_records), limiter_(std::move(limiter)) {}

  void attach(std::shared_ptr<receiver_link> link) override { link_ = std::move(link); }

  void running(bool on) {
    stopped_ = !on;
    cv_.notify_all();
  }

  rate_limiter& limiter() { return *limiter_; }

  // -- receiver_host ------------------------------------------------------------

  void store(T&& x) override {
    hit_receiver_store_point();
    limiter_->wait_to_push(1);
    std::unique_lock<std::mutex> guard{mtx_};
    while (!(has_room() || stopped_))
      cv_.wait(guard);
    current_.push_back(std::move(x));
    ++buffered_records_;
  }

  void store(std::vector<T>&& xs) override {
    hit_receiver_store_point();
    if (xs.empty())
      return;
    limiter_->wait_to_push(xs.size());
    {
      std::unique_lock<std::mutex> guard{mtx_};
      while (!((buffered_ < max_buffered_ && buffered_records_ < max_records_) || stopped_))
        cv_.wait(guard);
      ++buffered_;
      buffered_records_ += static_cast<int64_t>(xs.size());
    }
    block b;
    b.stream = stream_;
    b.id = next_id_++;
    b.created_ms = now_ms();
    b.records = static_cast<int64_t>(xs.size());
    b.data = erase(std::move(xs));
    link().store_block(std::move(b));
  }

  void restart(std::string why, duration delay) override { link().restart(std::move(why), delay); }

  void stop(std::string why) override { link().stop(std::move(why)); }

  void report_error(std::string why) override { link().report_error(std::move(why)); }

  bool is_stopped() const override { return stopped_; }

  // -- block_source -------------------------------------------------------------

  std::optional<block> cut(bool force) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (current_.empty() || (!force && pending_ >= queue_size_))
      return std::nullopt;
    ++pending_;
    ++buffered_;
    block b;
    b.stream = stream_;
    b.id = next_id_++;
    b.created_ms = now_ms();
    b.records = static_cast<int64_t>(current_.size());
    b.data = erase(std::move(current_));
    b.queued = true;
    current_ = {};
    return b;
  }

  void release() override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      --pending_;
    }
    cv_.notify_all();
  }

  void processed(int64_t blocks, int64_t records) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      buffered_ -= blocks;
      buffered_records_ -= records;
    }
    cv_.notify_all();
  }

  erased decode(const std::vector<std::string>& records) const override {
    if constexpr (encodable<T>) {
      std::vector<T> out;
      out.reserve(records.size());
      for (auto& r : records)
        out.push_back(decode_from_string<T>(r));
      return erase(std::move(out));
    } else {
      throw error("the receiver write-ahead log needs a sluice::codec for the record type");
    }
  }

  void continue_after(int64_t id) override {
    if (next_id_.load() <= id)
      next_id_ = id + 1;
  }

  /// Blocks waiting to be processed (for tests and metrics).
  int64_t buffered() {
    std::lock_guard<std::mutex> guard{mtx_};
    return buffered_;
  }

  void encode_each(const erased& data,
                   const std::function<void(std::string_view)>& f) const override {
    if constexpr (encodable<T>) {
      std::string buf;
      for (auto& x : view<T>(data)) {
        buf.clear();
        codec<T>::encode(x, buf);
        f(buf);
      }
    } else {
      throw error("the receiver write-ahead log needs a sluice::codec for the record type");
    }
  }

 private:
  bool has_room() const {
    return pending_ < queue_size_ && buffered_ < max_buffered_ && buffered_records_ < max_records_;
  }

  static int64_t now_ms() { return system_now_ms(); }

  receiver_link& link() const {
    if (!link_)
      throw illegal_state("the receiver's stream is not running");
    return *link_;
  }

  std::shared_ptr<receiver_link> link_;
  int32_t stream_;
  int queue_size_;
  int64_t max_buffered_;
  int64_t max_records_;
  std::unique_ptr<rate_limiter> limiter_;
  std::atomic<int64_t> next_id_{0};
  std::atomic<bool> stopped_{true};
  std::mutex mtx_;
  waiter cv_;  ///< std::condition_variable, out of line (receiver_parts.hpp)
  std::vector<T> current_;  ///< guarded by mtx_
  int pending_ = 0;         ///< blocks cut but not stored yet; guarded by mtx_
  int64_t buffered_ = 0;    ///< blocks stored but not processed; guarded by mtx_
  int64_t buffered_records_ = 0;  ///< records stored but not processed; guarded by mtx_
};

} // namespace sluice::detail


namespace sluice::detail {

/// The receiver's rate limiter from sluice.streaming.receiver.maxRate and
/// sluice.streaming.backpressure.initialRate.
std::unique_ptr<rate_limiter> make_receiver_limiter(const sluice::conf& c);

template <class R>
class receiver_source final : public source_node<typename R::value_type> {
 public:
  using T = typename R::value_type;

  receiver_source(duration batch, std::shared_ptr<R> r, sluice::conf cfg,
                  std::string name = "receiver_stream")
      : source_node<T>(std::move(name), batch), receiver_(std::move(r)), cfg_(std::move(cfg)) {}

  void start(const source_env& env) override {
    runtime_ = std::make_shared<receiver_runtime<T>>(
      this->id(), static_cast<int>(cfg_.get_int("sluice.streaming.blockQueueSize", 10)),
      static_cast<int>(cfg_.get_int("sluice.streaming.receiver.maxBufferedBlocks", 1000)),
      cfg_.get_int("sluice.streaming.receiver.maxBufferedRecords", 4'000'000),
      make_receiver_limiter(cfg_));
    receiver_->attach(runtime_.get());
    env.launch_receiver({this->id(), this->name() + " " + std::to_string(this->id()), runtime_,
                         std::make_shared<adapter_t>(receiver_, runtime_)});
  }

  bool receives() const override { return true; }

  std::optional<parts> generate(batch_time t) override {
    throw illegal_state("receiver stream " + std::to_string(this->id()) + ": the blocks of "
                        + to_string(t) + " come from its tracker, not from the stream");
  }

 private:
  struct adapter_t final : supervised_receiver {
    std::shared_ptr<R> r;
    std::shared_ptr<receiver_runtime<T>> rt;
    adapter_t(std::shared_ptr<R> x, std::shared_ptr<receiver_runtime<T>> y)
        : r(std::move(x)), rt(std::move(y)) {}
    void start() override {
      rt->running(true);
      r->on_start();
    }
    void stop() override {
      rt->running(false); // is_stopped() turns true before on_stop runs
      r->on_stop();
    }
    void update_rate(int64_t x) override { rt->limiter().update_rate(x); }
    threadless_receiver* threadless() override {
      if constexpr (std::is_base_of_v<threadless_receiver, R>)
        return r.get();
      else
        return nullptr;
    }
  };

  std::shared_ptr<R> receiver_;
  sluice::conf cfg_;
  std::shared_ptr<receiver_runtime<T>> runtime_;
};

} // namespace sluice::detail
