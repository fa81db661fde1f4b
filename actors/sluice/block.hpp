// Blocks between actors: a block (sluice/detail/receiver_parts.hpp, Spark's
// blocks; one block becomes one partition) as a message and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/detail/receiver_parts.hpp"
#include "sluice/receiver_wal.hpp"
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

/// Appends `b` to the write-ahead log `wal`, its records encoded by
/// `source` straight into the row; returns the records' bytes.
inline int64_t log_block(receiver_wal& wal, const block_source& source, const block& b) {
  int64_t bytes = 0;
  wal.append_block_from(b.stream, b.id, b.created_ms,
                        [&](const receiver_wal::record_visitor& visit) {
    source.encode_each(b.data, [&](std::string_view record) {
      bytes += static_cast<int64_t>(record.size());
      visit(record);
    });
  });
  return bytes;
}

} // namespace sluice::detail
