#include "sluice/receiver_pipeline.hpp"

#include <map>
#include <utility>

#include <spdlog/spdlog.h>

#include "sluice/block.hpp"
#include "sluice/block_generator.hpp"
#include "sluice/block_manager.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/error.hpp"
#include "sluice/log.hpp"
#include "sluice/receiver_tracker.hpp"
#include "sluice/receiver_wal.hpp"

namespace sluice::detail {

namespace {

/// The buffer's way into the pipeline, called on the receiver's threads.
class link final : public receiver_link {
 public:
  link(caf::actor_system& sys, std::shared_ptr<transport> net, caf::actor manager,
       caf::actor supervisor)
      : sys_(sys), net_(std::move(net)), manager_(std::move(manager)),
        supervisor_(std::move(supervisor)) {}

  void store_block(block b) override {
    // The API edge Spark's store(ArrayBuffer) is: the user's thread waits
    // until the block is stored (and logged), so an acknowledgement after it
    // is safe.
    // A threadless receiver stores from the thread that runs every actor
    // (sluice.streaming.clock=simulated): call() runs them before receiving.
    caf::scoped_actor self{sys_};
    std::string failure;
    call(self, manager_, caf::infinite, pack(std::move(b), *net_, manager_))
      .receive([](bool) {}, [&](caf::error& err) { failure = sys_.render(err); });
    if (!failure.empty())
      throw error("store: the block was not stored: " + failure);
  }

  void restart(std::string why, duration delay) override {
    caf::anon_send(supervisor_, restart_atom::value, std::move(why), int64_t{delay.count()});
  }

  void stop(std::string why) override {
    caf::anon_send(supervisor_, stop_atom::value, std::move(why));
  }

  void report_error(std::string why) override {
    caf::anon_send(supervisor_, error_atom::value, std::move(why));
  }

 private:
  caf::actor_system& sys_;
  std::shared_ptr<transport> net_;
  caf::actor manager_;
  caf::actor supervisor_;
};

receiver_give_up give_up_action(bool stop_context, std::function<void(std::string)> fail) {
  // A receiver that gave up leaves its stream empty for good: as a
  // supervision tree escalates, the context stops with its error unless the
  // application asked to run on without it.
  if (stop_context)
    return [fail = std::move(fail)](const std::string& why) {
      logger()->error("Stopping the streaming context: a receiver stopped for good "
                      "(sluice.streaming.receiver.stopContextAfterMaxRestarts=true)");
      fail(why);
    };
  return [](const std::string&) {
    logger()->warn("The streaming context keeps running without the receiver "
                   "(sluice.streaming.receiver.stopContextAfterMaxRestarts=false)");
  };
}

} // namespace

receiver_pipeline::receiver_pipeline(caf::actor_system& sys, std::shared_ptr<transport> net,
                                     receiver_launch launch, receiver_settings settings,
                                     const source_env& env)
    : sys_(sys), net_(std::move(net)), stream_(launch.stream), role_(settings.role) {
  std::shared_ptr<receiver_wal> block_log, allocation_log, replay_log;
  if (settings.wal_dir && role_ != receiver_role::hosted) {
    // One connection per writer actor. The block manager's checkpoints
    // SQLite's write-ahead file only past 4x the usual size: the others
    // commit every batch and do it first, off the thread appending blocks.
    receiver_wal::options block_opts;
    block_opts.autocheckpoint_pages = 4000;
    block_log = receiver_wal::open(*settings.wal_dir, block_opts);
    allocation_log = receiver_wal::open(*settings.wal_dir);
    replay_log = receiver_wal::open(*settings.wal_dir);
  }
  caf::actor tracker = settings.tracker;
  if (role_ != receiver_role::hosted) {
    tracker_home home;
    if (role_ == receiver_role::home)
      home = {true, std::exchange(block_log, nullptr), launch.buffer};
    tracker_ = sys_.spawn(receiver_tracker, allocation_log, settings.estimator, env.fail,
                          env.replay_window, net_, std::move(home));
    tracker = tracker_;
  }
  if (role_ == receiver_role::home) {
    // The receiver runs where the driver places it (hosted()).
    if (replay_log)
      replay(*replay_log, *launch.buffer, settings.recovered);
    return;
  }
  manager_ = sys_.spawn(block_manager, launch.buffer, tracker, block_log, env.fail, net_,
                        role_ == receiver_role::hosted);
  if (replay_log)
    replay(*replay_log, *launch.buffer, settings.recovered);
  generator_ = sys_.spawn(block_generator, launch.buffer, manager_, settings.block_interval, net_);
  receiver_info info;
  info.stream_id = stream_;
  info.name = launch.name;
  info.location = settings.location;
  // Detached (it runs user code), but a plain actor under the test
  // coordinator, where a threadless receiver's on_start runs on its thread.
  supervisor_ = spawn_service(sys_, receiver_supervisor, std::move(launch.receiver),
                              settings.policy, info, env.report,
                              give_up_action(settings.stop_context_on_give_up, env.fail));
  if (role_ == receiver_role::whole)
    caf::anon_send(tracker_, manager_, supervisor_);
  launch.buffer->attach(std::make_shared<link>(sys_, net_, manager_, supervisor_));
  // Reaches the limiter before start_atom: both go to the supervisor from
  // this thread (hosted: the driver sends start_atom after the reply that
  // follows this constructor).
  if (settings.initial_rate)
    caf::anon_send(supervisor_, rate_atom::value, *settings.initial_rate);
}

receiver_pipeline::~receiver_pipeline() {
  for (auto* a : {&generator_, &supervisor_, &manager_, &tracker_})
    if (*a)
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
}

void receiver_pipeline::start() {
  if (supervisor_)
    caf::anon_send(supervisor_, start_atom::value);
}

void receiver_pipeline::hosted(caf::actor manager, caf::actor generator, caf::actor supervisor) {
  manager_ = std::move(manager);
  generator_ = std::move(generator);
  supervisor_ = std::move(supervisor);
  caf::anon_send(tracker_, manager_, supervisor_);
}

void receiver_pipeline::replay(receiver_wal& log, block_source& buffer,
                               std::optional<int64_t> recovered) {
  auto blocks = log.read_blocks(stream_);
  std::map<int64_t, int64_t> allocated_to; // block id -> batch time
  for (auto& a : log.read_allocations())
    for (auto& [s, id] : a.blocks)
      if (s == stream_)
        allocated_to[id] = a.batch_time_ms;
  for (auto& wb : blocks) {
    buffer.continue_after(wb.block_id);
    block b;
    b.stream = stream_;
    b.id = wb.block_id;
    b.created_ms = wb.created_ms;
    b.records = static_cast<int64_t>(wb.records.size());
    auto i = allocated_to.find(wb.block_id);
    // Without a metadata checkpoint nothing is recovered and no old batch
    // time runs again: allocated blocks then go to the next batch too.
    if (i != allocated_to.end() && recovered) {
      if (i->second <= *recovered)
        continue; // its batch completed before the crash
      b.data = buffer.decode(wb.records);
      caf::anon_send(tracker_, allocate_atom::value, i->second, pack(std::move(b), *net_, tracker_));
      continue;
    }
    b.data = buffer.decode(wb.records); // stored but never allocated: the next batch takes it
    caf::anon_send(tracker_, pack(std::move(b), *net_, tracker_));
  }
}

void receiver_pipeline::stop_receiving() {
  if (stopped_ || !supervisor_)
    return;
  stopped_ = true;
  caf::scoped_actor self{sys_};
  // ask: under the test coordinator it runs the actors before it waits.
  ask(self, supervisor_, std::chrono::seconds(30), stop_atom::value,
      std::string{"the context stops"});
  // What was stored before the stop becomes blocks for the remaining batches.
  ask(self, generator_, std::chrono::seconds(30), flush_atom::value);
}

std::vector<probe_target> receiver_pipeline::probe_targets() const {
  auto root = "receiver " + std::to_string(stream_);
  if (role_ == receiver_role::home) // the rest is on a worker
    return {{root + " tracker", tracker_, {}}};
  return {{root, supervisor_, {}},
          {root + " block_generator", generator_, root},
          {root + " block_manager", manager_, root},
          {root + " tracker", tracker_, root}};
}

} // namespace sluice::detail
