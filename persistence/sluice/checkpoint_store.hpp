// The checkpoint store: metadata checkpoints and per-(operator, partition)
// state checkpoints in the SQLite database of a checkpoint directory, beside
// the receiver WAL (DESIGN.md "Persistence"; tables and bytes in FORMAT.md
// "Checkpoint tables"). Knows nothing of actors or of the engine's types: keys,
// values and source offsets are opaque bytes.
#pragma once

#include "sluice/sqlite_db.hpp"
#include "sluice/error.hpp"
#include "sluice/codec.hpp"
#include "sluice/state_rows.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

namespace detail {
class metadata_encoder;
} // namespace detail

/// One metadata (driver) checkpoint: what a restarted driver needs to resume
/// (SEMANTICS.md §5).
struct metadata_checkpoint {
  /// The batch time the checkpoint was taken at, ms since the Unix epoch.
  std::int64_t batch_time_ms = 0;
  /// Identifies the DStream graph; a restart with another graph must refuse the checkpoint.
  std::string graph_fingerprint;
  /// The job's configuration entries.
  std::map<std::string, std::string> conf;
  /// Batch times generated but not yet completed, to re-run after a restart.
  std::vector<std::int64_t> pending_batches;
  /// Per source id: opaque bytes (e.g. the file stream's remembered files).
  std::vector<std::pair<std::string, std::string>> source_offsets;
  /// The checkpoint interval in ms, or 0 when not set.
  std::int64_t checkpoint_interval_hint = 0;
  /// The run's zero time (Spark's zeroTime: the first batch is zero + batch
  /// interval), which windows and checkpoint intervals align to; absent in
  /// checkpoints of older writers.
  std::optional<std::int64_t> zero_time_ms;

  friend bool operator==(const metadata_checkpoint&, const metadata_checkpoint&) = default;
};

/// The checkpoints of one checkpoint directory, in `<dir>/sluice.db` (shared
/// with `receiver_wal`, in its own tables). Every write is one transaction
/// that returns once committed with `synchronous=FULL` (all of it or, on
/// error, none of it). All members are thread-safe (serialized by a mutex);
/// one instance per directory per process. Errors throw `storage_error`
/// (`wal_corruption` for a stored record that fails its checks).
class checkpoint_store {
 public:
  // -- member types -------------------------------------------------------------

  struct options {
    /// Durability of a commit. Default: `full`; `normal` only survives
    /// process crashes (for tests and benchmarks).
    sqlite_sync synchronous = sqlite_sync::full;

    /// How many metadata checkpoints to keep (the newest ones); at least 1.
    /// Default: 10, as Spark (`sluice.streaming.checkpoint.retained`), so
    /// damaged newer ones leave an older good one. State rows stay as long as
    /// the oldest kept metadata checkpoint needs them.
    std::size_t keep_metadata = 10;

    /// The payload size at which a state checkpoint starts a new row. Default: 1 MiB.
    std::size_t state_chunk_bytes = std::size_t{1} << 20;

    /// The page size of the database when this open creates it, a power of
    /// two from 512 to 65536 (`sluice.streaming.checkpoint.pageSize`);
    /// ignored for an existing one. Default: 64 KiB, so MB-sized state rows
    /// span 16 times fewer overflow pages than with SQLite's 4 KiB; small
    /// states commit faster with 4 KiB (the simulation's choice).
    int page_size = default_checkpoint_page_size;
  };

  // -- constructors, destructors, and assignment operators -------------------

  /// Opens (creating them if missing) `checkpoint_dir`, its database
  /// `checkpoint_dir/sluice.db` and the checkpoint tables. Throws
  /// `storage_error` when the directory or database cannot be created, and
  /// when the database has a `format_version` newer than
  /// `database_format_version` (the message names both).
  static std::unique_ptr<checkpoint_store> open(const std::string& checkpoint_dir);

  static std::unique_ptr<checkpoint_store> open(const std::string& checkpoint_dir,
                                                options opts);

  ~checkpoint_store();

  checkpoint_store(const checkpoint_store&) = delete;

  checkpoint_store& operator=(const checkpoint_store&) = delete;

  // -- metadata checkpoints -----------------------------------------------------

  /// Stores `m` and keeps the newest `options::keep_metadata` checkpoints
  /// (newest: greatest batch time, then latest written): while fewer are
  /// kept, as a new row; then over the oldest kept one's row. Hits fault point `checkpoint.write` first: `fail_write` throws
  /// `storage_error` ("injected write failure at checkpoint.write ...")
  /// without writing; `throw`, `delay` and `crash` act as everywhere.
  void write_metadata(const metadata_checkpoint& m);

  /// Writes each of `group` as write_metadata does, in order, in one
  /// transaction (one sync of the disk for all of them; the rows and the
  /// kept ones are those of writing them one by one). The fault point is hit
  /// once per checkpoint, in order; one it fails is not written and the
  /// others are. Returns, per checkpoint, null when it is stored or the
  /// exception that kept it from being stored (a failed commit: all of them).
  std::vector<std::exception_ptr>
  write_metadata_group(const std::vector<const metadata_checkpoint*>& group);

  /// Returns the newest metadata checkpoint that passes its checks, or nothing
  /// when there is none. Newer rows that fail them (torn or corrupt frame, bad
  /// message, key mismatch) are skipped; when `skipped` is not null a line per
  /// skipped row is appended there, naming the table, row, batch time and
  /// defect, so recovery can say that it fell back.
  std::optional<metadata_checkpoint> latest_metadata(std::vector<std::string>* skipped = nullptr);

  /// One stored metadata checkpoint as read back: its row's batch time and
  /// either the checkpoint or why it failed its checks.
  struct metadata_generation {
    std::int64_t batch_time_ms = 0;
    std::optional<metadata_checkpoint> checkpoint;
    /// Empty when `checkpoint` holds a value.
    std::string defect;
  };

  /// Returns every stored metadata checkpoint, newest first (greatest batch
  /// time, then latest written), each checked as `latest_metadata` does.
  /// Throws `storage_error` when SQLite cannot read the table at all (e.g. a
  /// damaged page: "database disk image is malformed").
  std::vector<metadata_generation> metadata_generations();

  /// Calls `visit` with the stored metadata checkpoints in the order of
  /// `metadata_generations`, each checked as it checks them, until `visit`
  /// returns false: only those visited are decoded (a recovery mostly needs
  /// the newest). `visit` may call this store (no lock is held meanwhile).
  void visit_metadata_generations(const std::function<bool(metadata_generation&&)>& visit);

  /// Returns the number of stored metadata rows.
  std::size_t metadata_count();

  /// Returns the number of rows in the state checkpoint and receiver WAL
  /// tables: more than zero means data was checkpointed.
  std::size_t data_row_count();

  // -- state checkpoints --------------------------------------------------------

  /// Writes the state checkpoint of (`operator_id`, `partition`) at
  /// `batch_time_ms`: a full snapshot (`full`: the state is exactly `upserts`,
  /// replacing everything before it) or a delta on top of the previous
  /// checkpoints (`upserts` inserted or replaced, then `removed_keys` erased).
  /// Keys and values are codec bytes. The entries are chunked into rows of at
  /// most about `options::state_chunk_bytes` payload, all written in one
  /// transaction; writing the same (operator, partition, time) again replaces
  /// that checkpoint. Hits fault point `checkpoint.write` first, as `write_metadata`.
  void write_state(std::int32_t operator_id, std::int32_t partition, std::int64_t batch_time_ms,
                   bool full, const state_rows& upserts,
                   const std::vector<std::string>& removed_keys);

  /// Returns the state of (`operator_id`, `partition`) as of its newest
  /// checkpoint at or before `up_to_batch_ms`: the newest full snapshot at or
  /// before it (or the empty state when there is none) with the following
  /// deltas applied in batch-time order. Empty when there is no checkpoint.
  /// Every row is checked; a bad row, or a checkpoint missing a chunk, throws
  /// `wal_corruption` naming the table and row. Holds the lock only to copy
  /// the rows out: calls for different partitions decode in parallel.
  /// When `chain` is given, it is set to what the state was read from, so a
  /// writer can go on with deltas after it.
  state_entries read_state(std::int32_t operator_id, std::int32_t partition,
                           std::int64_t up_to_batch_ms, state_chain* chain = nullptr);

  /// The rows read_state folds, checked as it checks them: each a
  /// StateCheckpointChunk payload (FORMAT.md), in the order their changes
  /// apply (`sluice/state_chunk.hpp` reads them). A stateful operator applies
  /// them to its table directly, without read_state's sorted copy.
  std::vector<std::string> read_state_chunks(std::int32_t operator_id, std::int32_t partition,
                                             std::int64_t up_to_batch_ms,
                                             state_chain* chain = nullptr);

  /// Returns the batch time of the newest state checkpoint of (`operator_id`,
  /// `partition`) at or before `up_to_batch_ms`, or nothing when there is none.
  std::optional<std::int64_t> latest_state_time(std::int32_t operator_id, std::int32_t partition,
                                                std::int64_t up_to_batch_ms);

  /// Checks, without decoding them, every row that `read_state(operator_id,
  /// partition, up_to_batch_ms)` would read: each frame's checksum and that
  /// each checkpoint has all its chunks. Returns what is wrong (naming the
  /// table, row and defect), or an empty string. Much cheaper than
  /// `read_state`, for choosing a checkpoint to recover from.
  std::string verify_state(std::int32_t operator_id, std::int32_t partition,
                           std::int64_t up_to_batch_ms);

  /// Returns the partitions that have state rows of `operator_id`.
  std::vector<std::int32_t> state_partitions(std::int32_t operator_id);

  /// Deletes the checkpoints of (`operator_id`, `partition`) that the newest
  /// full snapshot at or before `batch_time_ms` supersedes (all before it).
  /// Nothing happens when there is no such snapshot. `batch_time_ms` is
  /// lowered to the oldest kept metadata checkpoint's batch time, so every
  /// kept metadata checkpoint keeps the state it recovers with.
  void delete_state_before(std::int32_t operator_id, std::int32_t partition,
                           std::int64_t batch_time_ms);

  /// Returns the number of stored state rows (chunks) of (`operator_id`, `partition`).
  std::size_t state_row_count(std::int32_t operator_id, std::int32_t partition);

  // -- maintenance --------------------------------------------------------------

  /// Gives free pages back to the file system and truncates SQLite's `-wal` file.
  void compact();

  // -- observers ----------------------------------------------------------------

  /// Returns the database file's path.
  const std::string& path() const noexcept {
    return db_->path();
  }

 private:
  checkpoint_store(std::unique_ptr<sqlite_db> db, options opts);

  void create_schema();

  /// Upgrades the checkpoint tables of a version 1 database (FORMAT.md
  /// "Checkpoint tables"), in one transaction.
  void upgrade_from_version_1();

  /// One row of `checkpoint_metadata` as the writer tracks it.
  struct metadata_slot {
    std::int64_t batch_time_ms = 0;
    std::int64_t written = 0;
    std::int64_t row_id = 0;
  };

  /// Reads every row of `checkpoint_metadata` into `slots_`. `mtx_` must be
  /// held, in a transaction.
  void load_slots();

  /// Hits fault point `checkpoint.write`; throws `storage_error` on `fail_write`.
  void hit_write_point(const std::string& what);

  /// The batch time of the newest full snapshot of (`operator_id`,
  /// `partition`) at or before `up_to_batch_ms`, where reading its state
  /// starts; INT64_MIN when there is none. `mtx_` must be held.
  std::int64_t first_row_time(std::int32_t operator_id, std::int32_t partition,
                              std::int64_t up_to_batch_ms);

  /// One stored state row (chunk) as read, unchecked.
  struct state_row {
    std::int64_t row_id, batch_time_ms;
    bool full;
    std::int64_t chunk_index, chunk_count;
    std::string payload;  ///< the frame
  };

  /// The rows `read_state` decodes, in order; takes `mtx_`.
  std::vector<state_row> stored_state_rows(std::int32_t operator_id, std::int32_t partition,
                                           std::int64_t up_to_batch_ms);

  /// Reads a metadata row; throws `wal_corruption` when it fails its checks.
  metadata_checkpoint decode_metadata(std::int64_t row_id, std::int64_t batch_time,
                                      std::string_view bytes);

  options opts_;
  std::mutex mtx_;
  /// Guarded by `mtx_`.
  std::unique_ptr<sqlite_db> db_;
  /// Guarded by `mtx_`.
  std::unique_ptr<detail::metadata_encoder> encoder_;
  /// Every row of `checkpoint_metadata` as of `slots_version_`: SQLite's
  /// `PRAGMA data_version` when they were read, which changes when another
  /// connection commits (this one's commits update `slots_` themselves).
  /// Empty version: read them again. Guarded by `mtx_`.
  std::vector<metadata_slot> slots_;
  std::optional<std::int64_t> slots_version_;
};

} // namespace sluice
