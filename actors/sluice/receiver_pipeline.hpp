// receiver_pipeline: the actors behind one receiver stream (Spark's
// ReceiverSupervisor, BlockGenerator, BlockManager and ReceiverTracker): a
// non-template handle the context owns. The stream's graph node owns none
// of them; it hands its typed buffer and receiver over at start
// (receiver_launch), and the job scheduler asks the tracker for each
// batch's blocks without waiting.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "sluice/actor_probe.hpp"

#include "sluice/detail/receiver_parts.hpp"
#include "sluice/rate_estimator.hpp"
#include "sluice/receiver_supervisor.hpp"
#include "sluice/source.hpp"
#include "sluice/transport.hpp"

namespace sluice {
class receiver_wal;
} // namespace sluice

namespace sluice::detail {

/// Where a pipeline's actors run.
enum class receiver_role {
  whole,   ///< one process (local[N]): every actor here
  home,    ///< cluster mode, the driver: the tracker and the WAL replay; the
           ///< rest is placed on a worker (hosted()), which reports to it
  hosted,  ///< cluster mode, a worker: supervisor, block generator and block
           ///< manager for the driver's tracker (receiver_settings::tracker)
};

/// How a receiver stream runs (from sluice.streaming.* conf keys).
struct receiver_settings {
  receiver_role role = receiver_role::whole;
  caf::actor tracker;    ///< hosted: the driver's tracker
  std::string location;  ///< hosted: this worker's name, in the receiver's events
  std::chrono::milliseconds block_interval{200};   ///< blockInterval
  restart_policy policy;
  /// Past the restart limit: stop the context (true) or run on without it.
  bool stop_context_on_give_up = true;
  /// With the receiver WAL on: the checkpoint directory holding it.
  std::optional<std::string> wal_dir;
  /// Recovering (get_or_create) after this batch time: WAL blocks of later
  /// batches go back to those batches.
  std::optional<int64_t> recovered;
  /// With backpressure: the rate estimator (driven by the tracker).
  std::shared_ptr<rate_estimator> estimator;
  /// A first rate limit sent to the receiver before it starts.
  std::optional<int64_t> initial_rate;
};

class receiver_pipeline {
 public:
  /// Spawns tracker, block manager, block generator and supervisor (the
  /// last detached, as it runs user code, but for a plain actor under the
  /// test coordinator: spawn_service), links `launch.buffer` to them and
  /// replays the WAL when it is on. The receiver starts with start().
  /// Throws what opening the WAL throws (storage_error).
  receiver_pipeline(caf::actor_system& sys, std::shared_ptr<transport> net,
                    receiver_launch launch, receiver_settings settings, const source_env& env);
  /// Sends every actor an exit (they finish what they hold first).
  ~receiver_pipeline();

  receiver_pipeline(const receiver_pipeline&) = delete;
  receiver_pipeline& operator=(const receiver_pipeline&) = delete;

  /// Starts the receiver (home: the hosted one, once hosted() named it).
  void start();
  /// Home: the worker's half is `manager`, `generator`, `supervisor` (the
  /// tracker hears of the manager before the receiver starts, so the
  /// manager's first block is accepted). Replaces an earlier worker's half.
  void hosted(caf::actor manager, caf::actor generator, caf::actor supervisor);
  /// Hosted: {block manager, block generator, supervisor}, for the driver.
  std::vector<caf::actor> actors() const { return {manager_, generator_, supervisor_}; }
  /// Stops the receiver and cuts what it stored into a last block, so the
  /// remaining batches take it. Waits (bounded): call it from the API edge
  /// (stop), never from an actor.
  void stop_receiving();

  int32_t stream() const { return stream_; }
  /// Answers `(allocate_atom, t) -> allocation_msg`, takes `(rate_atom, ...)`
  /// and `(cleanup_atom, done, t)` (receiver_tracker.hpp).
  const caf::actor& tracker() const { return tracker_; }
  /// The pipeline's actors for the live view: the supervisor ("receiver
  /// <stream>") and, as its children, the block generator, block manager and
  /// tracker.
  std::vector<probe_target> probe_targets() const;

 private:
  void replay(receiver_wal& log, block_source& buffer, std::optional<int64_t> recovered);

  caf::actor_system& sys_;
  std::shared_ptr<transport> net_;
  int32_t stream_;
  caf::actor tracker_;
  caf::actor manager_;
  caf::actor generator_;
  caf::actor supervisor_;
  receiver_role role_;
  bool stopped_ = false;
};

} // namespace sluice::detail
