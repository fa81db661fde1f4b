// The SQLite wrapper: result codes become storage_error, busy databases are retried.
#include "sluice/sqlite_db.hpp"

#include "sluice/fault_vfs.hpp"
#include "sluice/mem_vfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <sqlite3.h>

#include <thread>
#include <utility>

namespace sluice {

namespace {

/// Returns why the directory of `path` refuses new files, e.g. "Read-only
/// file system" for a disk that turned read-only, or "" when it accepts them
/// or cannot tell. Probes with an unnamed O_TMPFILE file: it leaves nothing
/// behind, and it opens none of SQLite's files (closing another descriptor of
/// them would drop SQLite's POSIX locks).
std::string refusal_of_directory(const std::string& path) {
  auto dir = std::filesystem::path{path}.parent_path();
  if (dir.empty())
    dir = ".";
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return {};
  }
  int e = errno;
  if (e == EOPNOTSUPP || e == EISDIR || e == EINVAL || e == ENOENT)
    return {}; // no O_TMPFILE support, or no directory to ask
  return std::generic_category().message(e);
}

/// Returns "<dir> has N bytes free" when the file system of `path`'s
/// directory has less than 1 MiB left for unprivileged writers, else "".
/// SQLite reports a full disk as SQLITE_FULL only where a write() says
/// ENOSPC; growing its -shm file on a full tmpfs gives a bare "disk I/O
/// error" (SQLITE_IOERR_SHMSIZE), which this explains.
std::string full_disk_note(const std::string& path) {
  auto dir = std::filesystem::path{path}.parent_path();
  if (dir.empty())
    dir = ".";
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0)
    return {};
  auto free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  if (free_bytes >= 1024 * 1024)
    return {};
  return dir.string() + " has " + std::to_string(free_bytes) + " bytes free";
}

/// The device and inode of `path`, or nothing when it does not exist. For a
/// file kept by the memory VFS: device 0 and the VFS's identity of it.
std::optional<std::pair<std::uint64_t, std::uint64_t>> identity_of(const std::string& path) {
  if (mem_vfs::routed(path)) {
    auto id = mem_vfs::global().identity(path);
    if (!id)
      return std::nullopt;
    return std::pair<std::uint64_t, std::uint64_t>{0, *id};
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return std::nullopt;
  return std::pair<std::uint64_t, std::uint64_t>{static_cast<std::uint64_t>(st.st_dev),
                                                 static_cast<std::uint64_t>(st.st_ino)};
}

/// The VFS for a database at `path`: the fault VFS for a routed directory
/// (tests), else the memory VFS for one of its directories, else SQLite's default.
const char* vfs_for(const std::string& path) {
  if (auto* fault = fault_vfs::vfs_for(path))
    return fault;
  return mem_vfs::routed(path) ? mem_vfs::name.data() : nullptr;
}

/// Throws `msg` as `storage_corruption` when SQLite says the file is damaged
/// or not a database, else as `storage_error`.
[[noreturn]] void throw_for(int rc, const std::string& msg) {
  auto primary = rc & 0xff;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
    throw storage_corruption(msg);
  throw storage_error(msg);
}

std::string message(const std::string& path, sqlite3* db, std::string_view op, int rc) {
  std::string msg = "sluice: sqlite ";
  msg += op;
  msg += " failed on ";
  msg += path;
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (";
  msg += sqlite3_errstr(rc);
  msg += ", code ";
  msg += std::to_string(rc);
  // SQLite says "disk I/O error" without the OS's reason (and
  // sqlite3_system_errno is 0 or stale by now): ask the directory.
  auto primary = rc & 0xFF;
  if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN) {
    if (auto why = refusal_of_directory(path); !why.empty()) {
      msg += "; the directory refuses writes: ";
      msg += why;
    }
  }
  if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL) {
    if (auto note = full_disk_note(path); !note.empty()) {
      msg += "; the disk is full: ";
      msg += note;
    }
  }
  msg += ")";
  return msg;
}

bool is_busy(int rc) noexcept {
  return (rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED;
}

/// Returns `sql` shortened for error messages.
std::string quoted(std::string_view sql) {
  constexpr std::size_t max_len = 80;
  std::string out = "\"";
  out += sql.substr(0, max_len);
  if (sql.size() > max_len)
    out += "...";
  out += "\"";
  return out;
}

} // namespace

// -- sqlite_stmt --------------------------------------------------------------

sqlite_stmt::sqlite_stmt(sqlite_db* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {
  // nop
}

sqlite_stmt::sqlite_stmt(sqlite_stmt&& other) noexcept
  : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {
  // nop
}

sqlite_stmt& sqlite_stmt::operator=(sqlite_stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

sqlite_stmt::~sqlite_stmt() {
  sqlite3_finalize(stmt_);
}

void sqlite_stmt::fail(std::string_view op, int rc) {
  auto msg = message(db_->path(), db_->native_handle(), std::string{op} + " of " + quoted(sql()),
                     rc);
  sqlite3_reset(stmt_);
  throw_for(rc, msg);
}

sqlite_stmt& sqlite_stmt::bind_int64(int index, std::int64_t x) {
  if (auto rc = sqlite3_bind_int64(stmt_, index, x); rc != SQLITE_OK)
    fail("bind", rc);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind_blob(int index, std::string_view bytes) {
  // A null pointer would bind NULL, not an empty BLOB.
  static const char empty = 0;
  auto data = bytes.empty() ? &empty : bytes.data();
  if (auto rc = sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT);
      rc != SQLITE_OK)
    fail("bind", rc);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind_blob_static(int index, std::string_view bytes) {
  static const char empty = 0;
  auto data = bytes.empty() ? &empty : bytes.data();
  if (auto rc = sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_STATIC);
      rc != SQLITE_OK)
    fail("bind", rc);
  return *this;
}

void sqlite_stmt::clear_bindings() noexcept {
  sqlite3_clear_bindings(stmt_);
}

sqlite_stmt& sqlite_stmt::bind_text(int index, std::string_view text) {
  if (auto rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                    SQLITE_UTF8);
      rc != SQLITE_OK)
    fail("bind", rc);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind_null(int index) {
  if (auto rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK)
    fail("bind", rc);
  return *this;
}

bool sqlite_stmt::step() {
  // Only a statement that has not produced a row yet may start over.
  bool fresh = sqlite3_stmt_busy(stmt_) == 0;
  auto delay = std::chrono::milliseconds{10};
  for (int attempt = 0;; ++attempt) {
    auto rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc == SQLITE_DONE) {
      sqlite3_reset(stmt_);
      return false;
    }
    if (!fresh || !is_busy(rc) || attempt >= db_->opts().busy_retries)
      fail("step", rc);
    sqlite3_reset(stmt_);
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

void sqlite_stmt::run() {
  while (step()) {
    // discard rows
  }
}

void sqlite_stmt::reset() noexcept {
  sqlite3_reset(stmt_);
}

std::int64_t sqlite_stmt::column_int64(int col) const noexcept {
  return sqlite3_column_int64(stmt_, col);
}

std::string_view sqlite_stmt::column_blob(int col) const noexcept {
  // Ask for the pointer first: the byte count refers to the converted value.
  auto data = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
  return data == nullptr ? std::string_view{} : std::string_view{data, size};
}

bool sqlite_stmt::column_is_null(int col) const noexcept {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::string_view sqlite_stmt::sql() const noexcept {
  auto text = sqlite3_sql(stmt_);
  return text == nullptr ? std::string_view{} : std::string_view{text};
}

// -- sqlite_db ------------------------------------------------------------------

sqlite_db::sqlite_db(std::string path) : sqlite_db(std::move(path), options{}) {
  // nop
}

sqlite_db::sqlite_db(std::string path, options opts) : path_(std::move(path)), opts_(opts) {
  // NOMUTEX: callers serialize a connection's use (the class contract), so
  // SQLite's own per-connection mutex only cost a lock per call.
  auto rc = sqlite3_open_v2(path_.c_str(), &db_,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            vfs_for(path_));
  if (rc != SQLITE_OK) {
    auto msg = message(path_, db_, "open", rc);
    sqlite3_close(db_);
    throw_for(rc, msg);
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(opts_.busy_timeout.count()));
    // page_size and auto_vacuum take effect only before the first table
    // exists, so they are set on a new (empty) file only: on an existing one
    // auto_vacuum=INCREMENTAL still commits page 1 again, a 64 KiB WAL frame
    // and a sync at every open.
    bool empty = [&] {
      auto count = prepare("PRAGMA page_count");
      return count.step() && count.column_int64(0) == 0;
    }();
    if (empty && opts_.page_size != 0)
      exec("PRAGMA page_size=" + std::to_string(opts_.page_size));
    if (empty && opts_.incremental_vacuum)
      exec("PRAGMA auto_vacuum=INCREMENTAL");
    auto mode = prepare("PRAGMA journal_mode=WAL");
    if (!mode.step() || mode.column_blob(0) != "wal")
      throw storage_error("sluice: sqlite cannot switch " + path_
                          + " to journal_mode=WAL (the file system lacks shared memory?)");
    mode.reset();
    if (opts_.wal_autocheckpoint_pages > 0)
      sqlite3_wal_autocheckpoint(db_, opts_.wal_autocheckpoint_pages);
    exec(opts_.synchronous == sqlite_sync::full ? "PRAGMA synchronous=FULL"
                                                : "PRAGMA synchronous=NORMAL");
    // Debian builds SQLite with SECURE_DELETE: every page a delete frees
    // would be zeroed, so deleting a MB-sized WAL block or state row wrote
    // it (and its checkpoint copy) twice more. FAST zeroes only what it
    // writes anyway; freed pages keep their bytes until reused or vacuumed.
    exec("PRAGMA secure_delete=FAST");
    db_id_ = identity_of(path_);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

sqlite_db::~sqlite_db() {
  cached_.clear(); // finalized first: sqlite3_close refuses open statements
  sqlite3_close(db_);
}

void sqlite_db::fail(std::string_view op, int rc) const {
  throw_for(rc, message(path_, db_, op, rc));
}

sqlite_stmt sqlite_db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  auto rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK)
    fail("prepare of " + quoted(sql), rc);
  return sqlite_stmt{this, stmt};
}

sqlite_stmt& sqlite_db::cached(std::string_view sql) {
  // A handful of statements per connection: a linear scan beats hashing.
  for (auto& [text, stmt] : cached_)
    if (text == sql) {
      stmt.reset();
      stmt.clear_bindings();
      return stmt;
    }
  auto stmt = prepare(sql);
  return cached_.emplace_back(std::string{sql}, std::move(stmt)).second;
}

void sqlite_db::exec(std::string_view sql) {
  while (!sql.empty()) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    auto rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
    if (rc != SQLITE_OK)
      fail("prepare of " + quoted(sql), rc);
    if (stmt == nullptr) // only whitespace or comments left
      return;
    sqlite_stmt{this, stmt}.run();
    sql.remove_prefix(static_cast<std::size_t>(tail - sql.data()));
  }
}

std::optional<std::int64_t> sqlite_db::query_int64(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt.step() || stmt.column_is_null(0))
    return std::nullopt;
  auto result = stmt.column_int64(0);
  stmt.reset();
  return result;
}

bool sqlite_db::has_table(const std::string& name) {
  // With no column name it only looks the table up (Debian builds SQLite
  // with SQLITE_ENABLE_COLUMN_METADATA, which this function needs).
  auto rc = sqlite3_table_column_metadata(db_, "main", name.c_str(), nullptr, nullptr, nullptr,
                                          nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK)
    return true;
  if (rc == SQLITE_ERROR && std::string_view{sqlite3_errmsg(db_)}.starts_with("no such table"))
    return false;
  fail("lookup of table " + name, rc);
  return false;  // not reached: fail throws
}

std::int64_t sqlite_db::last_insert_rowid() const noexcept {
  return sqlite3_last_insert_rowid(db_);
}

std::int64_t sqlite_db::changes() const noexcept {
  return sqlite3_changes64(db_);
}

bool sqlite_db::checkpoint_truncate() {
  int log_frames = 0;
  int done_frames = 0;
  auto rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                      &done_frames);
  if (is_busy(rc))
    return false;
  if (rc != SQLITE_OK)
    fail("wal_checkpoint(TRUNCATE)", rc);
  return true;
}

void sqlite_db::incremental_vacuum() {
  exec("PRAGMA incremental_vacuum");
}

void sqlite_db::verify_files_unchanged() {
  auto check = [](const std::string& file, const std::optional<file_id>& then) {
    if (!then)
      return;
    auto now = identity_of(file);
    if (!now)
      throw storage_error("sluice: " + file
                          + " was deleted while the program was writing it: the checkpoints "
                            "written since are lost; stopping");
    if (*now != *then)
      throw storage_error("sluice: " + file
                          + " was replaced by another file while the program was writing it "
                            "(inode " + std::to_string(then->second) + ", now "
                          + std::to_string(now->second) + "); stopping");
  };
  check(path_, db_id_);
  auto wal = path_ + "-wal";
  if (!wal_id_)
    wal_id_ = identity_of(wal);
  else
    check(wal, wal_id_);
}

// -- sqlite_transaction ---------------------------------------------------------

sqlite_transaction::sqlite_transaction(sqlite_db& db, mode m) : db_(db) {
  // Cached: a commit of a few rows would spend a third of its time preparing these.
  db_.cached(m == mode::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").run();
}

sqlite_transaction::~sqlite_transaction() {
  // A failed statement may already have rolled the transaction back.
  if (!done_ && sqlite3_get_autocommit(db_.native_handle()) == 0)
    sqlite3_exec(db_.native_handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void sqlite_transaction::commit() {
  db_.cached("COMMIT").run();
  done_ = true;
}

bool disable_sqlite_memory_statistics() noexcept {
  // SQLITE_MISUSE once SQLite has started: the setting stays as it was.
  return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
}

} // namespace sluice
