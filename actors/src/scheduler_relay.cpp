#include "sluice/scheduler_relay.hpp"

namespace sluice::detail {

caf::behavior scheduler_relay(caf::event_based_actor* self, caf::actor scheduler) {
  auto forward = [=](caf::message msg) {
    scheduler->enqueue(self->current_sender(), caf::make_message_id(), std::move(msg),
                       self->context());
  };
  return {
    [=](gather_done& d) { forward(caf::make_message(std::move(d))); },
    [=](batch_failed& f) { forward(caf::make_message(std::move(f))); },
  };
}

} // namespace sluice::detail
