// The checkpoint store's metadata checkpoints: one framed CheckpointMetadata
// a row of checkpoint_metadata, the newest K kept, each new one in the row
// of the oldest kept (FORMAT.md "Checkpoint tables"), and the upgrade of a
// version 1 database's table.
#include "sluice/checkpoint_store.hpp"

#include "checked_payload.hpp"
#include "metadata_encoder.hpp"

#include "sluice/pb/records.pb.h"
#include "sluice/receiver_wal.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace sluice {

namespace {

constexpr std::string_view metadata_table = "checkpoint_metadata";

} // namespace

void checkpoint_store::upgrade_from_version_1() {
  // Version 1 appended a row per metadata checkpoint and deleted the oldest
  // beyond the kept ones through an index on (batch_time_ms, row_id), so
  // its row ids are the order of writing. The receiver WAL's tables did not
  // change.
  sqlite_transaction tx{*db_};
  if (db_->query_int64("SELECT value FROM meta WHERE key = 'format_version'").value_or(0) >= 2)
    return;  // another connection upgraded it meanwhile
  if (db_->query_int64("SELECT count(*) FROM pragma_table_info('checkpoint_metadata') "
                       "WHERE name = 'written'")
        .value_or(0)
      == 0) {
    db_->exec("ALTER TABLE checkpoint_metadata ADD COLUMN written INTEGER NOT NULL DEFAULT 0");
    db_->exec("UPDATE checkpoint_metadata SET written = row_id");
  }
  db_->exec("DROP INDEX IF EXISTS checkpoint_metadata_by_time");
  db_->prepare("UPDATE meta SET value = ?1 WHERE key = 'format_version'")
    .bind_int64(1, database_format_version)
    .run();
  tx.commit();
}

// -- metadata checkpoints ------------------------------------------------------------

void checkpoint_store::write_metadata(const metadata_checkpoint& m) {
  if (auto failed = write_metadata_group({&m}).front())
    std::rethrow_exception(failed);
}

std::vector<std::exception_ptr>
checkpoint_store::write_metadata_group(const std::vector<const metadata_checkpoint*>& group) {
  std::vector<std::exception_ptr> failed(group.size());
  std::vector<std::string> rows(group.size());
  size_t writing = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    try {
      hit_write_point("metadata checkpoint " + std::to_string(group[i]->batch_time_ms));
      ++writing;
    } catch (...) {
      failed[i] = std::current_exception();
    }
  }
  if (writing == 0)
    return failed;
  try {
    std::lock_guard guard{mtx_};
    for (size_t i = 0; i < group.size(); ++i)
      if (!failed[i])
        rows[i] = encoder_->encode(*group[i]);
    db_->verify_files_unchanged();
    sqlite_transaction tx{*db_};
    auto& version_stmt = db_->cached("PRAGMA data_version");
    version_stmt.step();
    auto version = version_stmt.column_int64(0);
    version_stmt.reset();
    if (slots_version_ != version)
      load_slots();
    // Keeps the newest keep_metadata rows, as appending each and deleting the
    // oldest beyond them would, but the new checkpoint takes over the oldest
    // one's row: no page is allocated or freed, no index kept (an append and
    // a delete a commit changed four B-tree pages and their parents, and the
    // metadata checkpoints are two commits a batch).
    auto slots = slots_;
    auto older = [](const metadata_slot& a, const metadata_slot& b) {
      return std::pair{a.batch_time_ms, a.written} < std::pair{b.batch_time_ms, b.written};
    };
    std::int64_t written = 0;
    std::int64_t last_row = 0;
    for (auto& slot : slots) {
      written = std::max(written, slot.written);
      last_row = std::max(last_row, slot.row_id);
    }
    for (size_t i = 0; i < group.size(); ++i) {
      if (failed[i])
        continue;
      slots.push_back({group[i]->batch_time_ms, ++written, 0});  // row 0: not placed yet
      std::vector<std::int64_t> freed;  // rows of the checkpoints no longer kept
      bool kept = true;
      while (slots.size() > opts_.keep_metadata) {
        auto oldest = std::min_element(slots.begin(), slots.end(), older);
        if (oldest->row_id == 0)
          kept = false;  // older than every kept one: as if written and deleted at once
        else
          freed.push_back(oldest->row_id);
        slots.erase(oldest);
      }
      if (kept) {
        auto placed = std::find_if(slots.begin(), slots.end(),
                                   [](const metadata_slot& s) { return s.row_id == 0; });
        if (freed.empty()) {
          placed->row_id = ++last_row;
        } else {
          placed->row_id = freed.back();
          freed.pop_back();
        }
        db_->cached("INSERT OR REPLACE INTO checkpoint_metadata (row_id, batch_time_ms, payload, "
                    "written) VALUES (?1, ?2, ?3, ?4)")
          .bind_int64(1, placed->row_id)
          .bind_int64(2, group[i]->batch_time_ms)
          .bind_blob(3, rows[i])
          .bind_int64(4, placed->written)
          .run();
      }
      for (auto row : freed)
        db_->cached("DELETE FROM checkpoint_metadata WHERE row_id = ?1").bind_int64(1, row).run();
    }
    tx.commit();
    slots_ = std::move(slots);
    slots_version_ = version;  // this connection's commits leave it as it was
  } catch (...) {
    slots_version_.reset();  // read them again: a failed commit may have written or not
    for (auto& f : failed)
      if (!f)
        f = std::current_exception();
  }
  return failed;
}

void checkpoint_store::load_slots() {
  slots_.clear();
  auto& stmt = db_->cached("SELECT row_id, batch_time_ms, written FROM checkpoint_metadata");
  while (stmt.step())
    slots_.push_back({stmt.column_int64(1), stmt.column_int64(2), stmt.column_int64(0)});
  stmt.reset();
}

metadata_checkpoint checkpoint_store::decode_metadata(std::int64_t row_id,
                                                      std::int64_t batch_time,
                                                      std::string_view bytes) {
  auto payload = detail::checked_payload(path(), metadata_table, row_id, bytes);
  pb::CheckpointMetadata msg;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    throw wal_corruption(path(), std::string{metadata_table}, row_id, "bad_message",
                         "the checksummed payload is not a CheckpointMetadata");
  if (msg.batch_time_ms() != batch_time)
    throw wal_corruption(path(), std::string{metadata_table}, row_id, "key_mismatch",
                         "the row's column says batch time " + std::to_string(batch_time)
                           + ", its payload " + std::to_string(msg.batch_time_ms()));
  metadata_checkpoint m;
  m.batch_time_ms = msg.batch_time_ms();
  m.graph_fingerprint = msg.graph_fingerprint();
  for (const auto& entry : msg.conf())
    m.conf.insert_or_assign(entry.key(), entry.value());
  m.pending_batches.assign(msg.pending_batches().begin(), msg.pending_batches().end());
  m.source_offsets.reserve(static_cast<std::size_t>(msg.source_offsets_size()));
  for (const auto& entry : msg.source_offsets())
    m.source_offsets.emplace_back(entry.key(), entry.value());
  m.checkpoint_interval_hint = msg.checkpoint_interval_hint();
  if (msg.has_zero_time_ms())
    m.zero_time_ms = msg.zero_time_ms();
  return m;
}

std::vector<checkpoint_store::metadata_generation> checkpoint_store::metadata_generations() {
  std::vector<metadata_generation> result;
  visit_metadata_generations([&](metadata_generation&& g) {
    result.push_back(std::move(g));
    return true;
  });
  return result;
}

void checkpoint_store::visit_metadata_generations(
  const std::function<bool(metadata_generation&&)>& visit) {
  struct row {
    std::int64_t row_id, batch_time_ms;
    std::string payload;
  };
  std::vector<row> rows;  // K rows of ~1 KB: copied out, decoded without the lock
  {
    std::lock_guard guard{mtx_};
    auto& stmt = db_->cached("SELECT row_id, batch_time_ms, payload FROM checkpoint_metadata "
                             "ORDER BY batch_time_ms DESC, written DESC");
    while (stmt.step())
      rows.push_back({stmt.column_int64(0), stmt.column_int64(1),
                      std::string{stmt.column_blob(2)}});
    stmt.reset();
  }
  for (auto& r : rows) {
    metadata_generation g;
    g.batch_time_ms = r.batch_time_ms;
    try {
      g.checkpoint = decode_metadata(r.row_id, r.batch_time_ms, r.payload);
    } catch (const wal_corruption& e) {
      g.defect = e.what();
    }
    if (!visit(std::move(g)))
      return;
  }
}

std::optional<metadata_checkpoint>
checkpoint_store::latest_metadata(std::vector<std::string>* skipped) {
  std::optional<metadata_checkpoint> latest;
  visit_metadata_generations([&](metadata_generation&& g) {
    if (g.checkpoint) {
      latest = std::move(g.checkpoint);
      return false;
    }
    if (skipped != nullptr)
      skipped->push_back("skipped metadata checkpoint of batch time "
                         + std::to_string(g.batch_time_ms) + ": " + g.defect);
    return true;
  });
  return latest;
}

std::size_t checkpoint_store::metadata_count() {
  std::lock_guard guard{mtx_};
  return static_cast<std::size_t>(
    db_->query_int64("SELECT count(*) FROM checkpoint_metadata").value_or(0));
}

} // namespace sluice
