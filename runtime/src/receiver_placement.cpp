// Receivers in cluster mode (issue 11). The driver keeps each receiver
// stream's tracker (and the receiver WAL, in its checkpoint directory) and
// places the receiver itself, with its block generator and block manager,
// on a worker, round-robin as Spark's ReceiverSchedulingPolicy. Every node
// built the same graph, so the worker starts its own copy of the stream's
// receiver object.
//
// Where a stored block lives: the worker's block manager sends it to the
// driver's tracker and `store` returns (and a socket receiver acknowledges)
// only once the tracker answered, after writing it to the WAL when that is
// on. A block is then safe on the driver whatever happens to the worker:
// SIGKILL the worker and its receiver starts again on another one, the
// batches take every block the tracker holds. This plays the part of
// Spark's second block replica (MEMORY_AND_DISK_SER_2) without a copy on a
// second worker: in sluice the driver feeds every batch's input to the
// stage slots itself (the job scheduler's source partitions), so the block
// must reach the driver anyway, and holding it there costs no extra
// transfer, where a replica on a peer would cost one more per block.
#include <spdlog/spdlog.h>

#include "cluster_events.hpp"
#include "context_impl.hpp"
#include "sluice/log.hpp"
#include "sluice/cluster_driver.hpp"
#include "sluice/deterministic.hpp"

namespace sluice::detail {

bool context_impl::receivers_on_workers() const {
  if (worker || cluster.what == cluster_spec::mode::local)
    return false;
  auto where = cfg.get("sluice.cluster.receivers").value_or("workers");
  if (where != "workers" && where != "driver")
    throw invalid_argument("sluice.cluster.receivers must be workers or driver, got '" + where
                           + "'");
  return where == "workers";
}

void context_impl::place_receivers(caf::scoped_actor& self, const std::string& lost) {
  if (workers_.empty())
    throw error("cluster: no worker to place the receivers on");
  auto timeout = worker_timeout(cfg);
  for (auto& r : receivers_) {
    auto stream = r->stream();
    if (!lost.empty() && receiver_worker_[stream] != lost)
      continue;
    auto& w = workers_[next_receiver_worker_++ % workers_.size()];
    receiver_placement_msg m;
    m.stream = stream;
    m.tracker = r->tracker();
    m.bus = bus_;
    std::optional<std::string> failed;
    call(self, r->tracker(), timeout, last_atom::value)
      .receive([&](int64_t last) { m.last_block = last; },
               [&](caf::error& err) { failed = "its tracker: " + error_text(err); });
    std::vector<caf::actor> actors;
    if (!failed)
      call(self, w.control, timeout, host_atom::value, m)
        .receive([&](std::vector<caf::actor>& xs) { actors = std::move(xs); },
                 [&](caf::error& err) { failed = error_text(err); });
    if (!failed && actors.size() != 3)
      failed = "the worker answered with " + std::to_string(actors.size()) + " actors, not 3";
    if (failed)
      throw error("cluster: worker " + w.name + " could not host receiver stream "
                  + std::to_string(stream) + ": " + *failed);
    // The tracker learns the new block manager before the receiver starts.
    r->hosted(actors[0], actors[1], actors[2]);
    r->start();
    receiver_worker_[stream] = w.name;
    if (lost.empty())
      logger()->info("cluster: receiver stream {} placed on worker {}", stream, w.name);
    else
      logger()->warn("cluster: receiver stream {} placed again on worker {} (worker {} was lost; "
                     "the driver holds the blocks it stored, ids up to {})",
                     stream, w.name, lost, m.last_block);
  }
}

std::vector<caf::actor> context_impl::host_receiver(const receiver_placement_msg& m,
                                                    const std::string& name) {
  if (receiver_worker_.count(m.stream) != 0)
    throw error("receiver stream " + std::to_string(m.stream) + " runs on this worker already");
  source_base* found = nullptr;
  for (auto* s : g->sources())
    if (dynamic_cast<node_base*>(s)->id() == m.stream && s->receives())
      found = s;
  if (found == nullptr)
    throw error("this worker's graph has no receiver stream " + std::to_string(m.stream));
  source_env env;
  env.info = wiring_->info;
  env.report = receiver_reporter(m.bus);
  env.fail = [tracker = m.tracker](std::string why) {
    caf::anon_send(tracker, error_atom::value, std::move(why));
  };
  std::vector<caf::actor> actors;
  env.launch_receiver = [&](receiver_launch launch) {
    auto s = receiver_settings_of(launch, env);
    s.role = receiver_role::hosted;
    s.wal_dir.reset();  // the driver writes the WAL (receiver_placement.cpp's header)
    s.tracker = m.tracker;
    s.location = name;
    if (m.last_block >= 0)
      launch.buffer->continue_after(m.last_block);
    auto p = std::make_unique<receiver_pipeline>(*sys, net, std::move(launch), std::move(s), env);
    actors = p->actors();
    receivers_.push_back(std::move(p));
  };
  found->start(env);
  receiver_worker_[m.stream] = name;
  logger()->info("cluster: worker {} hosts receiver stream {}", name, m.stream);
  return actors;
}

} // namespace sluice::detail
