#include "sluice/detail/receiver_source.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <spdlog/spdlog.h>

#include "sluice/listener_bus.hpp"
#include "sluice/log.hpp"
#include "sluice/receiver_wal.hpp"
#include "sluice/warm_up_rate_estimator.hpp"

namespace sluice::detail {

void receiver_source_base::spawn_storage(const receiver_env& renv, const source_env& env,
                                         int32_t stream, std::shared_ptr<block_source> source) {
  std::shared_ptr<receiver_wal> block_log, allocation_log;
  if (renv.cfg.get_bool("sluice.streaming.receiver.writeAheadLog.enable", false)) {
    auto dir = renv.checkpoint_dir ? renv.checkpoint_dir() : std::nullopt;
    if (!dir)
      throw illegal_state("sluice.streaming.receiver.writeAheadLog.enable=true needs a "
                          "checkpoint directory: call ssc.checkpoint(dir) before start() "
                          "(receiver stream " + std::to_string(stream) + ")");
    block_log = receiver_wal::open(*dir);      // one connection per writer actor
    allocation_log = receiver_wal::open(*dir);
    replay_log_ = receiver_wal::open(*dir);
    recovered_ = renv.recovered ? renv.recovered() : std::nullopt;
  }
  net_ = renv.net;
  tracker_ = sys_->spawn(receiver_tracker, allocation_log, env.fail, env.replay_window, net_);
  manager_ = sys_->spawn(block_manager, source, tracker_, block_log, env.fail, net_);
  caf::anon_send(tracker_, manager_);
}

void receiver_source_base::spawn_supervision(const receiver_env& renv, const source_env& env,
                                             int32_t stream, const std::string& name,
                                             std::shared_ptr<supervised_receiver> r,
                                             std::shared_ptr<block_source> source) {
  auto& c = renv.cfg;
  auto interval = c.get_duration("sluice.streaming.blockInterval", milliseconds(200));
  generator_ = sys_->spawn(block_generator, std::move(source), manager_, interval, net_);
  restart_policy policy;
  policy.base_delay = c.get_duration("sluice.streaming.receiverRestartDelay", milliseconds(2000));
  policy.max_delay = c.get_duration("sluice.streaming.receiver.maxRestartDelay", seconds(30));
  policy.max_restarts = static_cast<int>(c.get_int("sluice.streaming.receiver.maxRestarts", 10));
  policy.window = c.get_duration("sluice.streaming.receiver.restartWindow", seconds(60));
  receiver_info info;
  info.stream_id = stream;
  info.name = name;
  // A receiver that gave up leaves its stream empty for good: as a
  // supervision tree escalates, the context stops with its error unless the
  // application asked to run on without it.
  receiver_give_up give_up;
  if (c.get_bool("sluice.streaming.receiver.stopContextAfterMaxRestarts", true))
    give_up = [fail = env.fail](const std::string& why) {
      logger()->error("Stopping the streaming context: a receiver stopped for good "
                      "(sluice.streaming.receiver.stopContextAfterMaxRestarts=true)");
      fail(why);
    };
  else
    give_up = [](const std::string&) {
      logger()->warn("The streaming context keeps running without the receiver "
                     "(sluice.streaming.receiver.stopContextAfterMaxRestarts=false)");
    };
  supervisor_ = sys_->spawn<caf::detached>(receiver_supervisor, std::move(r), policy, info,
                                           env.report, std::move(give_up));
  if (c.get_bool("sluice.streaming.backpressure.enabled", false)) {
    estimator_ = make_rate_estimator(c, env.info.batch);
    // Neither initialRate nor maxRate: Spark would receive the first batches
    // unbounded until the estimator's first rate (two batches later), which
    // under overload queues minutes of work. Start at pid.minRate and let
    // warm_up_rate_estimator raise the bound until the estimator takes over
    // (the why and the rule are in its header). The rate reaches the
    // limiter before start_atom: both go to the supervisor from this thread.
    auto max_rate = c.get_int("sluice.streaming.receiver.maxRate", 0);
    bool unbounded = max_rate <= 0 || max_rate == std::numeric_limits<int64_t>::max();
    if (unbounded && !c.get("sluice.streaming.backpressure.initialRate")) {
      double start = std::ceil(c.get_double("sluice.streaming.backpressure.pid.minRate", 100));
      auto w = std::make_unique<warm_up_rate_estimator>(
        std::move(estimator_), env.info.batch.count(), std::clamp(start, 1.0, 1e9));
      caf::anon_send(supervisor_, rate_atom::value, static_cast<int64_t>(w->initial_rate()));
      estimator_ = std::move(w);
    }
  }
}

void receiver_source_base::replay(int32_t stream, block_source& source,
                                  std::map<int64_t, std::optional<parts>>& prepared) {
  if (!replay_log_)
    return;
  auto blocks = replay_log_->read_blocks(stream);
  auto allocations = replay_log_->read_allocations();
  replay_log_.reset();
  std::map<int64_t, int64_t> allocated_to; // block id -> batch time
  for (auto& a : allocations)
    for (auto& [s, id] : a.blocks)
      if (s == stream)
        allocated_to[id] = a.batch_time_ms;
  std::map<int64_t, parts> batches;
  std::map<int64_t, std::vector<std::pair<int32_t, int64_t>>> batch_ids;
  for (auto& wb : blocks) {
    source.continue_after(wb.block_id);
    auto i = allocated_to.find(wb.block_id);
    // Without a metadata checkpoint nothing is recovered and no old batch
    // time runs again: allocated blocks then go to the next batch too.
    if (i != allocated_to.end() && recovered_) {
      if (i->second <= *recovered_)
        continue; // its batch completed before the crash
      auto& ps = batches[i->second];
      ps.push_back({static_cast<int32_t>(ps.size()), source.decode(wb.records)});
      batch_ids[i->second].emplace_back(stream, wb.block_id);
      continue;
    }
    block b; // stored but never allocated: the next batch takes it
    b.stream = stream;
    b.id = wb.block_id;
    b.created_ms = wb.created_ms;
    b.records = static_cast<int64_t>(wb.records.size());
    b.data = source.decode(wb.records);
    caf::anon_send(tracker_, pack(std::move(b), *net_, tracker_));
  }
  for (auto& [t, ps] : batches)
    prepared[t] = std::move(ps);
  // The re-run's allocation log must keep naming these blocks.
  for (auto& [t, ids] : batch_ids)
    caf::anon_send(tracker_, allocate_atom::value, t, std::move(ids));
}

std::optional<parts> receiver_source_base::allocate(batch_time t, int32_t stream) {
  caf::scoped_actor self{*sys_};
  std::optional<parts> out;
  std::string failure;
  self->request(tracker_, std::chrono::seconds(30), allocate_atom::value, t.ms)
    .receive([&](allocation_msg& a) { out = net_->unpack(a.data); },
             [&](caf::error& err) { failure = sys_->render(err); });
  if (!failure.empty())
    throw error("receiver stream " + std::to_string(stream) + ": no blocks for "
                + to_string(t) + ": " + failure);
  return out;
}

void receiver_source_base::stop_receiving() {
  if (stopped_ || !supervisor_)
    return;
  stopped_ = true;
  caf::scoped_actor self{*sys_};
  self->request(supervisor_, std::chrono::seconds(30), stop_atom::value,
                std::string{"the context stops"})
    .receive([](bool) {}, [](caf::error&) {});
  // What was stored before the stop becomes blocks for the remaining batches.
  self->request(generator_, std::chrono::seconds(30), flush_atom::value)
    .receive([](bool) {}, [](caf::error&) {});
}

void receiver_source_base::completed(const batch_info& info, int64_t records, duration batch) {
  if (estimator_ && supervisor_) {
    auto proc = info.processing_delay_us() / 1000;
    auto sched = info.scheduling_delay_us() / 1000;
    if (auto rate = estimator_->compute(info.processing_end_us / 1000, records, proc, sched))
      caf::anon_send(supervisor_, rate_atom::value, static_cast<int64_t>(*rate));
  }
  // Blocks of batches before this one are no longer needed.
  if (tracker_)
    caf::anon_send(tracker_, cleanup_atom::value, (info.time - batch).ms);
}

void receiver_source_base::shutdown() {
  for (auto* a : {&generator_, &supervisor_, &manager_, &tracker_})
    if (*a)
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
}

} // namespace sluice::detail
