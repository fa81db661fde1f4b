// The pieces of one simulation run (simulation.cpp): its in-memory
// checkpoint directory, the listener that sees batches complete and workers
// go, the switch that crashes a batch after its outputs, the fault VFS's
// route, and the fault points to disarm at the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "sluice/fault_injector.hpp"
#include "sluice/fault_vfs.hpp"
#include "sluice/mem_vfs.hpp"
#include "sluice/sluice.hpp"

namespace sluice::testing::detail {

/// A fresh checkpoint directory kept in memory by the memory VFS (nothing
/// of it is on the disk): a simulated batch commits without a system call,
/// and a simulated crash loses just what the fault VFS undoes. Forgotten
/// with the object.
class scratch_dir {
 public:
  scratch_dir() {
    static std::atomic<int> counter{0};
    path_ = "/sluice-mem/sim-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    mem_vfs::global().route(path_);
  }
  ~scratch_dir() {
    mem_vfs::global().forget(path_);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::string& str() const {
    return path_;
  }

 private:
  std::string path_;
};

/// Sees batches complete (listener bus). The listener runs on the thread
/// that moves the clock, as every actor does (sluice.streaming.clock=simulated).
class batch_watch : public streaming_listener {
 public:
  void on_batch_completed(const batch_info& b) override {
    completed_.insert(b.time.ms);
  }

  bool completed(std::int64_t t) const {
    return completed_.count(t) != 0;
  }

  void on_worker_removed(const worker_info& w) override {
    removed_.push_back(w.name);
    reasons_.push_back(w.reason);
  }

  /// Why the driver declared each of removed() lost, in the same order.
  const std::vector<std::string>& reasons() const {
    return reasons_;
  }

  void on_operators_placed(const placement_info& p) override {
    if (p.replaced)
      placements_.push_back(p);
  }

  void on_receiver_started(const receiver_info&) override {
    ++receiver_starts_;
  }

  /// Receiver starts (a supervisor's restart is one more), since the
  /// context started.
  int receiver_starts() const {
    return receiver_starts_;
  }

  /// Workers the driver declared lost, in order.
  const std::vector<std::string>& removed() const {
    return removed_;
  }

  /// Placements made again while running, in order.
  const std::vector<placement_info>& placements() const {
    return placements_;
  }

 private:
  std::set<std::int64_t> completed_;
  std::vector<std::string> removed_;
  std::vector<std::string> reasons_;
  std::vector<placement_info> placements_;
  int receiver_starts_ = 0;
};

/// "sim-worker-0 and sim-worker-2".
inline std::string names(const std::vector<std::string>& ws) {
  std::string out;
  for (size_t i = 0; i < ws.size(); ++i)
    out += (i == 0 ? "" : i + 1 == ws.size() ? " and " : ", ") + ws[i];
  return out;
}

/// The process_crash, storage_full or torn_write of one batch: fired by the harness's
/// output at that batch (the last output operation, so every output of the
/// batch ran), it makes every later write to the checkpoint directory fail,
/// so the metadata checkpoint of the batch is the first write lost.
class crash_switch {
 public:
  crash_switch(std::int64_t at_ms, std::function<void()> fire)
    : at_ms_(at_ms), fire_(std::move(fire)) {}

  void delivered(std::int64_t t) {
    if (t != at_ms_ || fired_.exchange(true))
      return;
    fire_();
  }

  bool fired() const noexcept {
    return fired_.load();
  }

 private:
  std::int64_t at_ms_;
  std::function<void()> fire_;
  std::atomic<bool> fired_{false};
};

/// process_crash: every later checkpoint write fails at fault point checkpoint.write.
inline void fail_checkpoint_writes() {
  fault_spec spec;
  spec.action = fault_action::fail_write();
  fault_injector::global().arm(fault_points::checkpoint_write, spec);
}

/// Routes a run's checkpoint directory through the fault VFS while the run
/// lasts, when its plan has storage faults.
class vfs_route {
 public:
  vfs_route(std::string dir, bool on) : dir_(std::move(dir)), on_(on) {
    if (on_)
      fault_vfs::global().route(dir_);
  }
  ~vfs_route() {
    if (on_) {
      fault_vfs::global().clear_failures(dir_);
      fault_vfs::global().unroute(dir_);
    }
  }
  vfs_route(const vfs_route&) = delete;
  vfs_route& operator=(const vfs_route&) = delete;

 private:
  std::string dir_;
  bool on_;
};

/// Disarms, when the run ends however it ends, the points it armed.
class disarm_on_exit {
 public:
  void add(std::string point) {
    points_.insert(std::move(point));
  }
  ~disarm_on_exit() {
    for (auto& p : points_)
      fault_injector::global().disarm(p);
  }

 private:
  std::set<std::string> points_;
};

} // namespace sluice::testing::detail
