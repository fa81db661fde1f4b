// The received-block write-ahead log: blocks and block-to-batch allocations in
// the SQLite database of a checkpoint directory (DESIGN.md "Persistence";
// tables and bytes in FORMAT.md "The database file").
#pragma once

#include "sluice/sqlite_db.hpp"
#include "sluice/error.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

/// The database format this build writes and the newest it reads
/// (`meta.format_version`). Version 2 (FORMAT.md "Checkpoint tables"): a
/// metadata checkpoint overwrites the oldest kept row, whose order the
/// `written` column keeps; `checkpoint_store` upgrades a version 1 database.
inline constexpr std::int64_t database_format_version = 2;

/// The file name of the database inside a checkpoint directory.
inline constexpr std::string_view database_file_name = "sluice.db";

/// One logged block.
struct wal_block {
  std::int32_t stream_id = 0;
  std::int64_t block_id = 0;
  /// When the block was cut, ms since the Unix epoch.
  std::int64_t created_ms = 0;
  /// The records as codec bytes, in arrival order.
  std::vector<std::string> records;

  friend bool operator==(const wal_block&, const wal_block&) = default;
};

/// One logged allocation: the blocks of batch `batch_time_ms`.
struct wal_allocation {
  std::int64_t batch_time_ms = 0;
  /// (stream_id, block_id) pairs, in allocation order.
  std::vector<std::pair<std::int32_t, std::int64_t>> blocks;

  friend bool operator==(const wal_allocation&, const wal_allocation&) = default;
};

/// A row that a tolerant read skipped because it failed its checks.
struct wal_corrupt_row {
  /// "wal_blocks" or "wal_allocations".
  std::string table;
  std::int64_t row_id = 0;
  /// As `wal_corruption::defect()`.
  std::string defect;
  /// The full `wal_corruption` message, for reports.
  std::string message;
};

/// The received-block WAL of one checkpoint directory. Every write returns
/// only after its transaction committed with `synchronous=FULL`: a block
/// whose `append_block` returned survives a crash of the process or the host.
/// All members are thread-safe (serialized by a mutex); one instance per
/// directory per process. Errors throw `storage_error` (`wal_corruption` for
/// a record that fails its checks).
class receiver_wal {
 public:
  // -- member types -------------------------------------------------------------

  struct options {
    /// Durability of a commit. Default: `full`, which the WAL's promise needs;
    /// `normal` only survives process crashes (for tests and benchmarks).
    sqlite_sync synchronous = sqlite_sync::full;

    /// `delete_before` compacts (see `compact`) on every n-th call. Default: 16.
    std::size_t compact_every = 16;

    /// Pages of SQLite's write-ahead file after which a commit on this
    /// connection copies them into the database (a checkpoint; see
    /// `sqlite_db::options::wal_autocheckpoint_pages`); 0: SQLite's 1000.
    /// The connection that appends blocks sets more, so that the connections
    /// committing every batch (allocations, checkpoints) usually checkpoint,
    /// on their own threads, instead of the thread that appends blocks.
    int autocheckpoint_pages = 0;
  };

  // -- constructors, destructors, and assignment operators -------------------

  /// Opens (creating them if missing) `checkpoint_dir` and its database
  /// `checkpoint_dir/sluice.db`, and creates the WAL tables. Throws
  /// `storage_error` when the directory or database cannot be created, and
  /// when the database has a `format_version` newer than
  /// `database_format_version` (the message names both).
  static std::unique_ptr<receiver_wal> open(const std::string& checkpoint_dir);

  static std::unique_ptr<receiver_wal> open(const std::string& checkpoint_dir, options opts);

  ~receiver_wal();

  receiver_wal(const receiver_wal&) = delete;

  receiver_wal& operator=(const receiver_wal&) = delete;

  // -- writing ------------------------------------------------------------------

  /// Logs one block as one row and returns once committed. Appending a
  /// (stream_id, block_id) again replaces the earlier row, so a retried append
  /// is idempotent. Hits fault point `wal.append` first: `fail_write` makes it
  /// throw `storage_error` ("injected write failure ...") without writing,
  /// `drop` makes it return without writing (a lost write), `throw`, `delay`
  /// and `crash` act as everywhere.
  /// @param records codec bytes of the block's records.
  void append_block(std::int32_t stream_id, std::int64_t block_id, std::int64_t created_ms,
                    const std::vector<std::string>& records);

  /// Called with each record's codec bytes, in order.
  using record_visitor = std::function<void(std::string_view)>;
  /// Gives a block's records to the visitor it is called with (once).
  using record_producer = std::function<void(const record_visitor&)>;

  /// As above, with the records given one by one by `records`, which may
  /// reuse one buffer for all of them: a block costs no string per record.
  /// An exception from `records` leaves nothing written.
  void append_block_from(std::int32_t stream_id, std::int64_t block_id, std::int64_t created_ms,
                         const record_producer& records);

  /// Logs `blocks` in one transaction, so they cost one sync instead of one
  /// each, and returns once committed: all of them or, on error, none. One
  /// hit of fault point `wal.append` covers them all, as for `append_block`.
  void append_blocks(const std::vector<wal_block>& blocks);

  /// Logs the blocks allocated to batch `batch_time_ms` and returns once
  /// committed. Logging a batch time again replaces its allocation (a
  /// recovered driver allocates again). The blocks need not be in the log.
  void log_allocation(std::int64_t batch_time_ms,
                      const std::vector<std::pair<std::int32_t, std::int64_t>>& blocks);

  /// Deletes the allocations of batches before `batch_time_ms` and every block
  /// allocated only to them. Blocks never allocated, and blocks also allocated
  /// to a batch at or after `batch_time_ms`, stay. Compacts on every
  /// `options::compact_every`-th call.
  void delete_before(std::int64_t batch_time_ms);

  /// Returns the batch time of the oldest metadata checkpoint kept in the
  /// same database (`checkpoint_store`), or nothing when there is none.
  std::optional<std::int64_t> oldest_metadata_time();

  /// Gives free pages back to the file system and truncates SQLite's `-wal`
  /// file (`PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE)`), so
  /// the files shrink to what the live rows need.
  void compact();

  // -- reading ------------------------------------------------------------------

  /// Returns the blocks of `stream_id` with `block_id >= from_block_id`, by
  /// increasing block id. Every row's frame and message is checked. A bad row
  /// throws `wal_corruption` naming the table, the row and the defect, unless
  /// `skip_corrupt` is not null: then bad rows are skipped and appended there.
  std::vector<wal_block> read_blocks(std::int32_t stream_id, std::int64_t from_block_id = 0,
                                     std::vector<wal_corrupt_row>* skip_corrupt = nullptr);

  /// Returns every logged allocation, by increasing batch time; bad rows are
  /// handled as by `read_blocks`.
  std::vector<wal_allocation>
  read_allocations(std::vector<wal_corrupt_row>* skip_corrupt = nullptr);

  // -- observers ----------------------------------------------------------------

  /// Returns the number of logged blocks.
  std::size_t block_count();

  /// Returns the number of logged allocations.
  std::size_t allocation_count();

  /// Returns the database file's path.
  const std::string& path() const noexcept {
    return db_->path();
  }

 private:
  receiver_wal(std::unique_ptr<sqlite_db> db, options opts);

  void create_schema();

  /// Hits fault point `wal.append` for writing `count` blocks from
  /// `stream_id`/`block_id`. Returns false when the write is to be dropped;
  /// throws `storage_error` when it is to fail.
  bool hit_append_point(std::int32_t stream_id, std::int64_t block_id, std::size_t count);

  options opts_;
  std::mutex mtx_;
  /// Guarded by `mtx_`, as are the statements and the counter below.
  std::unique_ptr<sqlite_db> db_;
  std::unique_ptr<sqlite_stmt> insert_block_;
  std::size_t deletes_ = 0;
};

} // namespace sluice
