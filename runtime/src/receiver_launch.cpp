// Receiver streams at start: their conf becomes a receiver pipeline's
// settings, and the context owns the pipeline (the stream's node owns none).
#include <algorithm>
#include <cmath>
#include <limits>

#include "context_impl.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/detail/receiver_source.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/rate_estimator_factory.hpp"
#include "sluice/warm_up_rate_estimator.hpp"

namespace sluice::detail {

void hit_receiver_store_point() { fault_injector::global().hit(fault_points::receiver_store); }

std::unique_ptr<rate_limiter> make_receiver_limiter(const sluice::conf& c) {
  return std::make_unique<rate_limiter>(
    c.get_int("sluice.streaming.receiver.maxRate", 0),
    c.get("sluice.streaming.backpressure.initialRate")
      ? std::optional<int64_t>{c.get_int("sluice.streaming.backpressure.initialRate", 0)}
      : std::nullopt);
}

namespace {

/// Backpressure's estimator and first rate (none without backpressure).
void choose_rate_control(const sluice::conf& c, duration batch, receiver_settings& s) {
  if (!c.get_bool("sluice.streaming.backpressure.enabled", false))
    return;
  std::unique_ptr<rate_estimator> estimator = make_rate_estimator(c, batch);
  // Neither initialRate nor maxRate: Spark would receive the first batches
  // unbounded until the estimator's first rate (two batches later), which
  // under overload queues minutes of work. Start at pid.minRate and let
  // warm_up_rate_estimator raise the bound until the estimator takes over
  // (the why and the rule are in its header).
  auto max_rate = c.get_int("sluice.streaming.receiver.maxRate", 0);
  bool unbounded = max_rate <= 0 || max_rate == std::numeric_limits<int64_t>::max();
  if (unbounded && !c.get("sluice.streaming.backpressure.initialRate")) {
    double start = std::ceil(c.get_double("sluice.streaming.backpressure.pid.minRate", 100));
    auto w = std::make_unique<warm_up_rate_estimator>(std::move(estimator), batch.count(),
                                                      std::clamp(start, 1.0, 1e9));
    s.initial_rate = static_cast<int64_t>(w->initial_rate());
    estimator = std::move(w);
  }
  s.estimator = std::move(estimator);
}

} // namespace

receiver_settings context_impl::receiver_settings_of(const receiver_launch& launch,
                                                    const source_env& env) {
  auto& c = cfg;
  receiver_settings s;
  s.block_interval = c.get_duration("sluice.streaming.blockInterval", milliseconds(200));
  s.policy.base_delay = c.get_duration("sluice.streaming.receiverRestartDelay", milliseconds(2000));
  s.policy.max_delay = c.get_duration("sluice.streaming.receiver.maxRestartDelay", seconds(30));
  s.policy.max_restarts = static_cast<int>(c.get_int("sluice.streaming.receiver.maxRestarts", 10));
  s.policy.window = c.get_duration("sluice.streaming.receiver.restartWindow", seconds(60));
  s.stop_context_on_give_up = c.get_bool("sluice.streaming.receiver.stopContextAfterMaxRestarts",
                                         true);
  if (c.get_bool("sluice.streaming.receiver.writeAheadLog.enable", false)) {
    if (!checkpoint_dir)
      throw illegal_state("sluice.streaming.receiver.writeAheadLog.enable=true needs a "
                          "checkpoint directory: call ssc.checkpoint(dir) before start() "
                          "(receiver stream " + std::to_string(launch.stream) + ")");
    s.wal_dir = checkpoint_dir;
    s.recovered = recover_from;
  }
  choose_rate_control(c, env.info.batch, s);
  return s;
}

void context_impl::launch_receiver(receiver_launch launch, const source_env& env) {
  if (simulated) {
    // Only a threadless receiver (sluice::testing's scripted_receiver): its
    // source is polled by feed_receivers on the thread that runs every actor.
    if (launch.receiver->threadless() == nullptr)
      throw invalid_argument("receiver " + launch.name + ": a receiver stores from a thread of "
                             "its own, which sluice.streaming.clock=simulated does not allow "
                             "(use queue_stream, a scripted input, a scripted receiver or a "
                             "file stream)");
    if (cluster.what != cluster_spec::mode::local)
      throw invalid_argument("receiver " + launch.name + ": a scripted receiver runs in a "
                             "one-process simulation only, not with simulated workers");
    threadless_.push_back(launch.receiver);
  }
  auto s = receiver_settings_of(launch, env);
  // Cluster mode: the driver keeps the tracker (and the WAL) and places the
  // receiver on a worker in start_receivers().
  if (receivers_on_workers())
    s.role = receiver_role::home;
  receivers_.push_back(
    std::make_unique<receiver_pipeline>(*sys, net, std::move(launch), std::move(s), env));
}

void context_impl::feed_receivers(int64_t t_ms) {
  // Records of batch t arrive inside (previous batch, t]: halfway, so that a
  // receiver failing there is restarted (restart delays up to half a batch)
  // and stores what it still has before the cut at t.
  auto pump = [&] {
    for (auto& r : threadless_)
      r->threadless()->pump(t_ms);
    run_until_idle(*sys);
  };
  auto move_to = [&](int64_t ms) {
    advance_timers(*sys, std::chrono::milliseconds(ms - timers_ms_));
    timers_ms_ = ms;
  };
  move_to(timers_ms_ + (t_ms - timers_ms_) / 2);
  pump();
  move_to(t_ms);
  pump();
}

} // namespace sluice::detail
