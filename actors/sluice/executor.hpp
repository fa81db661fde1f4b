// executor: the per-process host of operator and gather actors. It spawns
// them, monitors them, and reports one that terminates while the context
// runs as a batch failure (the context stops with an error naming it rather
// than waiting forever for its output).
#pragma once

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
  caf::response_promise stopped;  ///< the stop request, answered once every hosted actor is down
  static inline const char* name = "sluice.executor";
};

/// Handles `(start_atom) -> int` (spawns every stage slot and gather of the
/// plan into `w`, replies with the number of actors; call once, before the
/// first tick) and `(stop_atom) -> bool` (stops them all and answers once
/// every one has terminated, then quits: the graph their nodes live in may
/// be destroyed after the answer).
caf::behavior executor(caf::stateful_actor<executor_state>* self, std::shared_ptr<wiring> w);

} // namespace sluice::detail
