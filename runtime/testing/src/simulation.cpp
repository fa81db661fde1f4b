// The simulation's driver loop: contexts built through get_or_create, the
// manual clock advanced one batch at a time, faults armed for exactly the
// batch they strike, and a restart after each. Contexts run with
// sluice.streaming.clock=simulated: every actor on CAF's test coordinator,
// on this thread, so one seed gives one order of events.
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <unistd.h>

#include "sluice/fault_injector.hpp"
#include "sluice/detail/sim_cluster.hpp"
#include "sluice/fault_vfs.hpp"
#include "sluice/mem_vfs.hpp"
#include "sluice/sqlite_db.hpp"
#include "sluice/testing.hpp"
#include "run_pieces.hpp"

namespace sluice::testing::detail {

namespace {

using namespace std::chrono_literals;
using sluice::detail::sim_cluster;

/// The engine's point an injected fault arms, or "" (process_crash).
std::string point_of(const fault& f) {
  switch (f.type) {
    case fault_type::operator_error:
      return std::string{fault_points::operator_run};
    case fault_type::user_point:
      return f.point;
    case fault_type::receiver_crash:
      return std::string{fault_points::receiver_store};
    case fault_type::process_crash:
    case fault_type::storage_full:
    case fault_type::torn_write:
    case fault_type::worker_loss:
    case fault_type::worker_stall:
    case fault_type::worker_loss_mid_batch:
      break;
  }
  return {};
}

/// The part of a removal's reason the driver wrote, without CAF's error
/// text in parentheses: "no heartbeat answer within 10000 ms".
std::string reason_head(const std::string& reason) {
  return reason.substr(0, reason.find(" ("));
}

/// What the driver did about a worker_loss or worker_stall, from the
/// listener's events since the fault (`removed_before`, `placed_before`);
/// `why` adds the reason it gave (a stall's detection is the point).
std::string removal_text(const batch_watch& w, size_t removed_before, size_t placed_before,
                         std::int64_t waited_ms, std::int64_t interval_ms, bool why) {
  std::vector<std::string> gone(w.removed().begin() + static_cast<std::ptrdiff_t>(removed_before),
                                w.removed().end());
  if (gone.empty())
    return ", the driver did not notice";
  std::string what = ", the driver removed " + names(gone);
  if (why)
    what += " (" + reason_head(w.reasons().back()) + ")";
  what += " after " + std::to_string(waited_ms) + " ms of simulated heartbeats";
  if (w.placements().size() > placed_before) {
    auto& p = w.placements().back();
    what += ", placed the operators on " + names(p.workers) + " with state "
            + (p.state_as_of ? "as of batch " + std::to_string(p.state_as_of->ms / interval_ms)
                             : std::string{"from the start"})
            + " and ran the batches since again";
  }
  return what;
}

/// How a stalled worker's resume after its batch ended, for the trace.
std::string resume_text(const sim_cluster::resumed& r) {
  std::string what = "; resumed after the batch (as by SIGCONT)";
  if (!r.exit)
    return what + ", it runs on in the cluster";
  auto& [status, why] = *r.exit;
  if (status == 1 && why.rfind("the driver declared this worker lost", 0) == 0)
    return what + ", it read that the driver had declared it lost and ended (status 1)";
  return what + ", it ended (status " + std::to_string(status) + ": " + why + ")";
}

std::atomic<std::uint64_t> runs{0};          // runs started in this process
thread_local std::uint64_t running_run = 0;  // the one going on on this thread, or 0

/// Marks a run as the current one while it lasts (current_run()).
struct run_number {
  run_number() {
    running_run = ++runs;
  }
  ~run_number() {
    running_run = 0;
  }
  run_number(const run_number&) = delete;
  run_number& operator=(const run_number&) = delete;
};

/// The trace's text for a receiver_crash at a batch that did not end the
/// context: `fired` the receiver.store faults, `restarted` whether a
/// receiver started again since, `receivers` whether any ever started.
std::string receiver_crash_text(bool fired, bool restarted, bool receivers) {
  if (!receivers)
    return "receiver_crash not injected: the pipeline has no receiver stream";
  if (!fired)
    return "receiver_crash armed, not hit (the receiver was not running)";
  return std::string{"receiver_crash: the receiver's store failed (injected at receiver.store), "
                     "it asked for a restart; its supervisor stopped it"}
         + (restarted ? " and started it again after the restart delay (simulated clock)"
                      : ", not started again within the batch");
}

std::string describe(std::uint64_t seed, const fault_plan& plan) {
  auto p = plan.to_string();
  return "seed " + std::to_string(seed) + ", plan \"" + p + "\" (replay: SLUICE_SIM_SEED="
         + std::to_string(seed) + " or sim.replay(fault_plan::parse(\"" + p
         + "\"), build, batches))";
}

/// One context's life: built, started, run until the end or a fault.
/// Nothing runs between two calls: moving the clock runs the batch and
/// everything it causes before it returns.
struct life {
  std::unique_ptr<streaming_context> ssc;
  std::shared_ptr<batch_watch> watch = std::make_shared<batch_watch>();
  std::shared_ptr<std::shared_ptr<crash_switch>> crash
    = std::make_shared<std::shared_ptr<crash_switch>>();
  bool ended = false;
  std::string why;  // the failure the context ended with, or ""

  ~life() {
    if (ssc)
      ssc->stop();
  }

  void start() {
    ssc->add_listener(watch);
    ssc->start();
  }

  /// Whether the context ended (it failed or was stopped).
  bool poll() {
    if (!ended) {
      try {
        ended = ssc->await_termination_or_timeout(std::chrono::milliseconds(0));
      } catch (const std::exception& e) {
        ended = true;
        why = e.what();
      }
    }
    return ended;
  }

  /// After the clock moved to batch time `t`: whether the context ended.
  /// Throws when batch `t` neither completed (unless `only_end`) nor
  /// ended the context: every actor is idle, so it never will.
  bool settled(std::int64_t t, bool only_end, const std::string& run) {
    if (poll() || (!only_end && watch->completed(t)))
      return ended;
    throw error("simulation: batch time " + std::to_string(t) + " ms neither "
                + (only_end ? std::string{"ended the context"} : std::string{"completed nor failed"})
                + " once every actor had run -- " + run);
  }

  /// Drops the context (ended, or stopped by the caller).
  void end() {
    poll();
    ssc.reset();
  }
};

} // namespace

std::uint64_t current_run() noexcept {
  return running_run;
}

std::uint64_t seed_from_env(std::uint64_t seed) {
  const char* env = std::getenv("SLUICE_SIM_SEED");
  if (env == nullptr || *env == '\0')
    return seed;
  std::string_view s{env};
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{} || p != s.data() + s.size())
    throw invalid_argument("SLUICE_SIM_SEED: expected a non-negative integer, got \""
                           + std::string{s} + "\"");
  return out;
}

run_record run_plan(const sim_settings& s, const fault_plan& plan, int batches,
                    const build_fn& build) {
  if (batches < 1)
    throw invalid_argument("simulation::run: expected at least 1 batch, got "
                           + std::to_string(batches));
  // Before the first connection: every SQLite allocation would take a
  // process-wide mutex to count bytes nobody reads here (sqlite_db.hpp).
  [[maybe_unused]] static const bool quiet_sqlite = disable_sqlite_memory_statistics();
  auto cfg = s.base;
  cfg.set("sluice.streaming.clock", "simulated");
  if (s.workers > 0)
    cfg.master("local-cluster[" + std::to_string(s.workers) + ",1]");
  bool cluster = cfg.master().rfind("local-cluster[", 0) == 0;
  auto heartbeat_ms = std::max<std::int64_t>(
    1, cfg.get_duration("sluice.cluster.heartbeatInterval", std::chrono::seconds(1)).count());
  auto worker_timeout_ms
    = cfg.get_duration("sluice.cluster.workerTimeout", std::chrono::seconds(10)).count();
  // Small metadata rows: 1 KiB pages write and checksum 64 times fewer WAL
  // bytes a commit than the default 64 KiB.
  if (!cfg.get("sluice.streaming.checkpoint.pageSize"))
    cfg.set("sluice.streaming.checkpoint.pageSize", "1024");
  auto b = s.interval.count();
  // A receiver failing halfway through a batch is back before its cut
  // (scripted_receiver; context_impl::feed_receivers), also after doubling.
  if (!cfg.get("sluice.streaming.receiverRestartDelay"))
    cfg.set("sluice.streaming.receiverRestartDelay", std::to_string(b / 4) + "ms");
  if (!cfg.get("sluice.streaming.receiver.maxRestartDelay"))
    cfg.set("sluice.streaming.receiver.maxRestartDelay", std::to_string(b / 2) + "ms");
  run_number this_run;
  scratch_dir dir;
  // The run's own faults: runs on other threads neither see nor hit them.
  fault_injector run_faults;
  fault_injector::thread_scope faults_here{run_faults};
  auto& injector = fault_injector::global();
  disarm_on_exit armed;
  run_record rec;
  rec.seed = s.seed;
  std::map<std::int64_t, fault> struck;
  bool storage_faults = false;
  for (const auto& [i, f] : plan.faults_until(batches))
    storage_faults = storage_faults || f.type == fault_type::storage_full
                     || f.type == fault_type::torn_write;
  vfs_route route{dir.str(), storage_faults};
  std::int64_t attempted = 0;  // batches 1..attempted met their planned fault
  // The simulated network's steps of the last batch without a node fault:
  // the span a worker_loss_mid_batch's moment is drawn from.
  std::size_t batch_steps = 64;
  // The plan's text for error messages, asked for at every batch: made again
  // only when a fault was struck since (struck only grows).
  std::string text;
  std::size_t text_faults = SIZE_MAX;
  auto run_text = [&]() -> const std::string& {
    if (text_faults != struck.size()) {
      text = describe(s.seed, fault_plan::explicit_faults(struck));
      text_faults = struck.size();
    }
    return text;
  };
  for (int lives = 0;; ++lives) {
    // A simulated cluster's workers: built again by each driver's start(),
    // destroyed after the driver (declared before it).
    std::optional<sim_cluster> nodes;
    if (cluster)
      nodes.emplace([&] {
        auto w = std::make_unique<streaming_context>(cfg, s.interval);
        w->checkpoint(dir.str());
        build(*w, [](std::int64_t) {});  // outputs run at the driver
        return w;
      });
    life l;
    auto crash = l.crash;
    l.ssc = std::make_unique<streaming_context>(streaming_context::get_or_create(dir.str(), [&] {
      streaming_context ssc{cfg, s.interval};
      ssc.checkpoint(dir.str());
      build(ssc, [crash](std::int64_t t) {
        if (auto c = *crash)
          c->delivered(t);
      });
      return ssc;
    }));
    l.start();
    // Recovered: the manual clock stands at the batch the state is restored as of.
    auto resumed = l.ssc->manual_clock().now().ms / b;
    if (lives > 0) {
      ++rec.restarts;
      rec.trace.push_back({attempted, "recovered through get_or_create: resumes after batch "
                                        + std::to_string(resumed)});
    }
    bool ended = false;
    for (auto i = resumed + 1; i <= batches && !ended; ++i) {
      std::optional<fault> f;
      if (i > attempted) {
        attempted = i;
        f = plan.at(i);
      }
      auto point = f ? point_of(*f) : std::string{};
      if (f)
        struck.emplace(i, *f);
      if (!point.empty()) {
        armed.add(point);
        fault_spec spec;  // throw at the first hit of this batch
        spec.times = 1;
        injector.arm(point, spec);
      }
      if (f && f->type == fault_type::process_crash) {
        armed.add(std::string{fault_points::checkpoint_write});
        *crash = std::make_shared<crash_switch>(i * b, fail_checkpoint_writes);
      }
      auto tear = std::make_shared<std::optional<sluice::torn_write>>();
      if (f && f->type == fault_type::torn_write)
        *crash = std::make_shared<crash_switch>(i * b, [d = dir.str(), tear] {
          auto& vfs = fault_vfs::global();
          vfs.tear_on_crash((std::filesystem::path{d} / "sluice.db-wal").string());
          *tear = vfs.crash(d).torn;
        });
      if (f && f->type == fault_type::storage_full)
        *crash = std::make_shared<crash_switch>(i * b, [d = dir.str()] {
          fault_vfs::global().fail_writes(d, storage_fault::disk_full, fault_repeat::every);
        });
      // worker_loss and worker_stall: the worker is gone, or stopped, before
      // the batch runs; worker_loss_mid_batch: gone after a drawn number of
      // the network's steps, once the batch has begun.
      bool stall = f && f->type == fault_type::worker_stall;
      bool mid = f && f->type == fault_type::worker_loss_mid_batch;
      bool node_fault = stall || mid || (f && f->type == fault_type::worker_loss);
      std::optional<int> struck_worker;
      std::size_t moment = 0;
      std::string not_injected;
      auto receiver_starts_before = l.watch->receiver_starts();
      auto removed_before = l.watch->removed().size();
      auto placed_before = l.watch->placements().size();
      if (node_fault) {
        auto live = nodes ? nodes->alive() : std::vector<int>{};
        if (live.size() >= 2 && mid) {
          // Drawn from (seed, batch) only, as fault_plan::random draws.
          std::mt19937_64 gen{s.seed * 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(i)};
          struck_worker = live[gen() % live.size()];
          moment = 1 + gen() % std::max<std::size_t>(1, batch_steps);
          nodes->lose_after(*struck_worker, moment);
        } else if (live.size() >= 2) {
          struck_worker = live[static_cast<size_t>(i) % live.size()];
          if (stall)
            nodes->stall(*struck_worker);
          else
            nodes->lose(*struck_worker);
        } else {
          not_injected = nodes ? "only one simulated worker is alive"
                               : "the run has no simulated workers (simulation::workers)";
        }
      }
      auto steps_before = nodes ? nodes->steps() : 0;
      l.ssc->manual_clock().advance(s.interval);
      // The batch ended (or waits for the lost worker) before the moment came.
      bool struck_late = mid && struck_worker && nodes->loss_armed();
      if (struck_late)
        nodes->strike_armed();
      if (nodes && !node_fault)
        batch_steps = nodes->steps() - steps_before;
      // A request to the struck worker is only answered by its timeout: the
      // cluster's clocks move, a heartbeat at a time, until the driver has
      // replaced it and the batch ran. A lost worker's links are down, so
      // the driver's ping confirming it times out within two heartbeats; a
      // stalled one's are open, so only a heartbeat ping unanswered for the
      // worker timeout tells (sent within a heartbeat of the stall).
      std::int64_t waited_ms = 0;
      // A worker lost mid-batch may have done its share before the cut:
      // then the batch completes and only the driver's removal is awaited.
      auto waiting = [&] {
        return !l.watch->completed(i * b)
               || (mid && l.watch->removed().size() == removed_before);
      };
      if (struck_worker)
        for (auto limit = worker_timeout_ms + 3 * heartbeat_ms;
             !l.poll() && waiting() && waited_ms < limit; waited_ms += heartbeat_ms) {
          nodes->advance(std::chrono::milliseconds(heartbeat_ms));
        }
      ended = l.settled(i * b, false, run_text());
      if (node_fault) {
        if (!struck_worker) {
          rec.trace.push_back({i, f->to_string() + " not injected: " + not_injected});
        } else {
          std::string when = stall ? " stalled before the batch (as by SIGSTOP)"
                             : !mid ? " lost before the batch (as by SIGKILL)"
                             : struck_late
                               ? " lost right after the batch, which ended before step "
                                   + std::to_string(moment) + " (as by SIGKILL)"
                               : " lost at step " + std::to_string(moment)
                                   + " of the batch (as by SIGKILL)";
          std::string what = f->to_string() + ": sim-worker-" + std::to_string(*struck_worker)
                             + when
                             + removal_text(*l.watch, removed_before, placed_before, waited_ms,
                                            b, stall);
          if (stall)
            what += resume_text(nodes->resume(*struck_worker));
          rec.trace.push_back({i, what});
        }
        if (!ended)
          continue;
      }
      auto fired = point.empty() ? 0 : injector.fires(point);
      if (!point.empty())
        injector.disarm(point);
      if (f && f->type == fault_type::torn_write) {
        auto torn = (*crash)->fired();
        if (!ended && torn)
          ended = l.settled(i * b, true, run_text());
        else if (!ended)
          fault_vfs::global().crash(dir.str());  // after the batch: nothing to tear then
        l.ssc->stop();
        l.end();
        if (auto stale = fault_vfs::global().stale_handles(dir.str()); stale != 0)
          throw error("simulation: " + std::to_string(stale)
                      + " SQLite file handles of the crashed context are still open -- "
                      + run_text());
        std::string what = torn ? "torn_write after the outputs: the process crashed"
                                : "torn_write after the batch (no output ran): the process crashed";
        if (*tear)
          what += ", the last write to sluice.db-wal torn (" + std::to_string((*tear)->kept)
                  + " of " + std::to_string((*tear)->length) + " bytes kept)";
        rec.trace.push_back({i, what + ", the context is dropped"});
        break;
      }
      if (f && f->type == fault_type::storage_full) {
        bool full = (*crash)->fired();
        if (!ended && full)
          ended = l.settled(i * b, true, run_text());
        fault_vfs::global().clear_failures(dir.str());
        crash->reset();
        if (full) {
          l.end();
          auto why = l.why;
          rec.trace.push_back(
            {i, why.find("database or disk is full") != std::string::npos
                  ? "storage_full after the outputs: a checkpoint write failed (database or "
                    "disk is full), the context failed"
                  : "storage_full after the outputs: the context failed: " + why});
          break;
        }
        if (!ended) {
          rec.trace.push_back({i, "storage_full armed, not hit (no output ran)"});
          continue;
        }
      }
      if (f && f->type == fault_type::process_crash) {
        if (!ended && (*crash)->fired()) {
          ended = l.settled(i * b, true, run_text());
        } else if (!ended) {
          // No output ran at this batch: the crash falls after it.
          l.ssc->stop();
          ended = true;
          l.end();
          rec.trace.push_back({i, "process_crash after the batch (no output ran): the context is "
                                  "dropped"});
          break;
        }
        injector.disarm(fault_points::checkpoint_write);
        l.end();
        rec.trace.push_back({i, "process_crash after the outputs: nothing more written, the "
                                "context is dropped"});
        break;
      }
      if (!ended && f && f->type == fault_type::receiver_crash) {
        rec.trace.push_back(
          {i, receiver_crash_text(fired != 0, l.watch->receiver_starts() > receiver_starts_before,
                                  l.watch->receiver_starts() > 0)});
        continue;
      }
      if (!ended) {
        if (f)
          rec.trace.push_back({i, f->to_string() + " armed, not hit"
                                  + (fired ? " (hit without effect)" : "")});
        continue;
      }
      l.end();
      auto why = l.why;
      if (!f)
        throw error("simulation: the pipeline failed at batch " + std::to_string(i) + " ("
                    + std::to_string(i * b) + " ms) without an injected fault: " + why + " -- "
                    + run_text());
      rec.trace.push_back({i, f->to_string() + " injected: the context failed"});
    }
    if (!ended) {
      // Every batch ran: a normal stop.
      l.ssc->stop();
      l.end();
      auto why = l.why;
      if (!why.empty())
        throw error("simulation: the pipeline failed while stopping: " + why + " -- "
                    + run_text());
      break;
    }
    if (lives > batches * 2 + 2)
      throw error("simulation: no progress after " + std::to_string(lives) + " restarts -- "
                  + run_text());
  }
  rec.injected = fault_plan::explicit_faults(std::move(struck));
  return rec;
}

} // namespace sluice::testing::detail

namespace sluice {

void fault_point(std::string_view name) {
  if (name.empty())
    throw invalid_argument("fault_point: expected a non-empty name");
  fault_injector::global().hit(name);
}

} // namespace sluice
