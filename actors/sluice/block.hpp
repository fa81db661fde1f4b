// Blocks: the unit in which received records travel from a receiver to the
// batches (Spark's blocks; one block becomes one partition).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "sluice/detail/erased.hpp"

namespace sluice::detail {

struct block {
  int32_t stream = 0;
  int64_t id = 0;
  int64_t created_ms = 0;
  int64_t records = 0;
  erased data;          ///< std::vector<T> of the receiver's record type
  bool queued = false;  ///< cut from the block queue (release() once stored)
};

/// The receiver side of block generation: a bounded buffer that a receiver's
/// own thread stores into. Implemented per record type by the runtime.
class block_source {
 public:
  virtual ~block_source() = default;
  /// Cuts everything stored since the last cut into a block. Returns
  /// nullopt when nothing was stored or, unless `force`, when the block
  /// queue is full (then the producer blocks until release()).
  virtual std::optional<block> cut(bool force = false) = 0;
  /// A cut block was stored by the block manager: frees its queue slot.
  virtual void release() = 0;
  /// `blocks` stored blocks holding `records` records were processed (their
  /// batch completed) and dropped: frees room in the buffering bounds.
  virtual void processed(int64_t blocks, int64_t records) = 0;
  /// Encodes a block's records with their codec, for the write-ahead log.
  virtual std::vector<std::string> encode(const erased& data) const = 0;
  /// Decodes records written by encode() (WAL replay after a restart).
  virtual erased decode(const std::vector<std::string>& records) const = 0;
  /// Block ids continue after `id` (ids already in the WAL).
  virtual void continue_after(int64_t id) = 0;
};

/// The blocks allocated to one batch of one receiver stream.
struct allocation {
  int64_t t = 0;
  parts data;  ///< one partition per block, in arrival order
  int64_t records = 0;
};

} // namespace sluice::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::detail::block)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::detail::allocation)
