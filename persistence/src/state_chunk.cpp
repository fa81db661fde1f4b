#include "sluice/state_chunk.hpp"

#include "sluice/error.hpp"
#include "sluice/pb/records.pb.h"
#include "sluice/state_changes.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <limits>

namespace sluice {

namespace {

namespace pbio = google::protobuf::io;
using wfl = google::protobuf::internal::WireFormatLite;

// Field numbers are the generated class's, records.proto their one definition.
using chunk_pb = pb::StateCheckpointChunk;

bool read_bytes(pbio::CodedInputStream& in, const char* base, std::string_view& out) {
  std::uint32_t n = 0;
  if (!in.ReadVarint32(&n))
    return false;
  auto at = static_cast<std::size_t>(in.CurrentPosition());
  if (!in.Skip(static_cast<int>(n)))
    return false;
  out = std::string_view{base + at, n};
  return true;
}

} // namespace

bool parse_state_chunk(std::string_view payload, state_chunk_view& out) {
  out.operator_id = out.partition = 0;
  out.batch_time_ms = 0;
  out.full = false;
  out.chunk_index = out.chunk_count = 0;
  out.keys.clear();
  out.values.clear();
  out.removed_keys.clear();
  if (payload.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return false;
  pbio::CodedInputStream in{reinterpret_cast<const std::uint8_t*>(payload.data()),
                            static_cast<int>(payload.size())};
  in.SetTotalBytesLimit(std::numeric_limits<int>::max());
  std::uint64_t v = 0;
  std::string_view bytes;
  while (auto tag = in.ReadTag()) {
    auto number = static_cast<int>(wfl::GetTagFieldNumber(tag));
    auto type = wfl::GetTagWireType(tag);
    bool varint = type == wfl::WIRETYPE_VARINT;
    bool delimited = type == wfl::WIRETYPE_LENGTH_DELIMITED;
    switch (number) {
      case chunk_pb::kOperatorIdFieldNumber:
      case chunk_pb::kPartitionFieldNumber:
      case chunk_pb::kBatchTimeMsFieldNumber:
      case chunk_pb::kFullFieldNumber:
      case chunk_pb::kChunkIndexFieldNumber:
      case chunk_pb::kChunkCountFieldNumber:
        if (!varint)
          break; // a known number with another wire type: skipped as unknown
        if (!in.ReadVarint64(&v))
          return false;
        // As protobuf: int32 and uint32 take the low 32 bits of the varint.
        if (number == chunk_pb::kOperatorIdFieldNumber)
          out.operator_id = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
        else if (number == chunk_pb::kPartitionFieldNumber)
          out.partition = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
        else if (number == chunk_pb::kBatchTimeMsFieldNumber)
          out.batch_time_ms = static_cast<std::int64_t>(v);
        else if (number == chunk_pb::kFullFieldNumber)
          out.full = v != 0;
        else if (number == chunk_pb::kChunkIndexFieldNumber)
          out.chunk_index = static_cast<std::uint32_t>(v);
        else
          out.chunk_count = static_cast<std::uint32_t>(v);
        continue;
      case chunk_pb::kKeysFieldNumber:
      case chunk_pb::kValuesFieldNumber:
      case chunk_pb::kRemovedKeysFieldNumber:
        if (!delimited)
          break;
        if (!read_bytes(in, payload.data(), bytes))
          return false;
        (number == chunk_pb::kKeysFieldNumber     ? out.keys
         : number == chunk_pb::kValuesFieldNumber ? out.values
                                                  : out.removed_keys)
          .push_back(bytes);
        continue;
      default:
        break;
    }
    if (type == wfl::WIRETYPE_END_GROUP || !wfl::SkipField(&in, tag))
      return false;
  }
  // ReadTag returns 0 at the end and on a malformed tag; only the end is good.
  return in.ConsumedEntireMessage()
         && in.CurrentPosition() == static_cast<int>(payload.size())
         && out.keys.size() == out.values.size();
}

void for_each_state_change(const std::vector<std::string>& chunks, state_change_visitor& v) {
  state_chunk_view c;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (!parse_state_chunk(chunks[i], c))
      throw storage_corruption("sluice: state checkpoint chunk " + std::to_string(i)
                               + " of a restore is not a StateCheckpointChunk");
    for (std::size_t j = 0; j < c.keys.size(); ++j)
      v.upsert(c.keys[j], c.values[j]);
    for (auto k : c.removed_keys)
      v.remove(k);
  }
}

state_entries state_from_chunks(const std::vector<std::string>& chunks) {
  struct fold final : state_change_visitor {
    state_changes changes;
    void upsert(std::string_view k, std::string_view v) override {
      changes.upsert(std::string{k}, std::string{v});
    }
    void remove(std::string_view k) override { changes.remove(std::string{k}); }
  } f;
  f.changes.entries.reserve(first_checkpoint_size_hint(chunks));
  for_each_state_change(chunks, f);
  return apply_in_order(std::move(f.changes));
}

std::size_t first_checkpoint_size_hint(const std::vector<std::string>& chunks) {
  state_chunk_view c;
  if (chunks.empty() || !parse_state_chunk(chunks.front(), c))
    return 0;
  return c.keys.size() * std::max<std::size_t>(c.chunk_count, 1);
}

} // namespace sluice
