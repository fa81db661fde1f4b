// Cluster mode while running: a worker lost (its operators, and the
// receivers it hosted, placed again on the others, state from the last
// checkpoint) or joined (it gets a share), and local-cluster's replacement
// processes.
#include <limits>

#include <spdlog/spdlog.h>

#include "cluster_events.hpp"
#include "context_impl.hpp"
#include "sluice/cluster_driver.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/log.hpp"
#include "sluice/replace_atoms.hpp"
#include "worker_processes.hpp"
#include "sluice/detail/sim_cluster.hpp"

namespace sluice::detail {

void context_impl::replace_worker(const std::string& worker, const std::string& why) {
  std::lock_guard<std::mutex> once{stop_mtx_};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (state_ != context_state::active || stop_request_)
      return;
  }
  bool joined = why.empty();
  auto what = joined ? "worker " + worker + " joined the running cluster"
                     : "worker " + worker + " lost (" + why + ")";
  caf::scoped_actor self{*sys};
  auto timeout = worker_timeout(cfg);
  int cores = 0;  // the lost worker's, as placed on
  for (auto& w : workers_)
    if (w.name == worker)
      cores = w.cores;
  // The cluster driver's list is the truth: a lost worker left it, a new
  // one is in it (and so is any change since the scheduler paused). Without
  // its answer: the workers placed on so far, less the lost one.
  call(self, cluster_endpoint_, timeout, workers_atom::value, int32_t{0})
    .receive([&](std::vector<worker_hello>& ws) { workers_ = std::move(ws); },
             [&](caf::error&) {
               std::erase_if(workers_, [&](const worker_hello& h) { return h.name == worker; });
             });
  if (joined) {
    for (auto& w : workers_)
      if (w.name == worker)
        publish_worker(bus_, w.name, w.cores, "");
  } else {
    publish_worker(bus_, worker, cores, why);
  }
  if (workers_.empty()) {
    fail("cluster: " + what + " and no worker is left to place its operators on");
    return;
  }
  if (joined)
    logger()->info("cluster: {}; placing the operators on {} workers", what, workers_.size());
  else
    logger()->warn("cluster: {}; placing its operators on the {} remaining worker(s)", what,
                   workers_.size());
  try {
    auto clear = [&](const caf::actor& executor, const std::string& where) {
      std::optional<std::string> failed;
      call(self, executor, timeout, clear_atom::value)
        .receive([](bool) {}, [&](caf::error& err) { failed = error_text(err); });
      if (failed)
        throw error("the executor of " + where + " could not clear its actors: " + *failed);
    };
    for (auto& w : workers_)
      clear(w.executor, "worker " + w.name);
    clear(executor_, "the driver");
    wiring_->gathers.clear();
    // The newest state every checkpointed node can be restored as of; none
    // (state starts empty, every kept batch runs again) before the first.
    std::optional<int64_t> cut;
    if (checkpoint_writer_) {
      std::vector<int32_t> ops;
      std::vector<int32_t> partitions;
      for (auto& n : g->nodes())
        if (n->has_checkpointed_state()) {
          ops.push_back(static_cast<int32_t>(n->id()));
          partitions.push_back(static_cast<int32_t>(n->partitions()));
        }
      std::optional<writer_failure> failed;
      call(self, checkpoint_writer_, caf::infinite, drain_atom::value)
        .receive([](bool) {}, [&](caf::error& err) { failed = failure_of(err); });
      // Not past a batch whose outputs had not run when the worker was lost:
      // its state may be stored (its stages ran), but it must run again.
      int64_t bound = std::numeric_limits<int64_t>::max();
      if (!failed && !ops.empty())
        call(self, wiring_->scheduler, timeout, cut_atom::value)
          .receive([&](int64_t b) { bound = b; },
                   [&](caf::error& err) { failed = writer_failure{error_text(err), 0}; });
      if (!failed && !ops.empty())
        call(self, checkpoint_writer_, caf::infinite, cut_atom::value, ops, partitions, bound)
          .receive(
            [&](int64_t t) {
              if (t >= 0)
                cut = t;
            },
            [&](caf::error& err) { failed = failure_of(err); });
      if (failed)
        throw error("the checkpoint writer cannot name the state to restore: " + failed->what);
    }
    wiring_->restore_from = cut;
    std::optional<std::string> failed;
    call(self, executor_, timeout, start_atom::value, false)
      .receive([](int) {}, [&](caf::error& err) { failed = error_text(err); });
    if (failed)
      throw error("the driver could not spawn its gathers again: " + *failed);
    place_slots(self);
    if (!joined && receivers_on_workers())
      place_receivers(self, worker);
    publish_placement(bus_, workers_, cut, true);
    logger()->warn("cluster: placed again on {} worker(s), state as of {}; the batches after it "
                   "run again",
                   workers_.size(), cut ? to_string(batch_time{*cut}) : std::string{"the start"});
    self->send(wiring_->scheduler, resume_atom::value,
               cut.value_or(std::numeric_limits<int64_t>::min()));
    if (!joined)
      start_replacement(worker);
  } catch (const std::exception& e) {
    fail("cluster: " + what + ", and the operators could not be placed again: " + e.what());
  }
}

void context_impl::start_replacement(const std::string& lost) {
  // local-cluster only: the driver owns its workers, as Spark's standalone
  // master relaunches a lost executor. The new process joins the running
  // cluster and gets a share (replace_worker with no reason). At most
  // 3 x W replacements, so a worker that cannot live is not restarted forever.
  if ((!worker_procs_ && !sim_cluster_)
      || !cfg.get_bool("sluice.cluster.replaceLostWorkers", false))
    return;
  if (replacements_ >= 3 * cluster.workers) {
    logger()->warn("cluster: not replacing worker {}: {} replacements already started "
                   "(at most 3 per worker of local-cluster[{},{}])",
                   lost, replacements_, cluster.workers, cluster.cores);
    return;
  }
  try {
    if (sim_cluster_) {
      // Simulated: a worker context built and joined now, on this thread;
      // its join reaches the scheduler as a process's would (settle()).
      sim_cluster_->add_workers(*sys, 1, context_number);
      sim_cluster_->start_workers();
    } else {
      worker_procs_->add(1);
    }
    ++replacements_;
    logger()->info("cluster: started a worker process to replace {}", lost);
  } catch (const std::exception& e) {
    logger()->warn("cluster: cannot replace worker {}: {}", lost, e.what());
  }
}

} // namespace sluice::detail
