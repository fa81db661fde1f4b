// Reading a state checkpoint chunk (FORMAT.md, table `checkpoint_state`)
// without materializing it: its keys and values as views into the payload.
//
// A restore of a million keys through the generated StateCheckpointChunk
// message made two heap strings a change, then a pair of strings a change
// for the fold, then sorted them: most of its time was page faults on that
// fresh memory. A stateful operator applies the views in order instead
// (for_each_state_change, codec.hpp), decoding each straight into its table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/codec.hpp"

namespace sluice {

/// The fields of one StateCheckpointChunk payload (persistence/proto), its
/// byte fields viewing the payload it was parsed from.
struct state_chunk_view {
  std::int32_t operator_id = 0;
  std::int32_t partition = 0;
  std::int64_t batch_time_ms = 0;
  bool full = false;
  std::uint32_t chunk_index = 0;
  std::uint32_t chunk_count = 0;
  std::vector<std::string_view> keys;          ///< upserted keys
  std::vector<std::string_view> values;        ///< their values, same length
  std::vector<std::string_view> removed_keys;  ///< removed keys (deltas)
};

/// Parses `payload` (protobuf wire format of StateCheckpointChunk) into
/// `out`, reusing its vectors' capacity. Returns false when the bytes are not
/// such a message or `keys` and `values` differ in length. Unknown fields
/// are skipped, as protobuf's own parser does.
bool parse_state_chunk(std::string_view payload, state_chunk_view& out);

/// The state `chunks` leave (each key's last change unless a removal),
/// sorted by key: what checkpoint_store::read_state returns.
state_entries state_from_chunks(const std::vector<std::string>& chunks);

} // namespace sluice
