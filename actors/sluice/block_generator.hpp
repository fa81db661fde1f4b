// block_generator: cuts a receiver's stored records into blocks every
// sluice.streaming.blockInterval and hands them to the block manager.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "sluice/block.hpp"
#include "sluice/messages.hpp"

namespace sluice::detail {

struct block_generator_state {
  std::shared_ptr<block_source> source;
  caf::actor manager;
  std::shared_ptr<transport> net;
  std::chrono::milliseconds interval{200};
  static inline const char* name = "sluice.block_generator";
};

/// Handles `(tick_atom)` (its own timer: one cut per interval; an interval
/// without data makes no block) and `(flush_atom) -> bool` (cuts what is left
/// and replies once the manager stored it). Send an exit to stop the timer.
caf::behavior block_generator(caf::stateful_actor<block_generator_state>* self,
                              std::shared_ptr<block_source> source, caf::actor manager,
                              std::chrono::milliseconds interval, std::shared_ptr<transport> net);

} // namespace sluice::detail
