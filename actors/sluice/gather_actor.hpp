// gather_actor: runs one gather or output node over whole batches.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "sluice/checkpoint_writer.hpp"
#include "sluice/messages.hpp"
#include "sluice/pending_batches.hpp"
#include "sluice/state_checkpointer.hpp"
#include "sluice/wiring.hpp"

namespace sluice::detail {

struct gather_state {
  wiring_ptr w;
  int gather = 0;
  std::unique_ptr<gather_op> op;
  struct pending {
    std::vector<int> received;
    std::vector<bool> none;
    std::vector<parts> data;
    void reset(size_t ports) {
      received.assign(ports, 0);
      none.assign(ports, false);
      data.resize(ports);
      for (auto& d : data)
        d.clear();
    }
  };
  pending_batches<pending> batches;
  bool restored = false;           ///< a recovered run restored the op's history
  /// A recovered run: the checkpoint chunks of the history to restore
  /// (until the first batch),
  /// or why they could not be read.
  std::optional<std::vector<std::string>> restored_chunks;
  std::optional<writer_failure> restore_failure;
  state_checkpointer checkpointer; ///< writes the history of windows
  static inline const char* name = "sluice.gather";
};

/// Handles `batch_msg`. Once batch t is complete on every port it calls the
/// node's gather_op, passes the result on when the node is valid at t (into
/// the node's stage, or to the gathers reading it: gather_plan::consumers),
/// and reports `gather_done` (with the output job, if any).
/// Nodes that checkpoint their history (windows) write it at their
/// checkpoint times before reporting, and restore it in a recovered run.
caf::behavior gather_actor(caf::stateful_actor<gather_state>* self, wiring_ptr w, int gather);

} // namespace sluice::detail
