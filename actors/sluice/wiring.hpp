// The actor handles of one running plan. Filled once after every actor was
// spawned and before the first batch; read-only afterwards.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "sluice/plan.hpp"
#include "sluice/transport.hpp"

namespace sluice::detail {

struct wiring {
  std::shared_ptr<const plan> layout;
  run_info info;
  std::vector<std::vector<caf::actor>> stages;  ///< [stage][slot]
  std::vector<caf::actor> gathers;              ///< [gather]
  caf::actor scheduler;
  /// [plan source]: a receiver stream's tracker (it allocates the stream's
  /// blocks to each batch); null for other sources. Set before the clock
  /// starts.
  std::vector<caf::actor> trackers;
  std::shared_ptr<transport> net;  ///< packs records for the actors above
  caf::actor checkpoint_writer;  ///< owns sluice.db; null without ssc.checkpoint(dir)
  std::optional<int64_t> restore_from;             ///< recovering: state as of this batch
  /// The state checkpoint interval of every node with checkpointed state.
  /// Each of them checkpoints at every multiple of any of these (from the
  /// zero time): the nodes' checkpoints then fall at the same batch times, a
  /// consistent cut a recovery can restart from.
  std::vector<int64_t> checkpoint_intervals_ms;
};

using wiring_ptr = std::shared_ptr<const wiring>;

/// Sends `data` (or None) from a source or gather into stage `stage`:
/// partition i goes to slot i mod slots; every slot gets one message.
void scatter(const wiring& w, int stage, int64_t t,
             std::optional<parts> data);

} // namespace sluice::detail
