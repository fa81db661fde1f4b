#include "metadata_encoder.hpp"

#include "sluice/frame.hpp"
#include "sluice/pb/records.pb.h"

namespace sluice::detail {

std::string metadata_encoder::encode(const metadata_checkpoint& m) {
  if (!have_static_ || m.graph_fingerprint != fingerprint_ || m.conf != conf_) {
    pb::CheckpointMetadata fixed;
    fixed.set_graph_fingerprint(m.graph_fingerprint);
    for (const auto& [key, value] : m.conf) {
      auto* entry = fixed.add_conf();
      entry->set_key(key);
      entry->set_value(value);
    }
    static_bytes_ = fixed.SerializeAsString();
    fingerprint_ = m.graph_fingerprint;
    conf_ = m.conf;
    have_static_ = true;
  }
  // Protobuf writes fields in increasing number: 1, then the kept 2 and 3,
  // then 4 to 7; a message's serializations concatenated parse as one.
  pb::CheckpointMetadata head;
  head.set_batch_time_ms(m.batch_time_ms);
  std::string out = head.SerializeAsString();
  out += static_bytes_;
  pb::CheckpointMetadata tail;
  for (auto t : m.pending_batches)
    tail.add_pending_batches(t);
  for (const auto& [source, offsets] : m.source_offsets) {
    auto* entry = tail.add_source_offsets();
    entry->set_key(source);
    entry->set_value(offsets);
  }
  tail.set_checkpoint_interval_hint(m.checkpoint_interval_hint);
  if (m.zero_time_ms)
    tail.set_zero_time_ms(*m.zero_time_ms);
  tail.AppendToString(&out);
  return frame(out);
}

} // namespace sluice::detail
