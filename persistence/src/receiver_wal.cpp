// The received-block WAL on SQLite: framed Protobuf rows, allocation-driven deletes.
#include "sluice/receiver_wal.hpp"

#include "checked_payload.hpp"

#include "sluice/fault_injector.hpp"
#include "sluice/crc32c.hpp"
#include "sluice/frame.hpp"
#include "sluice/pb/records.pb.h"

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace sluice {

namespace {

constexpr std::string_view blocks_table = "wal_blocks";
constexpr std::string_view allocations_table = "wal_allocations";

// Schema of database format version 1 (FORMAT.md "The database file").
constexpr std::string_view schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS wal_blocks (
  row_id     INTEGER PRIMARY KEY,
  stream_id  INTEGER NOT NULL,
  block_id   INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  payload    BLOB NOT NULL,
  UNIQUE (stream_id, block_id)
);
CREATE TABLE IF NOT EXISTS wal_allocations (
  row_id        INTEGER PRIMARY KEY,
  batch_time_ms INTEGER NOT NULL UNIQUE,
  payload       BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS wal_allocated_blocks (
  batch_time_ms INTEGER NOT NULL,
  stream_id     INTEGER NOT NULL,
  block_id      INTEGER NOT NULL,
  PRIMARY KEY (batch_time_ms, stream_id, block_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS wal_allocated_blocks_by_block
  ON wal_allocated_blocks (stream_id, block_id, batch_time_ms);
)sql";

/// Runs `decode_row` for the current row: returns its result, or, when it
/// throws `wal_corruption` and `skipped` is not null, records the row there and
/// returns nothing.
template <class F>
auto decode_or_skip(std::vector<wal_corrupt_row>* skipped, F decode_row)
  -> std::optional<decltype(decode_row())> {
  try {
    return decode_row();
  } catch (const wal_corruption& e) {
    if (skipped == nullptr)
      throw;
    skipped->push_back({e.table(), e.row_id(), e.defect(), e.what()});
    return std::nullopt;
  }
}

} // namespace

// -- opening ----------------------------------------------------------------------

receiver_wal::receiver_wal(std::unique_ptr<sqlite_db> db, options opts)
  : opts_(opts), db_(std::move(db)) {
  create_schema();
  insert_block_ = std::make_unique<sqlite_stmt>(
    db_->prepare("INSERT OR REPLACE INTO wal_blocks (stream_id, block_id, created_ms, payload) "
                 "VALUES (?1, ?2, ?3, ?4)"));
}

receiver_wal::~receiver_wal() = default;

std::unique_ptr<receiver_wal> receiver_wal::open(const std::string& checkpoint_dir) {
  return open(checkpoint_dir, options{});
}

std::unique_ptr<receiver_wal> receiver_wal::open(const std::string& checkpoint_dir,
                                                 options opts) {
  auto db = open_checkpoint_database(checkpoint_dir, opts.synchronous,
                                     default_checkpoint_page_size,
                                     opts.autocheckpoint_pages);
  return std::unique_ptr<receiver_wal>{new receiver_wal(std::move(db), opts)};
}

void receiver_wal::create_schema() { ensure_schema(*db_, database_format_version, schema_sql); }

// -- writing ------------------------------------------------------------------------

namespace {

void put_varint(std::string& out, std::uint64_t x) {
  char buf[10];
  std::size_t n = 0;
  while (x >= 0x80) {
    buf[n++] = static_cast<char>(static_cast<std::uint8_t>(x) | 0x80);
    x >>= 7;
  }
  buf[n++] = static_cast<char>(x);
  out.append(buf, n);
}

/// Writes `x` little-endian into the 4 bytes at `at`.
void store_u32(char* at, std::uint32_t x) {
  for (int i = 0; i < 4; ++i)
    at[i] = static_cast<char>(static_cast<std::uint8_t>(x >> (8 * i)));
}

// Protobuf tags (field number << 3 | wire type) of WalBlock's fields.
constexpr char tag_stream_id = 0x08;  // 1, varint
constexpr char tag_block_id = 0x10;   // 2, varint
constexpr char tag_created_ms = 0x18; // 3, varint
constexpr char tag_records = 0x22;    // 4, length-delimited

/// Appends the framed WalBlock of a block to `out`, its records as
/// `records` gives them. Writes the bytes that
/// `pb::WalBlock::SerializeAsString` produces (fields in number order, proto3
/// zero scalars omitted, negative int32 sign-extended to 10 bytes) straight
/// into the frame: one copy of each record, and the frame's size and CRC
/// patched in at the end. On error `out` is as before.
void append_block_row(std::string& out, std::int32_t stream_id, std::int64_t block_id,
                      std::int64_t created_ms, const receiver_wal::record_producer& records) {
  // int32 and int64 fields encode negative values as 64-bit two's complement.
  auto sid = static_cast<std::uint64_t>(static_cast<std::int64_t>(stream_id));
  auto bid = static_cast<std::uint64_t>(block_id);
  auto cms = static_cast<std::uint64_t>(created_ms);
  auto start = out.size();
  out.push_back(static_cast<char>(frame_magic | frame_version));
  out.append(8, '\0'); // payload size and CRC-32C, patched below
  auto payload_start = out.size();
  if (sid != 0) {
    out.push_back(tag_stream_id);
    put_varint(out, sid);
  }
  if (bid != 0) {
    out.push_back(tag_block_id);
    put_varint(out, bid);
  }
  if (cms != 0) {
    out.push_back(tag_created_ms);
    put_varint(out, cms);
  }
  try {
    records([&](std::string_view record) {
      out.push_back(tag_records);
      put_varint(out, record.size());
      out.append(record);
    });
  } catch (...) {
    out.resize(start);
    throw;
  }
  auto size = out.size() - payload_start;
  if (size > max_frame_payload) {
    out.resize(start);
    throw std::length_error{"sluice::frame: payload of " + std::to_string(size)
                            + " bytes exceeds the maximum of "
                            + std::to_string(max_frame_payload)};
  }
  store_u32(out.data() + start + 1, static_cast<std::uint32_t>(size));
  store_u32(out.data() + start + 5, crc32c(std::string_view{out}.substr(payload_start)));
}

/// The records of a vector, for append_block_row.
receiver_wal::record_producer each_of(const std::vector<std::string>& records) {
  return [&records](const receiver_wal::record_visitor& visit) {
    for (const auto& r : records)
      visit(r);
  };
}

/// A per-thread buffer for block rows: keeps its capacity between appends so
/// that a MB-sized row costs neither a fresh allocation nor its page faults.
std::string& row_buffer() {
  // Give very large buffers back rather than pinning them to the thread.
  constexpr std::size_t keep_capacity = std::size_t{64} << 20;
  thread_local std::string buf;
  if (buf.capacity() > keep_capacity)
    std::string{}.swap(buf);
  buf.clear();
  return buf;
}

/// Runs `stmt`, then drops its bindings, which may point to a buffer that is
/// about to change (`bind_blob_static`), even when the step throws.
void run_and_unbind(sqlite_stmt& stmt) {
  struct unbind {
    sqlite_stmt& s;
    ~unbind() { s.clear_bindings(); }
  } guard{stmt};
  stmt.run();
}

} // namespace

bool receiver_wal::hit_append_point(std::int32_t stream_id, std::int64_t block_id,
                                    std::size_t count) {
  auto point = fault_points::wal_append;
  auto& faults = fault_injector::global();
  if (!faults.armed())
    return true;
  auto kind = fault_injector::perform(point, faults.check(point));
  if (kind == fault_kind::fail_write)
    throw storage_error("sluice: injected write failure at " + std::string{point} + ": "
                        + (count == 1 ? "block " : std::to_string(count) + " blocks from ")
                        + std::to_string(stream_id) + "/" + std::to_string(block_id)
                        + " not written to " + path());
  return kind != fault_kind::drop;
}

void receiver_wal::append_block(std::int32_t stream_id, std::int64_t block_id,
                                std::int64_t created_ms, const std::vector<std::string>& records) {
  append_block_from(stream_id, block_id, created_ms, each_of(records));
}

void receiver_wal::append_block_from(std::int32_t stream_id, std::int64_t block_id,
                                     std::int64_t created_ms, const record_producer& records) {
  if (!hit_append_point(stream_id, block_id, 1))
    return;
  auto& bytes = row_buffer();
  append_block_row(bytes, stream_id, block_id, created_ms, records);
  std::lock_guard guard{mtx_};
  sqlite_transaction tx{*db_};
  insert_block_->bind_int64(1, stream_id)
    .bind_int64(2, block_id)
    .bind_int64(3, created_ms)
    .bind_blob_static(4, bytes);
  run_and_unbind(*insert_block_);
  tx.commit();
}

void receiver_wal::append_blocks(const std::vector<wal_block>& blocks) {
  if (blocks.empty()
      || !hit_append_point(blocks.front().stream_id, blocks.front().block_id, blocks.size()))
    return;
  // All rows in one buffer; ends[i] is where row i ends.
  auto& bytes = row_buffer();
  std::vector<std::size_t> ends;
  ends.reserve(blocks.size());
  for (const auto& x : blocks) {
    append_block_row(bytes, x.stream_id, x.block_id, x.created_ms, each_of(x.records));
    ends.push_back(bytes.size());
  }
  std::string_view all{bytes};
  std::lock_guard guard{mtx_};
  sqlite_transaction tx{*db_};
  std::size_t begin = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    insert_block_->bind_int64(1, blocks[i].stream_id)
      .bind_int64(2, blocks[i].block_id)
      .bind_int64(3, blocks[i].created_ms)
      .bind_blob_static(4, all.substr(begin, ends[i] - begin));
    run_and_unbind(*insert_block_);
    begin = ends[i];
  }
  tx.commit();
}

void receiver_wal::log_allocation(
  std::int64_t batch_time_ms, const std::vector<std::pair<std::int32_t, std::int64_t>>& blocks) {
  pb::WalAllocation msg;
  msg.set_batch_time_ms(batch_time_ms);
  for (auto [stream_id, block_id] : blocks) {
    auto* ref = msg.add_blocks();
    ref->set_stream_id(stream_id);
    ref->set_block_id(block_id);
  }
  auto bytes = frame(msg.SerializeAsString());
  std::lock_guard guard{mtx_};
  sqlite_transaction tx{*db_};
  db_->cached("DELETE FROM wal_allocated_blocks WHERE batch_time_ms = ?1")
    .bind_int64(1, batch_time_ms)
    .run();
  db_->cached("INSERT OR REPLACE INTO wal_allocations (batch_time_ms, payload) VALUES (?1, ?2)")
    .bind_int64(1, batch_time_ms)
    .bind_blob(2, bytes)
    .run();
  auto& ref = db_->cached("INSERT OR IGNORE INTO wal_allocated_blocks "
                          "(batch_time_ms, stream_id, block_id) VALUES (?1, ?2, ?3)");
  ref.bind_int64(1, batch_time_ms);
  for (auto [stream_id, block_id] : blocks)
    ref.bind_int64(2, stream_id).bind_int64(3, block_id).run();
  tx.commit();
}

void receiver_wal::delete_before(std::int64_t batch_time_ms) {
  std::lock_guard guard{mtx_};
  {
    sqlite_transaction tx{*db_};
    // Blocks allocated before t and to no batch at or after t.
    db_->prepare(R"sql(
      DELETE FROM wal_blocks WHERE (stream_id, block_id) IN (
        SELECT a.stream_id, a.block_id FROM wal_allocated_blocks a
        WHERE a.batch_time_ms < ?1 AND NOT EXISTS (
          SELECT 1 FROM wal_allocated_blocks b
          WHERE b.stream_id = a.stream_id AND b.block_id = a.block_id
            AND b.batch_time_ms >= ?1)))sql")
      .bind_int64(1, batch_time_ms)
      .run();
    db_->prepare("DELETE FROM wal_allocated_blocks WHERE batch_time_ms < ?1")
      .bind_int64(1, batch_time_ms)
      .run();
    db_->prepare("DELETE FROM wal_allocations WHERE batch_time_ms < ?1")
      .bind_int64(1, batch_time_ms)
      .run();
    tx.commit();
  }
  if (opts_.compact_every > 0 && ++deletes_ % opts_.compact_every == 0) {
    db_->incremental_vacuum();
    db_->checkpoint_truncate();
  }
}

std::optional<std::int64_t> receiver_wal::oldest_metadata_time() {
  std::lock_guard guard{mtx_};
  if (db_->query_int64("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'checkpoint_metadata'")
        .value_or(0)
      == 0)
    return std::nullopt;
  return db_->query_int64("SELECT min(batch_time_ms) FROM checkpoint_metadata");
}

void receiver_wal::compact() {
  std::lock_guard guard{mtx_};
  db_->incremental_vacuum();
  db_->checkpoint_truncate();
}

// -- reading ------------------------------------------------------------------------

std::vector<wal_block> receiver_wal::read_blocks(std::int32_t stream_id,
                                                 std::int64_t from_block_id,
                                                 std::vector<wal_corrupt_row>* skip_corrupt) {
  std::lock_guard guard{mtx_};
  auto stmt = db_->prepare("SELECT row_id, stream_id, block_id, created_ms, payload "
                           "FROM wal_blocks WHERE stream_id = ?1 AND block_id >= ?2 "
                           "ORDER BY block_id");
  stmt.bind_int64(1, stream_id).bind_int64(2, from_block_id);
  std::vector<wal_block> result;
  while (stmt.step()) {
    auto row_id = stmt.column_int64(0);
    auto block = decode_or_skip(skip_corrupt, [&] {
      auto payload = detail::checked_payload(path(), blocks_table, row_id, stmt.column_blob(4));
      pb::WalBlock msg;
      if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
        throw wal_corruption(path(), std::string{blocks_table}, row_id, "bad_message",
                             "the checksummed payload is not a WalBlock");
      if (msg.stream_id() != stmt.column_int64(1) || msg.block_id() != stmt.column_int64(2)
          || msg.created_ms() != stmt.column_int64(3))
        throw wal_corruption(path(), std::string{blocks_table}, row_id, "key_mismatch",
                             "the row's columns say block " + std::to_string(stmt.column_int64(1))
                               + "/" + std::to_string(stmt.column_int64(2)) + ", its payload "
                               + std::to_string(msg.stream_id()) + "/"
                               + std::to_string(msg.block_id()));
      wal_block x{msg.stream_id(), msg.block_id(), msg.created_ms(), {}};
      x.records.reserve(static_cast<std::size_t>(msg.records_size()));
      for (auto& record : *msg.mutable_records())
        x.records.push_back(std::move(record));
      return x;
    });
    if (block)
      result.push_back(std::move(*block));
  }
  return result;
}

std::vector<wal_allocation>
receiver_wal::read_allocations(std::vector<wal_corrupt_row>* skip_corrupt) {
  std::lock_guard guard{mtx_};
  auto stmt = db_->prepare("SELECT row_id, batch_time_ms, payload FROM wal_allocations "
                           "ORDER BY batch_time_ms");
  std::vector<wal_allocation> result;
  while (stmt.step()) {
    auto row_id = stmt.column_int64(0);
    auto alloc = decode_or_skip(skip_corrupt, [&] {
      auto payload = detail::checked_payload(path(), allocations_table, row_id, stmt.column_blob(2));
      pb::WalAllocation msg;
      if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
        throw wal_corruption(path(), std::string{allocations_table}, row_id, "bad_message",
                             "the checksummed payload is not a WalAllocation");
      if (msg.batch_time_ms() != stmt.column_int64(1))
        throw wal_corruption(path(), std::string{allocations_table}, row_id, "key_mismatch",
                             "the row's column says batch time "
                               + std::to_string(stmt.column_int64(1)) + ", its payload "
                               + std::to_string(msg.batch_time_ms()));
      wal_allocation x{msg.batch_time_ms(), {}};
      x.blocks.reserve(static_cast<std::size_t>(msg.blocks_size()));
      for (const auto& ref : msg.blocks())
        x.blocks.emplace_back(ref.stream_id(), ref.block_id());
      return x;
    });
    if (alloc)
      result.push_back(std::move(*alloc));
  }
  return result;
}

// -- observers ------------------------------------------------------------------------

std::size_t receiver_wal::block_count() {
  std::lock_guard guard{mtx_};
  return static_cast<std::size_t>(db_->query_int64("SELECT count(*) FROM wal_blocks").value_or(0));
}

std::size_t receiver_wal::allocation_count() {
  std::lock_guard guard{mtx_};
  return static_cast<std::size_t>(
    db_->query_int64("SELECT count(*) FROM wal_allocations").value_or(0));
}

} // namespace sluice
