// Deterministic execution (sluice.streaming.clock=simulated): every actor of
// a context runs on CAF's test coordinator, one job at a time, on the thread
// that moves the manual clock (DESIGN.md "Faults"; sluice::testing's
// simulation). Three rules keep that mode free of other threads:
//  - a service actor that normally gets a thread of its own (spawned
//    detached) is spawned as a plain actor: spawn_service;
//  - a blocking wait for a reply runs the coordinator first, or the reply
//    would never come: await_reply;
//  - nothing runs on a timer but what the thread moving the clock lets
//    fire: the manual clock drives the batches, and advance_timers moves
//    CAF's test clock (a receiver's block and restart timers) with it.
#pragma once

#include <chrono>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/all.hpp>

namespace sluice::detail {

/// Whether `sys` runs on CAF's test coordinator (scheduler.policy=testing).
bool is_deterministic(caf::actor_system& sys);

/// With the test coordinator: runs queued jobs until none is left and
/// returns how many ran. When `sys` belongs to a sim_network, runs the
/// whole network instead (sim_network::run) and returns its steps.
/// Otherwise returns 0 at once. Runs on the calling thread, which must be
/// the only one touching `sys`'s actors (and its network's).
size_t run_until_idle(caf::actor_system& sys);

/// With the test coordinator: moves its clock (the one CAF's delayed
/// messages and `self->clock()` use, which starts when `sys` does and is
/// not the manual clock) forward by `d`, delivers every delayed message due
/// by then and runs until idle (run_until_idle), again while what ran
/// scheduled more messages due by then. Returns the messages delivered.
/// Otherwise returns 0 at once: real timers fire on their own. Run on the
/// thread that runs `sys` (as run_until_idle), not from a handler.
size_t advance_timers(caf::actor_system& sys, caf::timespan d);

/// Whether the calling thread is inside run_until_idle, i.e. running an
/// actor's handler (which must not wait for another actor's reply).
bool in_deterministic_run();

/// Call between a scoped actor's request and its receive. With the test
/// coordinator it runs every queued job (of the whole sim network, if
/// `self`'s system is in one: run_until_idle) and returns whether a reply is
/// there: if not, it never comes (nothing else runs), which a request with
/// a timeout treats as that timeout. Otherwise it returns true at once (the
/// reply comes from other threads).
bool reply_ready(caf::scoped_actor& self);

/// As reply_ready, for a request that has no timeout: throws illegal_state
/// naming `what` when no reply arrived (receive would block forever).
void await_reply(caf::scoped_actor& self, const char* what);

/// Throws illegal_state: no reply to `request` (a request without a
/// timeout) came once every actor had run. For call.
[[noreturn]] void no_reply(const std::string& request);

/// The reply to a request made by call(), received once.
template <class Handle>
class awaited_reply {
public:
  awaited_reply(Handle h, bool ready) : h_(std::move(h)), ready_(ready) {
    // nop
  }

  /// Hands the reply to `on_reply`, or an error to `on_error` (as
  /// `Handle::receive`): caf::sec::request_timeout when, deterministic, no
  /// reply came once every actor had run. It never will, so that is what
  /// the request's timeout would say in real time.
  template <class OnReply, class OnError>
  void receive(OnReply on_reply, OnError on_error) {
    if (ready_) {
      h_.receive(std::move(on_reply), std::move(on_error));
      return;
    }
    caf::error timeout = caf::make_error(caf::sec::request_timeout);
    on_error(timeout);
  }

private:
  Handle h_;
  bool ready_;
};

/// Sends `xs` to `dest` as a request of the scoped actor `self`; receive
/// on the result as on `self->request(dest, timeout, xs...)`. In real mode
/// it is exactly that. Deterministic, it runs `self`'s system (its whole
/// sim network, if in one) between the request and the receive
/// (reply_ready), so a reply from another actor, or another node, is there.
/// A request with caf::infinite that got no reply then throws illegal_state
/// naming its message (receive would block forever).
/// @pre Not called from an actor's handler (reply_ready).
template <class Dest, class Timeout, class... Ts>
auto call(caf::scoped_actor& self, const Dest& dest, Timeout timeout, const Ts&... xs) {
  auto h = self->request(dest, timeout, xs...);
  bool ready = reply_ready(self);
  if constexpr (std::is_same_v<Timeout, caf::infinite_t>)
    if (!ready)
      no_reply(caf::to_string(caf::make_message(xs...)));
  return awaited_reply<decltype(h)>{std::move(h), ready};
}

/// Sends `xs` to `dest` and waits, at most `timeout`, for its reply (a bool
/// or an error, both ignored): for the stop paths, which need the callee to
/// have finished what it was doing, not an answer. Runs the coordinator
/// first when `self`'s system is deterministic (reply_ready).
template <class Rep, class Period, class... Ts>
void ask(caf::scoped_actor& self, const caf::actor& dest,
         std::chrono::duration<Rep, Period> timeout, Ts&&... xs) {
  if (auto r = self->request(dest, timeout, std::forward<Ts>(xs)...); reply_ready(self))
    r.receive([](bool) {}, [](caf::error&) {});
}

/// Spawns `f` on a thread of its own (caf::detached), or as a plain actor
/// when `sys` is deterministic: a detached actor gets a private thread even
/// under the test coordinator.
template <class F, class... Ts>
caf::actor spawn_service(caf::actor_system& sys, F f, Ts&&... xs) {
  if (is_deterministic(sys))
    return sys.spawn(f, std::forward<Ts>(xs)...);
  return sys.template spawn<caf::detached>(f, std::forward<Ts>(xs)...);
}

/// As above, spawned by the actor `self` (in its home system).
template <class Self, class F, class... Ts>
caf::actor spawn_service(Self* self, F f, Ts&&... xs) {
  if (is_deterministic(self->home_system()))
    return self->spawn(f, std::forward<Ts>(xs)...);
  return self->template spawn<caf::detached>(f, std::forward<Ts>(xs)...);
}

} // namespace sluice::detail
