// receiver_source<R>: the input stream of a custom receiver. At start it
// spawns the receiver's supervisor, block generator, block manager and
// tracker; each batch takes the blocks received so far, one partition each.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "sluice/block_generator.hpp"
#include "sluice/block_manager.hpp"
#include "sluice/conf.hpp"
#include "sluice/detail/receiver_runtime.hpp"
#include "sluice/rate_estimator_factory.hpp"
#include "sluice/receiver_supervisor.hpp"
#include "sluice/receiver_tracker.hpp"
#include "sluice/source.hpp"

namespace sluice {
class receiver_wal;
} // namespace sluice

namespace sluice::detail {

/// Facts from the context that a receiver stream needs at start.
struct receiver_env {
  caf::actor_system* sys = nullptr;
  sluice::conf cfg;
  std::function<std::optional<std::string>()> checkpoint_dir;
  std::function<std::optional<int64_t>()> recovered;  ///< get_or_create's batch time
  std::shared_ptr<transport> net;  ///< the context's (records between the actors)
};

/// The parts of receiver streams that do not depend on the record type.
class receiver_source_base {
 protected:
  /// Spawns tracker and manager (with the WAL when it is on).
  void spawn_storage(const receiver_env& renv, const source_env& env, int32_t stream,
                     std::shared_ptr<block_source> source);
  /// After a restart with the WAL on: blocks of batches after `recovered`
  /// go back to those batches, blocks never allocated back to the tracker.
  void replay(int32_t stream, block_source& source,
              std::map<int64_t, std::optional<parts>>& prepared);
  void spawn_supervision(const receiver_env& renv, const source_env& env, int32_t stream,
                         const std::string& name, std::shared_ptr<supervised_receiver> r,
                         std::shared_ptr<block_source> source);
  std::optional<parts> allocate(batch_time t, int32_t stream);
  void stop_receiving();
  void completed(const batch_info& info, int64_t records, duration batch);
  void shutdown();

  caf::actor_system* sys_ = nullptr;
  std::shared_ptr<transport> net_;
  caf::actor tracker_;
  caf::actor manager_;
  caf::actor generator_;
  caf::actor supervisor_;
  std::unique_ptr<rate_estimator> estimator_;
  std::shared_ptr<receiver_wal> replay_log_;  ///< the WAL to replay at start, if any
  std::optional<int64_t> recovered_;          ///< recovering after this batch time
  bool stopped_ = false;
};

template <class R>
class receiver_source final : public source_node<typename R::value_type>,
                              public receiver_source_base {
 public:
  using T = typename R::value_type;

  receiver_source(duration batch, std::shared_ptr<R> r, receiver_env env,
                  std::string name = "receiver_stream")
      : source_node<T>(std::move(name), batch), receiver_(std::move(r)), env_(std::move(env)) {}

  ~receiver_source() override { shutdown(); }

  void start(const source_env& env) override {
    sys_ = env_.sys;
    auto& c = env_.cfg;
    auto limiter = std::make_unique<rate_limiter>(
      c.get_int("sluice.streaming.receiver.maxRate", 0),
      c.get("sluice.streaming.backpressure.initialRate")
        ? std::optional<int64_t>{c.get_int("sluice.streaming.backpressure.initialRate", 0)}
        : std::nullopt);
    runtime_ = std::make_shared<receiver_runtime<T>>(
      *sys_, env_.net, this->id(), static_cast<int>(c.get_int("sluice.streaming.blockQueueSize", 10)),
      static_cast<int>(c.get_int("sluice.streaming.receiver.maxBufferedBlocks", 1000)),
      c.get_int("sluice.streaming.receiver.maxBufferedRecords", 4'000'000), std::move(limiter));
    receiver_->attach(runtime_.get());
    spawn_storage(env_, env, this->id(), runtime_);
    replay(this->id(), *runtime_, prepared_);
    auto adapter = std::make_shared<adapter_t>(receiver_, runtime_);
    spawn_supervision(env_, env, this->id(), this->name() + " " + std::to_string(this->id()),
                      adapter, runtime_);
    runtime_->bind(supervisor_, manager_);
    caf::anon_send(supervisor_, start_atom::value);
  }

  void prepare(batch_time t) override {
    auto fresh = allocate(t, this->id());
    auto i = prepared_.find(t.ms);
    if (i == prepared_.end() || !i->second) {
      prepared_[t.ms] = std::move(fresh);
      return;
    }
    // Blocks replayed from the WAL for this batch come first.
    for (auto& p : fresh.value_or(parts{}))
      i->second->push_back({static_cast<int32_t>(i->second->size()), std::move(p.data)});
  }

  std::optional<parts> generate(batch_time t) override {
    auto i = prepared_.find(t.ms);
    if (i == prepared_.end())
      return allocate(t, this->id());
    auto out = std::move(i->second);
    prepared_.erase(prepared_.begin(), std::next(i));
    return out;
  }

  void stop() override { stop_receiving(); }

  void on_batch_completed(const batch_info& info, int64_t records) override {
    completed(info, records, this->slide());
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
  receiver_env env_;
  std::shared_ptr<receiver_runtime<T>> runtime_;
  std::map<int64_t, std::optional<parts>> prepared_;  ///< allocations of queued batches
};

} // namespace sluice::detail
