// receiver_supervisor: runs one receiver's lifecycle on its own thread (spawn
// it detached: on_start/on_stop are user code) and restarts it one-for-one
// with exponential backoff, up to a restart-intensity limit.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "sluice/detail/receiver_parts.hpp"
#include "sluice/listener.hpp"
#include "sluice/messages.hpp"

namespace sluice::detail {

/// sluice.streaming.receiver.* settings.
struct restart_policy {
  std::chrono::milliseconds base_delay{2000};  ///< receiverRestartDelay (Spark: 2 s)
  std::chrono::milliseconds max_delay{30000};  ///< cap of the exponential backoff
  int max_restarts = 10;                       ///< restarts allowed within `window`
  std::chrono::milliseconds window{60000};
};

using receiver_report = std::function<void(const std::string& what, const receiver_info&)>;

/// The report that turns "started", "error" and "stopped" into the listener
/// events sent to `bus` (a listener_bus, here or on the driver).
receiver_report receiver_reporter(caf::actor bus);
/// Called once when the receiver passed its restart limit, with the error
/// that says so (it names the receiver, the restarts and the last error).
using receiver_give_up = std::function<void(const std::string& why)>;

struct receiver_supervisor_state {
  std::shared_ptr<supervised_receiver> receiver;
  restart_policy policy;
  receiver_report report;
  receiver_give_up give_up;
  receiver_info info;
  std::deque<int64_t> restarts_ms;  ///< restart times within the window
  int64_t restarts_total = 0;       ///< restarts since the supervisor started
  int consecutive = 0;              ///< restarts since the last stable start
  bool started_once = false;
  bool stopped = false;
  bool running = false;
  static inline const char* name = "sluice.receiver_supervisor";
};

/// Handles `(start_atom)`, `(restart_atom, std::string why, int64_t delay_ms)`,
/// `(error_atom, std::string why)`, `(rate_atom, int64_t r)` and
/// `(stop_atom, std::string why) -> bool`. Every start, error, restart and
/// stop is reported to `report` and logged (sluice::detail::logger(), in
/// Spark's words: "Restarting receiver with delay <d> ms: <why>", ...).
/// Past `max_restarts` in `window` the receiver is stopped for good,
/// reported, and `give_up` (if set) is called: the runtime stops the context
/// with that error unless told to keep running.
caf::behavior receiver_supervisor(caf::stateful_actor<receiver_supervisor_state>* self,
                                  std::shared_ptr<supervised_receiver> receiver,
                                  restart_policy policy, receiver_info info,
                                  receiver_report report, receiver_give_up give_up = {});

} // namespace sluice::detail
