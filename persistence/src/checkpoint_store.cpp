// The checkpoint store on SQLite: framed Protobuf rows for metadata and
// chunked state checkpoints (full snapshots and deltas).
#include "sluice/checkpoint_store.hpp"

#include "metadata_encoder.hpp"
#include "sluice/state_chunk.hpp"

#include "sluice/fault_injector.hpp"
#include "sluice/frame.hpp"
#include "sluice/pb/records.pb.h"
#include "sluice/receiver_wal.hpp"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace sluice {

namespace {

constexpr std::string_view metadata_table = "checkpoint_metadata";
constexpr std::string_view state_table = "checkpoint_state";

// Checkpoint tables of database format version 2 (FORMAT.md "Checkpoint
// tables"). `written` comes last, with a default, as version 1's upgrade
// adds it: both give the same table.
constexpr std::string_view schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS checkpoint_metadata (
  row_id        INTEGER PRIMARY KEY,
  batch_time_ms INTEGER NOT NULL,
  payload       BLOB NOT NULL,
  written       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS checkpoint_state (
  row_id        INTEGER PRIMARY KEY,
  operator_id   INTEGER NOT NULL,
  partition     INTEGER NOT NULL,
  batch_time_ms INTEGER NOT NULL,
  full          INTEGER NOT NULL,
  chunk_index   INTEGER NOT NULL,
  chunk_count   INTEGER NOT NULL,
  payload       BLOB NOT NULL,
  UNIQUE (operator_id, partition, batch_time_ms, chunk_index)
);
)sql";

/// Per-entry overhead in a chunk's payload, beyond the key and value bytes
/// (tags and length varints), for sizing chunks.
constexpr std::size_t entry_overhead = 8;

/// Returns the payload of a row's frame, or throws `wal_corruption`.
std::string_view checked_payload(const std::string& file, std::string_view table,
                                 std::int64_t row_id, std::string_view bytes) {
  std::string error;
  frame_defect defect{};
  auto payload = unframe(bytes, &error, &defect);
  if (!payload)
    throw wal_corruption(file, std::string{table}, row_id, std::string{to_string(defect)},
                         error);
  return *payload;
}

} // namespace

// -- opening ----------------------------------------------------------------------

checkpoint_store::checkpoint_store(std::unique_ptr<sqlite_db> db, options opts)
  : opts_(opts), db_(std::move(db)), encoder_(std::make_unique<detail::metadata_encoder>()) {
  if (opts_.keep_metadata == 0)
    opts_.keep_metadata = 1;
  if (opts_.state_chunk_bytes == 0)
    opts_.state_chunk_bytes = 1;
  create_schema();
}

checkpoint_store::~checkpoint_store() = default;

std::unique_ptr<checkpoint_store> checkpoint_store::open(const std::string& checkpoint_dir) {
  return open(checkpoint_dir, options{});
}

std::unique_ptr<checkpoint_store> checkpoint_store::open(const std::string& checkpoint_dir,
                                                         options opts) {
  auto db = open_checkpoint_database(checkpoint_dir, opts.synchronous, opts.page_size);
  return std::unique_ptr<checkpoint_store>{new checkpoint_store(std::move(db), opts)};
}

void checkpoint_store::create_schema() {
  if (ensure_schema(*db_, database_format_version, schema_sql) < 2)
    upgrade_from_version_1();
}

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

void checkpoint_store::hit_write_point(const std::string& what) {
  auto point = fault_points::checkpoint_write;
  auto& faults = fault_injector::global();
  if (!faults.armed())
    return;
  auto kind = fault_injector::perform(point, faults.check(point));
  if (kind == fault_kind::fail_write)
    throw storage_error("sluice: injected write failure at " + std::string{point} + ": " + what
                        + " not written to " + path());
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
  auto payload = checked_payload(path(), metadata_table, row_id, bytes);
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

std::size_t checkpoint_store::data_row_count() {
  std::lock_guard guard{mtx_};
  std::size_t n = 0;
  for (const char* table : {"checkpoint_state", "wal_blocks", "wal_allocations"}) {
    auto exists = db_->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                               "AND name = ?1");
    exists.bind_text(1, table);
    bool found = exists.step() && exists.column_int64(0) > 0;
    exists.reset();
    if (found)
      n += static_cast<std::size_t>(
        db_->query_int64("SELECT count(*) FROM " + std::string{table}).value_or(0));
  }
  return n;
}

std::size_t checkpoint_store::metadata_count() {
  std::lock_guard guard{mtx_};
  return static_cast<std::size_t>(
    db_->query_int64("SELECT count(*) FROM checkpoint_metadata").value_or(0));
}

// -- state checkpoints ----------------------------------------------------------------

void checkpoint_store::write_state(std::int32_t operator_id, std::int32_t partition,
                                   std::int64_t batch_time_ms, bool full,
                                   const std::vector<std::pair<std::string, std::string>>& upserts,
                                   const std::vector<std::string>& removed_keys) {
  hit_write_point(std::string{full ? "full" : "delta"} + " state checkpoint of operator "
                  + std::to_string(operator_id) + " partition " + std::to_string(partition)
                  + " at " + std::to_string(batch_time_ms));
  // Chunk boundaries: [begin, end) ranges over upserts, then over removals.
  struct chunk_range {
    std::size_t up_begin, up_end, rm_begin, rm_end;
  };
  std::vector<chunk_range> ranges;
  {
    chunk_range cur{0, 0, 0, 0};
    std::size_t bytes = 0;
    auto cut = [&] {
      ranges.push_back(cur);
      cur = {cur.up_end, cur.up_end, cur.rm_end, cur.rm_end};
      bytes = 0;
    };
    for (const auto& [key, value] : upserts) {
      auto n = key.size() + value.size() + entry_overhead;
      if (bytes > 0 && bytes + n > opts_.state_chunk_bytes)
        cut();
      bytes += n;
      ++cur.up_end;
    }
    for (const auto& key : removed_keys) {
      auto n = key.size() + entry_overhead / 2;
      if (bytes > 0 && bytes + n > opts_.state_chunk_bytes)
        cut();
      bytes += n;
      ++cur.rm_end;
    }
    if (ranges.empty() || bytes > 0)
      ranges.push_back(cur);
  }
  auto count = static_cast<std::uint32_t>(ranges.size());
  std::lock_guard guard{mtx_};
  db_->verify_files_unchanged();
  sqlite_transaction tx{*db_};
  db_->cached("DELETE FROM checkpoint_state "
              "WHERE operator_id = ?1 AND partition = ?2 AND batch_time_ms = ?3")
    .bind_int64(1, operator_id)
    .bind_int64(2, partition)
    .bind_int64(3, batch_time_ms)
    .run();
  auto& insert = db_->cached(
    "INSERT INTO checkpoint_state (operator_id, partition, batch_time_ms, full, chunk_index, "
    "chunk_count, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert.bind_int64(1, operator_id)
    .bind_int64(2, partition)
    .bind_int64(3, batch_time_ms)
    .bind_int64(4, full ? 1 : 0)
    .bind_int64(6, count);
  pb::StateCheckpointChunk msg;
  std::string bytes;
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto& r = ranges[i];
    msg.Clear();
    msg.set_operator_id(operator_id);
    msg.set_partition(partition);
    msg.set_batch_time_ms(batch_time_ms);
    msg.set_full(full);
    msg.set_chunk_index(i);
    msg.set_chunk_count(count);
    auto n = static_cast<int>(r.up_end - r.up_begin);
    msg.mutable_keys()->Reserve(n);
    msg.mutable_values()->Reserve(n);
    for (auto j = r.up_begin; j < r.up_end; ++j) {
      msg.add_keys(upserts[j].first);
      msg.add_values(upserts[j].second);
    }
    for (auto j = r.rm_begin; j < r.rm_end; ++j)
      msg.add_removed_keys(removed_keys[j]);
    bytes.clear();
    append_frame(bytes, msg.SerializeAsString());
    insert.bind_int64(5, i).bind_blob(7, bytes).run();
  }
  tx.commit();
}

std::optional<std::int64_t> checkpoint_store::latest_state_time(std::int32_t operator_id,
                                                                std::int32_t partition,
                                                                std::int64_t up_to_batch_ms) {
  std::lock_guard guard{mtx_};
  auto& stmt = db_->cached("SELECT max(batch_time_ms) FROM checkpoint_state "
                           "WHERE operator_id = ?1 AND partition = ?2 AND batch_time_ms <= ?3");
  stmt.bind_int64(1, operator_id).bind_int64(2, partition).bind_int64(3, up_to_batch_ms);
  std::optional<std::int64_t> result;
  if (stmt.step() && !stmt.column_is_null(0))
    result = stmt.column_int64(0);
  stmt.reset();
  return result;
}

std::int64_t checkpoint_store::first_row_time(std::int32_t operator_id, std::int32_t partition,
                                              std::int64_t up_to_batch_ms) {
  auto& first = db_->cached("SELECT max(batch_time_ms) FROM checkpoint_state "
                            "WHERE operator_id = ?1 AND partition = ?2 AND full = 1 "
                            "AND batch_time_ms <= ?3");
  first.bind_int64(1, operator_id).bind_int64(2, partition).bind_int64(3, up_to_batch_ms);
  std::int64_t from = INT64_MIN;
  if (first.step() && !first.column_is_null(0))
    from = first.column_int64(0);
  first.reset();
  return from;
}

std::vector<checkpoint_store::state_row>
checkpoint_store::state_rows(std::int32_t operator_id, std::int32_t partition,
                             std::int64_t up_to_batch_ms) {
  std::lock_guard guard{mtx_};
  auto from = first_row_time(operator_id, partition, up_to_batch_ms);
  auto& stmt = db_->cached(
    "SELECT row_id, batch_time_ms, full, chunk_index, chunk_count, payload "
    "FROM checkpoint_state WHERE operator_id = ?1 AND partition = ?2 "
    "AND batch_time_ms >= ?3 AND batch_time_ms <= ?4 ORDER BY batch_time_ms, chunk_index");
  stmt.bind_int64(1, operator_id)
    .bind_int64(2, partition)
    .bind_int64(3, from)
    .bind_int64(4, up_to_batch_ms);
  std::vector<state_row> rows;
  while (stmt.step())
    rows.push_back({stmt.column_int64(0), stmt.column_int64(1), stmt.column_int64(2) != 0,
                    stmt.column_int64(3), stmt.column_int64(4),
                    std::string{stmt.column_blob(5)}});
  return rows;
}

std::vector<std::string> checkpoint_store::read_state_chunks(std::int32_t operator_id,
                                                            std::int32_t partition,
                                                            std::int64_t up_to_batch_ms,
                                                            state_chain* chain) {
  // Only copying the rows out holds the lock: checking them does not, so
  // partitions restore in parallel.
  auto rows = state_rows(operator_id, partition, up_to_batch_ms);
  const auto& file = db_->path();
  const std::string table{state_table};
  // The checkpoint being read: its time and the next chunk index expected.
  std::optional<std::int64_t> cur_time;
  std::int64_t next_chunk = 0;
  std::int64_t cur_count = 0;
  std::int64_t last_row = 0;
  auto check_complete = [&] {
    if (cur_time && next_chunk != cur_count)
      throw wal_corruption(file, table, last_row, "missing_chunk",
                           "the state checkpoint of operator " + std::to_string(operator_id)
                             + " partition " + std::to_string(partition) + " at "
                             + std::to_string(*cur_time) + " has " + std::to_string(next_chunk)
                             + " of its " + std::to_string(cur_count) + " chunks");
  };
  state_chain read;
  std::vector<std::string> chunks;
  chunks.reserve(rows.size());
  state_chunk_view msg;
  for (auto& row : rows) {
    auto row_id = row.row_id;
    auto batch_time = row.batch_time_ms;
    bool full = row.full;
    auto chunk_index = row.chunk_index;
    auto chunk_count = row.chunk_count;
    if (!cur_time || *cur_time != batch_time) {
      check_complete();
      cur_time = batch_time;
      next_chunk = 0;
      cur_count = chunk_count;
      ++read.checkpoints;
      if (full)
        read.full_ms = batch_time;
    }
    auto payload = checked_payload(file, state_table, row_id, row.payload);
    if (!parse_state_chunk(payload, msg))
      throw wal_corruption(file, table, row_id, "bad_message",
                           "the checksummed payload is not a StateCheckpointChunk");
    if (msg.operator_id != operator_id || msg.partition != partition
        || msg.batch_time_ms != batch_time || msg.full != full
        || msg.chunk_index != chunk_index || msg.chunk_count != chunk_count)
      throw wal_corruption(file, table, row_id, "key_mismatch",
                           "the row's columns say operator " + std::to_string(operator_id)
                             + " partition " + std::to_string(partition) + " time "
                             + std::to_string(batch_time) + " chunk "
                             + std::to_string(chunk_index) + "/" + std::to_string(chunk_count)
                             + ", its payload operator " + std::to_string(msg.operator_id)
                             + " partition " + std::to_string(msg.partition) + " time "
                             + std::to_string(msg.batch_time_ms) + " chunk "
                             + std::to_string(msg.chunk_index) + "/"
                             + std::to_string(msg.chunk_count));
    if (chunk_index != next_chunk || chunk_count != cur_count)
      throw wal_corruption(file, table, row_id, "missing_chunk",
                           "expected chunk " + std::to_string(next_chunk) + "/"
                             + std::to_string(cur_count) + " of the state checkpoint at "
                             + std::to_string(batch_time) + ", found "
                             + std::to_string(chunk_index) + "/"
                             + std::to_string(chunk_count));
    ++next_chunk;
    last_row = row_id;
    // The payload is the frame's middle: cut the frame down to it in place
    // rather than copying it into fresh memory.
    auto at = static_cast<std::size_t>(payload.data() - row.payload.data());
    auto n = payload.size();
    auto& bytes = row.payload;
    bytes.resize(at + n);
    bytes.erase(0, at);
    chunks.push_back(std::move(bytes));
  }
  check_complete();
  if (chain)
    *chain = read;
  return chunks;
}

state_entries checkpoint_store::read_state(std::int32_t operator_id, std::int32_t partition,
                                          std::int64_t up_to_batch_ms, state_chain* chain) {
  return state_from_chunks(read_state_chunks(operator_id, partition, up_to_batch_ms, chain));
}

std::string checkpoint_store::verify_state(std::int32_t operator_id, std::int32_t partition,
                                          std::int64_t up_to_batch_ms) {
  std::lock_guard guard{mtx_};
  auto from = first_row_time(operator_id, partition, up_to_batch_ms);
  auto& stmt = db_->cached(
    "SELECT row_id, batch_time_ms, chunk_index, chunk_count, payload "
    "FROM checkpoint_state WHERE operator_id = ?1 AND partition = ?2 "
    "AND batch_time_ms >= ?3 AND batch_time_ms <= ?4 ORDER BY batch_time_ms, chunk_index");
  stmt.bind_int64(1, operator_id)
    .bind_int64(2, partition)
    .bind_int64(3, from)
    .bind_int64(4, up_to_batch_ms);
  // Returns from the middle of the rows too: the cached statement must not
  // keep its read transaction open past this call.
  struct reset_on_exit {
    sqlite_stmt& s;
    ~reset_on_exit() { s.reset(); }
  } reset{stmt};
  auto what = [&](std::int64_t t) {
    return "the state checkpoint of operator " + std::to_string(operator_id) + " partition "
           + std::to_string(partition) + " at " + std::to_string(t);
  };
  std::optional<std::int64_t> cur_time;
  std::int64_t next_chunk = 0, cur_count = 0, last_row = 0;
  auto incomplete = [&]() -> std::string {
    if (cur_time && next_chunk != cur_count)
      return "table " + std::string{state_table} + " row " + std::to_string(last_row) + ": "
             + what(*cur_time) + " has " + std::to_string(next_chunk) + " of its "
             + std::to_string(cur_count) + " chunks";
    return {};
  };
  while (stmt.step()) {
    auto row_id = stmt.column_int64(0);
    auto batch_time = stmt.column_int64(1);
    auto chunk_index = stmt.column_int64(2);
    auto chunk_count = stmt.column_int64(3);
    if (!cur_time || *cur_time != batch_time) {
      if (auto e = incomplete(); !e.empty())
        return e;
      cur_time = batch_time;
      next_chunk = 0;
      cur_count = chunk_count;
    }
    std::string error;
    frame_defect defect{};
    if (!unframe(stmt.column_blob(4), &error, &defect))
      return "table " + std::string{state_table} + " row " + std::to_string(row_id) + " ("
             + what(batch_time) + "): " + std::string{to_string(defect)} + ": " + error;
    if (chunk_index != next_chunk || chunk_count != cur_count)
      return "table " + std::string{state_table} + " row " + std::to_string(row_id) + ": "
             + what(batch_time) + " lacks chunk " + std::to_string(next_chunk) + "/"
             + std::to_string(cur_count);
    ++next_chunk;
    last_row = row_id;
  }
  return incomplete();
}

std::vector<std::int32_t> checkpoint_store::state_partitions(std::int32_t operator_id) {
  std::lock_guard guard{mtx_};
  auto& stmt = db_->cached("SELECT DISTINCT partition FROM checkpoint_state "
                           "WHERE operator_id = ?1 ORDER BY partition");
  stmt.bind_int64(1, operator_id);
  std::vector<std::int32_t> result;
  while (stmt.step())
    result.push_back(static_cast<std::int32_t>(stmt.column_int64(0)));
  return result;
}

void checkpoint_store::delete_state_before(std::int32_t operator_id, std::int32_t partition,
                                           std::int64_t batch_time_ms) {
  std::lock_guard guard{mtx_};
  if (auto oldest = db_->query_int64("SELECT min(batch_time_ms) FROM checkpoint_metadata"))
    batch_time_ms = std::min(batch_time_ms, *oldest);
  sqlite_transaction tx{*db_};
  db_->cached("DELETE FROM checkpoint_state WHERE operator_id = ?1 AND partition = ?2 "
               "AND batch_time_ms < (SELECT max(batch_time_ms) FROM checkpoint_state "
               "WHERE operator_id = ?1 AND partition = ?2 AND full = 1 "
               "AND batch_time_ms <= ?3)")
    .bind_int64(1, operator_id)
    .bind_int64(2, partition)
    .bind_int64(3, batch_time_ms)
    .run();
  tx.commit();
}

std::size_t checkpoint_store::state_row_count(std::int32_t operator_id, std::int32_t partition) {
  std::lock_guard guard{mtx_};
  auto stmt = db_->prepare(
    "SELECT count(*) FROM checkpoint_state WHERE operator_id = ?1 AND partition = ?2");
  stmt.bind_int64(1, operator_id).bind_int64(2, partition);
  std::size_t n = 0;
  if (stmt.step())
    n = static_cast<std::size_t>(stmt.column_int64(0));
  stmt.reset();
  return n;
}

void checkpoint_store::compact() {
  std::lock_guard guard{mtx_};
  db_->incremental_vacuum();
  db_->checkpoint_truncate();
}

} // namespace sluice
