// Blocks: the unit in which received records travel from a receiver to the
// batches (Spark's blocks; one block becomes one partition).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/detail/erased.hpp"
#include "sluice/transport.hpp"

namespace sluice::detail {

/// A block in the receiving process (it travels between actors as block_msg).
struct block {
  int32_t stream = 0;
  int64_t id = 0;
  int64_t created_ms = 0;
  int64_t records = 0;
  erased data;          ///< std::vector<T> of the receiver's record type
  bool queued = false;  ///< cut from the block queue (release() once stored)
};

/// Returns `b` as a message for `to` (its records as a handle or bytes).
inline block_msg pack(block b, transport& net, const caf::actor& to) {
  return {b.stream, b.id, b.created_ms, b.records, net.pack(std::move(b.data), to), b.queued};
}

/// Returns the block a block_msg carries (see transport::unpack for errors).
inline block unpack(block_msg& m, transport& net) {
  return {m.stream, m.id, m.created_ms, m.records, net.unpack(m.data), m.queued};
}

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

} // namespace sluice::detail
