// A small RAII wrapper over one SQLite connection: open, pragmas, prepared
// statements, transactions. Every failure throws `sluice::storage_error`.
#pragma once

#include <memory>
#include <string_view>

#include "sluice/error.hpp"

#include <chrono>
#include <deque>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

struct sqlite3;
struct sqlite3_stmt;

namespace sluice {

class sqlite_db;

/// SQLite's `synchronous` setting in WAL journal mode.
enum class sqlite_sync : std::uint8_t {
  /// A commit returns after the WAL file is written but before it is synced: a
  /// power loss may undo the last commits (an application crash does not).
  normal = 1,
  /// A commit returns after the WAL file is synced: committed means durable.
  full = 2,
};

/// A prepared statement of one `sqlite_db`. Move-only; must not outlive its
/// database. Parameter indexes are 1-based, column indexes 0-based (as in SQLite).
/// Not thread-safe: use it from one thread at a time, like its database.
class sqlite_stmt {
 public:
  // -- constructors, destructors, and assignment operators -------------------

  sqlite_stmt(sqlite_stmt&& other) noexcept;

  sqlite_stmt& operator=(sqlite_stmt&& other) noexcept;

  sqlite_stmt(const sqlite_stmt&) = delete;

  sqlite_stmt& operator=(const sqlite_stmt&) = delete;

  /// Finalizes the statement.
  ~sqlite_stmt();

  // -- binding (bindings survive `reset`) -------------------------------------

  sqlite_stmt& bind_int64(int index, std::int64_t x);

  /// Binds a copy of `bytes` as a BLOB (an empty view binds a zero-length BLOB).
  sqlite_stmt& bind_blob(int index, std::string_view bytes);

  /// Binds `bytes` as a BLOB without copying them: SQLite reads them in place,
  /// so they must stay unchanged until the statement is stepped to completion
  /// and the parameter is rebound or `clear_bindings` is called.
  sqlite_stmt& bind_blob_static(int index, std::string_view bytes);

  /// Sets all parameters to NULL (dropping references from `bind_blob_static`).
  void clear_bindings() noexcept;

  /// Binds a copy of `text` as TEXT.
  sqlite_stmt& bind_text(int index, std::string_view text);

  sqlite_stmt& bind_null(int index);

  // -- stepping ---------------------------------------------------------------

  /// Runs the statement to its next row. Returns true when a row is ready for
  /// the `column_*` accessors, false when the statement is done; a done or
  /// failed statement is reset, so it holds no read transaction and can run
  /// again. A first step that finds the database locked past the busy timeout
  /// is retried a bounded number of times (`sqlite_db::options::busy_retries`).
  /// Throws `storage_error` naming the file, the SQL and SQLite's message.
  bool step();

  /// Steps until done, for statements without result rows.
  void run();

  /// Resets the statement (keeping its bindings), ending any read in progress.
  void reset() noexcept;

  // -- columns of the current row ----------------------------------------------

  std::int64_t column_int64(int col) const noexcept;

  /// Returns the BLOB (or TEXT) bytes of `col`; valid until the next `step` or `reset`.
  std::string_view column_blob(int col) const noexcept;

  bool column_is_null(int col) const noexcept;

  /// Returns the statement's SQL text.
  std::string_view sql() const noexcept;

 private:
  friend class sqlite_db;

  sqlite_stmt(sqlite_db* db, sqlite3_stmt* stmt) noexcept;

  [[noreturn]] void fail(std::string_view op, int rc);

  sqlite_db* db_;
  sqlite3_stmt* stmt_;
};

/// One connection to an SQLite database file, in journal mode WAL. Not
/// thread-safe: callers serialize access (as `receiver_wal` does with a mutex).
/// Non-copyable and non-movable, because statements point to it.
class sqlite_db {
 public:
  // -- member types -------------------------------------------------------------

  struct options {
    /// Durability of a commit. Default: `full` (committed means synced).
    sqlite_sync synchronous = sqlite_sync::full;

    /// How long SQLite itself waits on a locked database before reporting
    /// SQLITE_BUSY. Default: 5 s.
    std::chrono::milliseconds busy_timeout{5000};

    /// How often a statement that still finds the database busy is retried
    /// (after 10, 20, 40, ... ms) before `storage_error`. Default: 3.
    int busy_retries = 3;

    /// Sets `auto_vacuum=INCREMENTAL` when creating a new database, so that
    /// `incremental_vacuum` can give freed pages back to the file system. Default: true.
    bool incremental_vacuum = true;

    /// The page size of a new database, a power of two from 512 to 65536; 0
    /// keeps SQLite's default (4096). Ignored for an existing database. Default: 0.
    int page_size = 0;

    /// Pages in the write-ahead file after which a commit on this connection
    /// checkpoints it into the database (`sqlite3_wal_autocheckpoint`); 0
    /// keeps SQLite's default (1000). Default: 0.
    int wal_autocheckpoint_pages = 0;
  };

  // -- constructors, destructors, and assignment operators -------------------

  /// Opens `path`, creating the file if missing, and sets journal_mode=WAL,
  /// the `synchronous` mode and the busy timeout. Throws `storage_error` naming
  /// the file when it cannot be opened or configured.
  explicit sqlite_db(std::string path);

  sqlite_db(std::string path, options opts);

  sqlite_db(const sqlite_db&) = delete;

  sqlite_db& operator=(const sqlite_db&) = delete;

  /// Closes the connection. Statements must be gone by then.
  ~sqlite_db();

  // -- statements -------------------------------------------------------------

  /// Returns `sql` (one statement) prepared. Throws `storage_error` on a syntax error.
  sqlite_stmt prepare(std::string_view sql);

  /// Returns `sql` (one statement) prepared once per connection and kept
  /// until it closes, reset and with its bindings cleared: for statements
  /// a hot path runs again and again (preparing one is a parse and a plan,
  /// more than a small INSERT costs). The caller steps it to completion or
  /// resets it before it asks for the same `sql` again; a statement left
  /// mid-read would hold the read transaction open. Throws `storage_error`.
  sqlite_stmt& cached(std::string_view sql);

  /// Runs `sql`, one or more statements whose rows are discarded, retrying a
  /// busy database as `sqlite_stmt::step` does. Throws `storage_error`.
  void exec(std::string_view sql);

  /// Returns the first column of the first row of `sql`, or `std::nullopt` if
  /// it yields no row (or NULL). For pragmas and counts.
  std::optional<std::int64_t> query_int64(std::string_view sql);

  /// Whether the database has table `name` in the schema as this connection
  /// last read it (at its first statement, and again at a statement after
  /// another connection changed it): no statement is prepared. Throws
  /// `storage_error` when SQLite cannot read the schema.
  bool has_table(const std::string& name);

  /// Returns the rowid of the last successful INSERT on this connection.
  std::int64_t last_insert_rowid() const noexcept;

  /// Returns the rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const noexcept;

  // -- maintenance --------------------------------------------------------------

  /// Copies the WAL into the database file and truncates the WAL to zero bytes
  /// (`PRAGMA wal_checkpoint(TRUNCATE)`). Returns false when readers or
  /// writers of other connections kept it from completing (try again later).
  bool checkpoint_truncate();

  /// Gives the database's free pages back to the file system (effective once
  /// checkpointed) when the file was created with `incremental_vacuum`.
  void incremental_vacuum();

  // -- observers ----------------------------------------------------------------

  /// Returns the database file's path.
  const std::string& path() const noexcept {
    return path_;
  }

  const options& opts() const noexcept {
    return opts_;
  }

  /// Returns the raw connection, for callers that need the C API.
  sqlite3* native_handle() const noexcept {
    return db_;
  }

  /// Throws `storage_error` "sluice: sqlite <op> failed on <file>: <errmsg>
  /// (<code name>)" for the result code `rc` of this connection.
  [[noreturn]] void fail(std::string_view op, int rc) const;

  /// Throws `storage_error` when the database file or its `-wal` file is no
  /// longer the file this connection writes: deleted, or replaced by another
  /// file under the same name. SQLite goes on writing to an unlinked file
  /// without an error, and nobody would read those writes again. Costs two
  /// `stat` calls; the `-wal` file's identity is taken at the first call that
  /// finds it.
  void verify_files_unchanged();

 private:
  /// A file's device and inode numbers.
  using file_id = std::pair<std::uint64_t, std::uint64_t>;

  std::string path_;
  options opts_;
  sqlite3* db_ = nullptr;
  std::optional<file_id> db_id_;
  std::optional<file_id> wal_id_;
  /// The statements of `cached` (a deque: earlier ones stay put when one is
  /// added), finalized before the connection closes.
  std::deque<std::pair<std::string, sqlite_stmt>> cached_;  // stable references
};

/// A transaction on a `sqlite_db`: begins in the constructor, rolls back in
/// the destructor unless `commit` succeeded. Transactions do not nest.
class sqlite_transaction {
 public:
  enum class mode : std::uint8_t {
    /// Takes the write lock at the first write.
    deferred,
    /// Takes the write lock at once, so a writer never fails half-way on a
    /// lock held by another connection.
    immediate,
  };

  /// Begins a transaction. Throws `storage_error`.
  explicit sqlite_transaction(sqlite_db& db, mode m = mode::immediate);

  sqlite_transaction(const sqlite_transaction&) = delete;

  sqlite_transaction& operator=(const sqlite_transaction&) = delete;

  /// Rolls back unless committed; never throws.
  ~sqlite_transaction();

  /// Commits; returns when the commit is as durable as the database's
  /// `synchronous` mode promises. Throws `storage_error` (and the destructor
  /// then rolls back).
  void commit();

 private:
  sqlite_db& db_;
  bool done_ = false;
};

/// Creates checkpoint directory `dir` and its parents if missing. Throws
/// `storage_error` naming `dir` and the cause when it cannot: "sluice: cannot
/// create checkpoint directory <dir>: Not a directory (a file of that name
/// exists)", "...: Permission denied".
void create_checkpoint_directory(const std::string& dir);

/// The page size of a new checkpoint database unless configured otherwise
/// (FORMAT.md "The database file").
inline constexpr int default_checkpoint_page_size = 65536;

/// Opens (creating the directory and the file if needed) `<dir>/sluice.db`,
/// the one database of a checkpoint directory, with pages of `page_size`
/// bytes for a new file (FORMAT.md "The database file"). A new file is built under a
/// temporary name and linked into place complete, so a `sluice.db` that is
/// empty (0 bytes) or has no `meta` table was damaged, not left by a crash:
/// both throw `storage_error` naming the file. `autocheckpoint_pages` is
/// the connection's `sqlite_db::options::wal_autocheckpoint_pages`.
std::unique_ptr<sqlite_db> open_checkpoint_database(const std::string& dir, sqlite_sync sync,
                                                    int page_size = default_checkpoint_page_size,
                                                    int autocheckpoint_pages = 0);

/// Renames `dir`'s checkpoint database (sluice.db and its -wal and -shm
/// files, those that exist) to `name` with the same suffixes, on the disk
/// or in the memory VFS, and returns the new path of the database. Throws
/// `storage_error` naming the file that cannot be moved.
std::string set_aside_checkpoint_database(const std::string& dir, const std::string& name);

/// Creates the `meta` table and its format_version if missing, refuses a
/// newer or invalid version, then runs `schema_sql`, in one transaction.
/// Every class sharing the database calls it: whichever opens it first
/// creates `meta`. Returns the version the database had (`format_version`
/// when this call wrote it): an older one is for the caller to upgrade.
std::int64_t ensure_schema(sqlite_db& db, std::int64_t format_version,
                           std::string_view schema_sql);

/// Turns SQLite's memory statistics off for the whole process
/// (SQLITE_CONFIG_MEMSTATUS=0): every allocation of every connection then
/// skips a process-wide mutex and its counters. Only possible before SQLite
/// starts in the process (its first connection or VFS registration); returns
/// whether it took effect. Afterwards `sqlite3_memory_used()` reads 0 and
/// `sqlite3_soft_heap_limit64()` has no effect. Not thread-safe: call it
/// before other threads use SQLite. The simulation calls it (3 % of a
/// simulated batch's instructions); an engine that runs beside other users
/// of SQLite leaves the setting to the program.
bool disable_sqlite_memory_statistics() noexcept;

} // namespace sluice
