// What a receiver stream and the engine's receiver pipeline know of each
// other, without CAF: the stream (a graph node, templated on its record
// type) builds a typed buffer and an adapter of the user's receiver, and
// hands both to the engine at start (`receiver_launch`); the engine's
// pipeline (actors/sluice/receiver_pipeline.hpp) owns every actor and
// thread, and links back into the buffer (`receiver_link`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/detail/erased.hpp"
#include "sluice/time.hpp"

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

/// The engine side of a running receiver, as its buffer calls it from the
/// receiver's own threads. Implemented by the receiver pipeline.
class receiver_link {
 public:
  virtual ~receiver_link() = default;
  /// Reliable store: returns once the block manager stored `b` (in the WAL
  /// when it is on); throws sluice::error when it could not.
  virtual void store_block(block b) = 0;
  virtual void restart(std::string why, duration delay) = 0;
  virtual void stop(std::string why) = 0;
  virtual void report_error(std::string why) = 0;
};

/// The receiver side of block generation: a bounded buffer that a receiver's
/// own thread stores into. Implemented per record type by the runtime.
class block_source {
 public:
  virtual ~block_source() = default;
  /// Called once by the pipeline before the receiver starts.
  virtual void attach(std::shared_ptr<receiver_link> link) = 0;
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

/// The receiver as its supervisor sees it (the runtime adapts receiver<T>).
class supervised_receiver {
 public:
  virtual ~supervised_receiver() = default;
  virtual void start() = 0;  ///< calls on_start(); may throw
  virtual void stop() = 0;   ///< calls on_stop(); may throw
  virtual void update_rate(int64_t records_per_s) = 0;
};

/// What a receiver stream hands the engine at start (source_env::launch_receiver).
struct receiver_launch {
  int32_t stream = 0;   ///< the stream's node id
  std::string name;     ///< for logs and listeners, e.g. "socket_text_stream 0"
  std::shared_ptr<block_source> buffer;
  std::shared_ptr<supervised_receiver> receiver;
};

} // namespace sluice::detail
