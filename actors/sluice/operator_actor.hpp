// operator_actor: runs one stage (a fused chain of narrow operators behind a
// source, gather or shuffle) for one partition slot. Long-lived: one per
// (stage, slot), for the life of the context.
#pragma once

#include <deque>

#include <caf/all.hpp>

#include "sluice/checkpoint_writer.hpp"
#include "sluice/messages.hpp"
#include "sluice/pending_batches.hpp"
#include "sluice/state_checkpointer.hpp"
#include "sluice/wiring.hpp"

namespace sluice::detail {

struct operator_state {
  wiring_ptr w;
  int stage = 0;
  int slot = 0;
  /// A batch_msg with its records unpacked.
  struct input {
    int32_t port = 0;
    int32_t from = 0;
    bool none = false;
    parts data;
  };
  struct pending {
    std::vector<int> received;  // per port
    std::vector<input> msgs;
    void reset(const std::vector<int>& expected) {
      received.assign(expected.size(), 0);
      msgs.clear();
      size_t n = 0;
      for (auto e : expected)
        n += static_cast<size_t>(e);
      msgs.reserve(n);
    }
  };
  pending_batches<pending> batches;
  std::unique_ptr<bucket_writer_base> writer;  ///< reused when the stage feeds one shuffle
  std::unique_ptr<slot_state> state;           ///< a stateful head's partition state
  state_checkpointer checkpointer;             ///< checkpoints `state` at checkpoint times
  /// A recovered run: the checkpoint chunks to restore `state` from (until
  /// it exists), or why they could not be read.
  std::optional<std::vector<std::string>> restored;
  state_chain restored_chain;  ///< what `restored` was read from
  std::optional<writer_failure> restore_failure;
  /// Waiting for the checkpoint writer (a restore, a state checkpoint):
  /// batches whose inputs all arrived wait in `ready`, in that order. Not
  /// CAF's await, which would hold back exit messages too, so an operator
  /// whose answer never comes (its worker cut off from the driver) could
  /// never be ended.
  bool waiting = false;
  std::deque<std::pair<int64_t, std::vector<input>>> ready;
  static inline const char* name = "sluice.operator";
};

/// Handles `batch_msg`. When every expected message of batch t arrived it
/// runs the chain and sends the result on; user exceptions become
/// `batch_failed` to the scheduler. `release_initial_atom` (from the job
/// scheduler, initial_release.hpp) drops its node's initial state.
caf::behavior operator_actor(caf::stateful_actor<operator_state>* self, wiring_ptr w, int stage,
                             int slot);

} // namespace sluice::detail
