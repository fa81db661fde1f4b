// The checkpoint store on SQLite: opening, and the chunked state
// checkpoints (full snapshots and deltas); the metadata checkpoints are in
// checkpoint_metadata.cpp.
#include "sluice/checkpoint_store.hpp"

#include "checked_payload.hpp"
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

// -- state checkpoints ----------------------------------------------------------------

void checkpoint_store::write_state(std::int32_t operator_id, std::int32_t partition,
                                   std::int64_t batch_time_ms, bool full,
                                   const state_rows& upserts,
                                   const std::vector<std::string>& removed_keys) {
  hit_write_point(std::string{full ? "full" : "delta"} + " state checkpoint of operator "
                  + std::to_string(operator_id) + " partition " + std::to_string(partition)
                  + " at " + std::to_string(batch_time_ms));
  // Chunk boundaries: a chunk's first upsert and its number of upserts, then
  // a [begin, end) range over the removals.
  struct chunk_range {
    state_rows::iterator up;
    std::size_t ups, rm_begin, rm_end;
  };
  std::vector<chunk_range> ranges;
  {
    chunk_range cur{upserts.begin(), 0, 0, 0};
    std::size_t bytes = 0;
    auto cut = [&](state_rows::iterator next) {
      ranges.push_back(cur);
      cur = {next, 0, cur.rm_end, cur.rm_end};
      bytes = 0;
    };
    for (auto it = upserts.begin(); it != upserts.end(); ++it) {
      auto [key, value] = *it;
      auto n = key.size() + value.size() + entry_overhead;
      if (bytes > 0 && bytes + n > opts_.state_chunk_bytes)
        cut(it);
      bytes += n;
      ++cur.ups;
    }
    for (const auto& key : removed_keys) {
      auto n = key.size() + entry_overhead / 2;
      if (bytes > 0 && bytes + n > opts_.state_chunk_bytes)
        cut(upserts.end());
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
    auto n = static_cast<int>(r.ups);
    msg.mutable_keys()->Reserve(n);
    msg.mutable_values()->Reserve(n);
    auto it = r.up;
    for (std::size_t j = 0; j < r.ups; ++j, ++it) {
      auto [key, value] = *it;
      msg.add_keys(key.data(), key.size());
      msg.add_values(value.data(), value.size());
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
checkpoint_store::stored_state_rows(std::int32_t operator_id, std::int32_t partition,
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
  auto rows = stored_state_rows(operator_id, partition, up_to_batch_ms);
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
    auto payload = detail::checked_payload(file, state_table, row_id, row.payload);
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
