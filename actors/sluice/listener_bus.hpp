// listener_bus: delivers streaming_listener callbacks on its own thread.
#pragma once

#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "sluice/listener.hpp"
#include "sluice/messages.hpp"

namespace sluice::detail {

using listener_list = std::vector<std::shared_ptr<streaming_listener>>;

struct listener_bus_state {
  listener_list listeners;
  static inline const char* name = "sluice.listener_bus";
};

/// Spawn detached: listener code is user code and must not run on scheduler
/// threads. Handles `listener_event`, `std::vector<listener_event>` (in
/// their order) and `(drain_atom) -> bool` (replies once
/// every earlier event was delivered). An exception in a listener is logged
/// and does not stop the bus.
caf::behavior listener_bus(caf::stateful_actor<listener_bus_state>* self, listener_list listeners);

/// Returns microseconds since the Unix epoch.
int64_t now_us();

} // namespace sluice::detail
