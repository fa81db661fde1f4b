// receiver_source<R>: the input stream of a custom receiver. A graph node
// that owns no actor and no thread: at start it builds the receiver's typed
// buffer and hands it, with the receiver, to the engine
// (source_env::launch_receiver), whose receiver pipeline runs them; the job
// scheduler takes each batch's blocks from that pipeline's tracker.
#pragma once

#include <memory>
#include <string>

#include "sluice/conf.hpp"
#include "sluice/detail/receiver_parts.hpp"
#include "sluice/detail/receiver_runtime.hpp"
#include "sluice/rate_limiter.hpp"
#include "sluice/source.hpp"

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
  };

  std::shared_ptr<R> receiver_;
  sluice::conf cfg_;
  std::shared_ptr<receiver_runtime<T>> runtime_;
};

} // namespace sluice::detail
