// The middleman's blocking calls (publish, unpublish, remote_actor) as
// requests to its actor, awaited with call() (sluice/deterministic.hpp): in
// real mode the same as CAF's function views they replace, and in a
// deterministic run (one thread, perhaps a sim network) answered once every
// node has run instead of blocking forever. TLS keeps caf::openssl's calls:
// the simulation refuses TLS.
#pragma once

#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

namespace sluice::detail {

/// As `sys.middleman().publish(whom, port, host, true)`: the port `whom`
/// listens on (the one asked for, or any free one for 0), or CAF's error
/// (sec::cannot_publish_invalid_actor for an invalid `whom`).
caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::actor& whom, uint16_t port,
                                const std::string& host);

/// As `sys.middleman().unpublish(whom, port)`, its result ignored.
void unpublish(caf::actor_system& sys, const caf::actor& whom, uint16_t port);

/// As `sys.middleman().remote_actor(host, port)`: the actor published at
/// (`host`, `port`), or CAF's error (sec::no_actor_published_at_port when
/// nothing is).
caf::expected<caf::actor> remote_actor(caf::actor_system& sys, const std::string& host,
                                       uint16_t port);

} // namespace sluice::detail
