// Blocks between actors: a block (sluice/detail/receiver_parts.hpp, Spark's
// blocks; one block becomes one partition) as a message and back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/detail/receiver_parts.hpp"
#include "sluice/transport.hpp"

namespace sluice::detail {

/// Returns `b` as a message for `to` (its records as a handle or bytes).
inline block_msg pack(block b, transport& net, const caf::actor& to) {
  return {b.stream, b.id, b.created_ms, b.records, net.pack(std::move(b.data), to), b.queued};
}

/// Returns the block a block_msg carries (see transport::unpack for errors).
inline block unpack(block_msg& m, transport& net) {
  return {m.stream, m.id, m.created_ms, m.records, net.unpack(m.data), m.queued};
}

} // namespace sluice::detail
