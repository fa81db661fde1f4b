// Choosing what a restarted program recovers from (get_or_create): the newest
// metadata checkpoint whose metadata and state rows both verify.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/checkpoint_store.hpp"
#include "sluice/graph.hpp"

namespace sluice::detail {

/// Where a recovered run continues.
struct recovery_point {
  /// The batch the state is restored as of; batches after it run (again).
  int64_t from = 0;
  /// The checkpointed run's zero time, when recorded.
  std::optional<int64_t> zero;
  /// Source id -> position, from the chosen metadata checkpoint.
  std::vector<std::pair<std::string, std::string>> positions;
  /// What was wrong with newer checkpoints that were passed over; empty when
  /// the newest one was used.
  std::vector<std::string> passed_over;
  /// The chosen metadata checkpoint's batch time.
  int64_t metadata_time = 0;
};

/// Returns the recovery point of `store` for the program whose graph is `g`
/// (batch interval `batch`), or nothing when the store holds no checkpoint at
/// all (never written). Contract:
/// - Metadata checkpoints are tried newest first. One is used only when its
///   row verifies and every state checkpoint it needs (for every checkpointed
///   node and partition, the newest at or before it, with the deltas and the
///   full snapshot below) verifies too; `from` is the oldest of those state
///   times and of the batches still pending at that checkpoint.
/// - Throws `illegal_state` when the newest usable checkpoint was written by a
///   program with another graph (naming the first difference).
/// - Throws `storage_error` when checkpoints exist but none is usable, saying
///   what is wrong with each, and when SQLite cannot read the tables.
std::optional<recovery_point> choose_recovery_point(checkpoint_store& store, const graph& g,
                                                    duration batch, const std::string& dir);

/// Moves `<dir>/sluice.db` and its `-wal` and `-shm` files aside, to
/// `sluice.db.damaged-<ms since epoch>...`; returns the new database path.
/// Throws `storage_error` when they cannot be moved.
std::string set_aside_damaged(const std::string& dir);

} // namespace sluice::detail
