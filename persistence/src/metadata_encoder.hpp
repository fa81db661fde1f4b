// metadata_encoder: a metadata checkpoint's row payload (FORMAT.md
// "CheckpointMetadata"), written after every batch and twice per batch.
#pragma once

#include <map>
#include <string>

#include "sluice/checkpoint_store.hpp"

namespace sluice::detail {

/// Encodes metadata checkpoints as framed CheckpointMetadata messages. The
/// graph fingerprint and the conf (fields 2 and 3) are the same in every
/// checkpoint of a run: their bytes are kept from the last encoding and
/// reused while they stay equal, so a write copies neither into a message.
/// The output is byte for byte the message's own serialization (fields in
/// increasing number). Not thread-safe.
class metadata_encoder {
 public:
  std::string encode(const metadata_checkpoint& m);

 private:
  bool have_static_ = false;
  std::string fingerprint_;
  std::map<std::string, std::string> conf_;
  std::string static_bytes_;  ///< fields 2 and 3 of fingerprint_ and conf_, serialized
};

} // namespace sluice::detail
