// checkpoint_relay: the checkpoint writer's face to cluster workers. It
// forwards their state writes and restore requests to the (detached)
// checkpoint writer and answers them itself. Why: CAF 0.17's middleman keeps
// every local actor that sent a remote message in the actor registry, and an
// entry made after the actor ended is never dropped; for a detached actor
// that leaves ~actor_system waiting for its thread forever. This relay is
// not detached, so such an entry costs memory only.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "sluice/messages.hpp"
#include "sluice/transport.hpp"

namespace sluice::detail {

/// Handles `(state_write_msg) -> bool` and `(restore_atom, int32_t op,
/// int32_t partition, int64_t t) -> state_rows_msg` as the checkpoint writer
/// does; a failure comes back as an error with the writer's message (its
/// exception, kept in `net` for a local requester, is dropped).
caf::behavior checkpoint_relay(caf::event_based_actor* self, caf::actor writer,
                               std::shared_ptr<transport> net);

} // namespace sluice::detail
