// executor: the per-process host of operator and gather actors. It spawns
// them, monitors them, and reports one that terminates while the context
// runs as a batch failure (the context stops with an error naming it rather
// than waiting forever for its output).
#pragma once

#include <functional>
#include <map>
#include <string>

#include <caf/all.hpp>

#include "sluice/messages.hpp"
#include "sluice/wiring.hpp"

namespace sluice::detail {

struct executor_state {
  std::shared_ptr<wiring> w;
  std::map<caf::actor_addr, std::string> hosted;  ///< actor -> "stage 2 slot 1"
  bool stopping = false;
  std::vector<caf::actor> slots;  ///< the stage slots this executor hosts
  caf::response_promise stopped;  ///< the stop request, answered once every hosted actor is down
  caf::response_promise clearing;  ///< a clear request, answered likewise
  /// Cluster worker: told the run's times when placed (the worker's graph
  /// takes the driver's zero time).
  std::function<void(const run_info&)> on_placed;
  static inline const char* name = "sluice.executor";
};

/// Handles `(start_atom, bool with_stages) -> int` (spawns every gather of
/// the plan, and with `with_stages` every stage slot, into `w`; replies with
/// the number of actors; call once, before the first tick) and `(stop_atom)
/// -> bool` (stops them all and answers once every one has terminated, then
/// quits: the graph their nodes live in may be destroyed after the answer).
///
/// In cluster mode a worker's executor hosts the stage slots the driver
/// places on it: `(spawn_atom, placement_msg) -> vector<actor>` (the run's
/// times, recovery point, scheduler and checkpoint writer first, then one
/// operator actor per pair) and `(wire_atom, stage_table_msg) -> bool` (every
/// slot's actor, before the first batch). `(clear_atom) -> bool` ends every
/// actor hosted here and answers once all are down, without a batch failure:
/// the driver then places the graph again (replace_atoms.hpp).
caf::behavior executor(caf::stateful_actor<executor_state>* self, std::shared_ptr<wiring> w,
                       std::function<void(const run_info&)> on_placed);

} // namespace sluice::detail
