#include "sluice/listener_bus.hpp"

#include "sluice/actor_probe.hpp"

#include <chrono>
#include <iostream>

#include "sluice/messages.hpp"

namespace sluice::detail {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

namespace {

void deliver(streaming_listener& l, const listener_event& e) {
  using k = listener_event::kind;
  switch (e.what) {
    case k::streaming_started: l.on_streaming_started(e.time_us); break;
    case k::batch_submitted: l.on_batch_submitted(e.batch); break;
    case k::batch_started: l.on_batch_started(e.batch); break;
    case k::batch_completed: l.on_batch_completed(e.batch); break;
    case k::output_started: l.on_output_operation_started(e.output); break;
    case k::output_completed: l.on_output_operation_completed(e.output); break;
    case k::receiver_started: l.on_receiver_started(e.receiver); break;
    case k::receiver_error: l.on_receiver_error(e.receiver); break;
    case k::receiver_stopped: l.on_receiver_stopped(e.receiver); break;
    case k::worker_added: l.on_worker_added(e.worker); break;
    case k::worker_removed: l.on_worker_removed(e.worker); break;
    case k::operators_placed: l.on_operators_placed(e.placement); break;
    case k::checkpoint_written: l.on_checkpoint_written(e.checkpoint); break;
    case k::streaming_failed: l.on_streaming_failed(e.failure); break;
  }
}

void deliver_all(const listener_list& listeners, const listener_event& e) {
  for (auto& l : listeners) {
    try {
      deliver(*l, e);
    } catch (const std::exception& ex) {
      std::cerr << "sluice: a streaming_listener threw: " << ex.what() << '\n';
    }
  }
}

} // namespace

caf::behavior listener_bus(caf::stateful_actor<listener_bus_state>* self,
                           listener_list listeners) {
  self->state.listeners = std::move(listeners);
  return {
    [=](const listener_event& e) { deliver_all(self->state.listeners, e); },
    [=](const std::vector<listener_event>& es) {
      for (auto& e : es)
        deliver_all(self->state.listeners, e);
    },
    [=](drain_atom) { return true; },
    [=](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
  };
}

} // namespace sluice::detail
