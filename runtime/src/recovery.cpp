#include "recovery.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <variant>

#include "sluice/error.hpp"
#include "sluice/sqlite_db.hpp"

namespace sluice::detail {

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

/// The (node, partition) pairs that checkpoint state: every reducer
/// partition, and every partition that has rows (gathers use 0).
std::vector<std::pair<int32_t, int32_t>> checkpointed_partitions(checkpoint_store& store,
                                                                 const graph& g) {
  std::vector<std::pair<int32_t, int32_t>> out;
  for (auto& n : g.nodes()) {
    if (!n->has_checkpointed_state())
      continue;
    auto id = static_cast<int32_t>(n->id());
    auto stored = store.state_partitions(id);
    for (int32_t p = 0; p < n->partitions(); ++p)
      if (std::find(stored.begin(), stored.end(), p) == stored.end())
        stored.push_back(p);
    for (auto p : stored)
      out.emplace_back(id, p);
  }
  return out;
}

/// The batch the state is restored as of when recovering from `m`, or what
/// keeps `m` from being used.
std::variant<int64_t, std::string>
state_time_for(checkpoint_store& store, const std::vector<std::pair<int32_t, int32_t>>& parts,
               const metadata_checkpoint& m, duration batch) {
  // The batches pending at the checkpoint run again: a batch's generation
  // checkpoint lists it, and with concurrentJobs > 1 an earlier batch may
  // still have been running.
  int64_t from = m.batch_time_ms;
  for (auto t : m.pending_batches)
    if (t <= m.batch_time_ms)
      from = std::min(from, t - batch.count());
  // The state is restored as of its newest checkpoint at or before `from`,
  // so the batches after that checkpoint run again: `from` moves back to it.
  // Partitions of one node checkpoint at the same batches, but a crash can
  // fall between their writes, and nodes may checkpoint at different
  // intervals: repeated until every partition has a checkpoint at `from`
  // (or none before it).
  for (bool moved = true; moved;) {
    moved = false;
    for (auto& [id, p] : parts)
      if (auto ts = store.latest_state_time(id, p, from); ts && *ts < from) {
        from = *ts;
        moved = true;
      }
  }
  for (auto& [id, p] : parts)
    if (auto defect = store.verify_state(id, p, from); !defect.empty())
      return defect;
  return from;
}

} // namespace

std::optional<recovery_point> choose_recovery_point(checkpoint_store& store, const graph& g,
                                                    duration batch, const std::string& dir) {
  std::optional<std::vector<std::pair<int32_t, int32_t>>> parts;  // read at the first good one
  auto built = g.describe();
  recovery_point point;
  bool any = false;
  bool found = false;
  // Newest first; a generation is decoded only when the newer ones cannot be used.
  store.visit_metadata_generations([&](checkpoint_store::metadata_generation&& gen) {
    any = true;
    auto at = "the metadata checkpoint of batch time " + std::to_string(gen.batch_time_ms);
    if (!gen.checkpoint) {
      point.passed_over.push_back(at + " is damaged: " + gen.defect);
      return true;
    }
    auto& m = *gen.checkpoint;
    auto saved = split_lines(m.graph_fingerprint);
    if (auto diff = describe_difference(saved, built))
      throw illegal_state("cannot recover from the checkpoint in " + dir
                          + ": the program builds a different graph (" + *diff + ")");
    if (auto diff = state_type_difference(saved, built))
      throw illegal_state("cannot recover from the checkpoint in " + dir + ": " + *diff
                          + "; its checkpointed state holds values of the old type (restore "
                            "the old type, or start over with an empty checkpoint directory)");
    if (!parts)
      parts = checkpointed_partitions(store, g);
    auto from = state_time_for(store, *parts, m, batch);
    if (auto* defect = std::get_if<std::string>(&from)) {
      point.passed_over.push_back(at + " needs a damaged state checkpoint: " + *defect);
      return true;
    }
    point.from = std::get<int64_t>(from);
    point.zero = m.zero_time_ms;
    point.positions = m.source_offsets;
    point.metadata_time = m.batch_time_ms;
    found = true;
    return false;
  });
  if (found)
    return point;
  if (!any) {
    // Nothing but an empty database: a program that never got to its first
    // checkpoint. Data rows without metadata mean the metadata was lost.
    if (auto n = store.data_row_count(); n > 0)
      throw storage_corruption("sluice: the checkpoint database " + store.path() + " has " + std::to_string(n)
                          + " state and write-ahead log rows but no metadata checkpoint");
    return std::nullopt;
  }
  std::string why;
  for (auto& p : point.passed_over)
    why += (why.empty() ? "" : "; ") + p;
  throw storage_corruption("sluice: no checkpoint in " + store.path() + " can be recovered: " + why);
}

std::string set_aside_damaged(const std::string& dir) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  return set_aside_checkpoint_database(dir, "sluice.db.damaged-" + std::to_string(ms));
}

} // namespace sluice::detail
