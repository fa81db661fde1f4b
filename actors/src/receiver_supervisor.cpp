#include "sluice/receiver_supervisor.hpp"

#include "sluice/actor_probe.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "sluice/listener_bus.hpp"
#include "sluice/log.hpp"

namespace sluice::detail {

namespace {

using self_ptr = caf::stateful_actor<receiver_supervisor_state>*;

void emit(self_ptr self, const std::string& what, const std::string& error = {}) {
  auto& st = self->state;
  st.info.active = st.running;
  if (!error.empty()) {
    st.info.last_error = error;
    st.info.last_error_us = now_us();
  }
  if (st.report)
    st.report(what, st.info);
}

/// "Receiver stream <id> (<name>)": how log lines and the give-up error
/// name the receiver.
std::string who(self_ptr self) {
  auto& info = self->state.info;
  return "Receiver stream " + std::to_string(info.stream_id) + " (" + info.name + ")";
}

void stop_receiver(self_ptr self) {
  auto& st = self->state;
  if (!st.running)
    return;
  st.running = false;
  try {
    st.receiver->stop();
  } catch (const std::exception& e) {
    logger()->error("{}: Error stopping receiver: on_stop threw: {}", who(self), e.what());
    emit(self, "error", std::string("on_stop threw: ") + e.what());
  }
}

/// Milliseconds on the actor's clock: the restart window and the delayed
/// start use one clock, which under the test coordinator is the simulated
/// one (advance_timers), so a simulated run's restarts are deterministic.
int64_t clock_ms(self_ptr self) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

void restart(self_ptr self, const std::string& why, int64_t delay_ms) {
  auto& st = self->state;
  if (st.stopped)
    return;
  emit(self, "error", why);
  stop_receiver(self);
  int64_t now = clock_ms(self);
  st.restarts_ms.push_back(now);
  ++st.restarts_total;
  while (!st.restarts_ms.empty() && st.restarts_ms.front() <= now - st.policy.window.count())
    st.restarts_ms.pop_front();
  if (static_cast<int>(st.restarts_ms.size()) > st.policy.max_restarts) {
    st.stopped = true;
    auto msg = who(self) + " stopped after " + std::to_string(st.restarts_ms.size() - 1)
               + " restarts within " + std::to_string(st.policy.window.count())
               + " ms (sluice.streaming.receiver.maxRestarts="
               + std::to_string(st.policy.max_restarts) + "); last error: " + why;
    logger()->error("{}", msg);
    emit(self, "error", msg);
    emit(self, "stopped");
    if (st.give_up)
      st.give_up(msg);
    return;
  }
  if (st.restarts_ms.size() == 1)
    st.consecutive = 0; // the first restart within the window: the backoff starts over
  int64_t delay = std::max<int64_t>(delay_ms, 0);
  for (int i = 0; i < st.consecutive && delay < st.policy.max_delay.count(); ++i)
    delay *= 2;
  delay = std::min<int64_t>(delay, st.policy.max_delay.count());
  ++st.consecutive;
  logger()->warn("{}: Restarting receiver with delay {} ms: {}", who(self), delay, why);
  self->delayed_send(self, std::chrono::milliseconds{delay}, start_atom::value);
}

} // namespace

receiver_report receiver_reporter(caf::actor bus) {
  return [bus = std::move(bus)](const std::string& what, const receiver_info& r) {
    listener_event e{listener_event::kind::receiver_started, {}, {}, r, now_us()};
    if (what == "error")
      e.what = listener_event::kind::receiver_error;
    else if (what == "stopped")
      e.what = listener_event::kind::receiver_stopped;
    caf::anon_send(bus, std::move(e));
  };
}

caf::behavior receiver_supervisor(self_ptr self, std::shared_ptr<supervised_receiver> receiver,
                                  restart_policy policy, receiver_info info,
                                  receiver_report report, receiver_give_up give_up) {
  auto& st = self->state;
  st.receiver = std::move(receiver);
  st.policy = policy;
  st.info = std::move(info);
  st.report = std::move(report);
  st.give_up = std::move(give_up);
  return {
    [=](introspect_atom) {
      auto r = self_report(self);
      r.restarts = self->state.restarts_total;
      r.stream = self->state.info.stream_id;
      return std::vector<actor_report>{std::move(r)};
    },
    [=](start_atom) {
      auto& st = self->state;
      if (st.stopped || st.running)
        return;
      try {
        st.running = true;
        st.receiver->start();
        logger()->info("{}: {}", who(self),
                       st.started_once ? "Receiver started again" : "Receiver started");
        st.started_once = true;
        emit(self, "started");
      } catch (const std::exception& e) {
        restart(self, std::string("on_start threw: ") + e.what(),
                self->state.policy.base_delay.count());
      }
    },
    [=](restart_atom, const std::string& why, int64_t delay_ms) { restart(self, why, delay_ms); },
    [=](error_atom, const std::string& why) {
      logger()->warn("{}: Reported error {}", who(self), why);
      emit(self, "error", why);
    },
    [=](rate_atom, int64_t r) { self->state.receiver->update_rate(r); },
    [=](stop_atom, const std::string& why) {
      auto& st = self->state;
      if (!st.stopped) {
        logger()->info("{}: Stopping receiver with message: {}", who(self), why);
        st.stopped = true;
        stop_receiver(self);
        emit(self, "stopped");
      }
      return true;
    },
  };
}

} // namespace sluice::detail
