// scheduler_relay: the job scheduler's face to cluster workers, for the same
// reason as checkpoint_relay.hpp: a detached actor whose handle a remote node
// holds can stay in CAF 0.17's actor registry after it ended, and then
// ~actor_system waits for its thread forever (seen: the scheduler, after a
// context with workers stopped). This relay is not detached.
#pragma once

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

/// Forwards `gather_done` and `batch_failed` to `scheduler` with their
/// original sender (the scheduler ignores reports of retired actors by
/// sender).
caf::behavior scheduler_relay(caf::event_based_actor* self, caf::actor scheduler);

} // namespace sluice::detail
