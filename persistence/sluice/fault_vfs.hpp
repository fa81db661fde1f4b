// A SQLite VFS of sluice's own for storage fault tests: it forwards to the
// default VFS and can fail writes (full disk, I/O error), lose what was not
// synced when the process "crashes", and tear the write of the last sync.
// Test infrastructure: like sqlite_db.hpp it is not installed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// The error a failed write reports to SQLite.
enum class storage_fault : std::uint8_t {
  /// `SQLITE_FULL`, what SQLite's unix VFS returns for ENOSPC; SQLite's
  /// message is "database or disk is full".
  disk_full = 1,
  /// `SQLITE_IOERR_WRITE` for a write, `SQLITE_IOERR_TRUNCATE` for a
  /// truncate, `SQLITE_IOERR_FSYNC` for a sync; SQLite's message is "disk I/O error".
  io_error = 2,
};

/// How long a write-failure rule lasts.
enum class fault_repeat : std::uint8_t {
  /// Only the next write, truncate or sync of a matching file fails.
  next = 1,
  /// Every one fails until `fault_vfs::clear_failures`.
  every = 2,
};

/// The write that `fault_vfs::crash` tore.
struct torn_write {
  std::string path;
  /// Where the write started and how many bytes it had.
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  /// How many of them were kept (the rest is as before the write).
  std::uint64_t kept = 0;
};

/// What `fault_vfs::crash` did.
struct crash_report {
  /// One file whose unsynced changes were undone.
  struct file {
    std::string path;
    /// Bytes written or truncated away since its last sync (counted once per
    /// write, even when a later write covered the same bytes).
    std::uint64_t unsynced_bytes = 0;
    std::uint64_t size_before = 0;
    std::uint64_t size_after = 0;
  };
  /// The files with unsynced changes, by path.
  std::vector<file> files;
  /// The sum of `files[i].unsynced_bytes`.
  std::uint64_t unsynced_bytes = 0;
  /// The torn write when `tear_on_crash` was armed and its file had a write
  /// before its last sync.
  std::optional<torn_write> torn;
  /// File handles opened before the crash and still open: the caller must
  /// close them (drop their connections) before opening the files again.
  std::size_t stale_handles = 0;
};

/// The process-wide controller of sluice's fault VFS, a SQLite VFS named
/// `fault_vfs::name` that wraps the default VFS (`sqlite3_vfs_find(nullptr)`)
/// and forwards every call to it. It tracks, per file opened through it (by
/// the path SQLite gives, e.g. "/tmp/x/checkpoint/sluice.db-wal"), the bytes
/// written since the file's last sync, keeping the bytes they replaced (an
/// undo log), so that `crash` can put every file back to its content as of
/// its last sync.
///
/// A `sqlite_db` uses the VFS when its path is under a directory passed to
/// `route`; nothing else changes for it, so `checkpoint_store` and
/// `receiver_wal` opened on a routed directory run over the VFS unchanged.
///
/// Directory operations (creating, deleting and linking files) count as
/// durable at once; only file contents can be lost. The `-shm` file is not
/// tracked: SQLite rebuilds it from the `-wal` file when a database is opened
/// with no other connection (SQLite's WAL recovery).
///
/// All members are thread-safe (one mutex). Invalid arguments throw
/// `sluice::invalid_argument` naming the value.
class fault_vfs {
 public:
  /// The name the VFS is registered under (`sqlite3_vfs_register`, not the default).
  static constexpr std::string_view name = "sluice-fault";

  // -- constructors, destructors, and assignment operators -------------------

  fault_vfs(const fault_vfs&) = delete;

  fault_vfs& operator=(const fault_vfs&) = delete;

  /// Returns the controller, registering the VFS with SQLite at the first
  /// call. Never destroyed (SQLite keeps a pointer to the VFS).
  static fault_vfs& global();

  // -- routing ----------------------------------------------------------------

  /// Makes every `sqlite_db` opened on a file under `dir` (or `dir` itself)
  /// use the fault VFS. `dir` need not exist yet. Throws `invalid_argument`
  /// for an empty `dir`.
  void route(const std::string& dir);

  /// Ends the routes of `dir` (as passed to `route`). Connections already
  /// open keep using the VFS.
  void unroute(const std::string& dir);

  /// Ends every `route`. Connections already open keep using the VFS.
  void unroute_all();

  /// Returns `name` when `path` is under a routed directory, else nullptr:
  /// the `zVfs` argument `sqlite_db` passes to `sqlite3_open_v2`. Costs one
  /// relaxed atomic load while nothing is routed.
  static const char* vfs_for(const std::string& path);

  // -- failing writes ----------------------------------------------------------

  /// Makes writes (`xWrite`), truncates (`xTruncate`) and syncs (`xSync`) of
  /// files under `dir` fail with `kind`, once or until `clear_failures`.
  /// Reads keep working. Throws `invalid_argument` for an empty `dir`.
  void fail_writes(const std::string& dir, storage_fault kind, fault_repeat repeat);

  /// Removes every rule of `fail_writes`.
  void clear_failures();

  /// Removes the rules of `fail_writes` for `dir` (as passed there).
  void clear_failures(const std::string& dir);

  /// Returns how many operations the rules of `fail_writes` failed so far.
  std::size_t failed_operations() const;

  // -- crashing ----------------------------------------------------------------

  /// Arms a torn write for the next `crash` that covers `file` (one armed
  /// tear per file; arming it again replaces the fraction): of `file`'s last
  /// write before its last sync (for a `-wal` file: the end of the last committed frame),
  /// only the first `keep_fraction` of the bytes, rounded down to a multiple
  /// of 512, stays; the rest reverts to what it was before the write (or is
  /// cut off when the write extended the file). Models a power loss while
  /// that sync was in flight. Throws `invalid_argument` for an empty `file` or
  /// a `keep_fraction` outside [0, 1).
  void tear_on_crash(const std::string& file, double keep_fraction = 0.5);

  /// Simulates a crash of the process: every tracked file gets back its
  /// content as of its last sync (and the armed tear, once), and every file
  /// handle open now becomes stale: all its later operations fail with an
  /// `SQLITE_IOERR_*` code (except closing and unlocking), so a connection
  /// left over from before the crash can neither read stale pages nor write
  /// when it is closed.
  ///
  /// The caller must then drop every connection that was open (destroy its
  /// `sqlite_db`, `checkpoint_store` or `receiver_wal`; the close fails
  /// quietly) before opening the database again: SQLite shares its `-shm`
  /// mapping and locks among the connections of a process, so a new
  /// connection beside a stale one would read the old WAL index. Until then,
  /// opening a file that has stale handles fails with `SQLITE_CANTOPEN`.
  crash_report crash();

  /// As `crash()`, for the files under `dir` only (their armed tears, their
  /// handles): the crash of one process among others, such as one of the
  /// simulations running on several threads. Throws `invalid_argument` for
  /// an empty `dir`.
  crash_report crash(const std::string& dir);

  /// Returns the number of handles made stale by `crash` that are still open.
  std::size_t stale_handles() const;

  /// As `stale_handles()`, for the files under `dir` only.
  std::size_t stale_handles(const std::string& dir) const;

  /// Returns the bytes written to `file` since its last sync (0 for a file
  /// that is not tracked).
  std::uint64_t unsynced_bytes(const std::string& file) const;

  /// Ends every route, rule and armed tear, and forgets every file that has
  /// no open handle. For the end of a test.
  void reset();

  struct impl;

 private:
  fault_vfs();

  /// crash() for every file (`dir` null) or those under `*dir`.
  crash_report crash_files(const std::string* dir);

  std::size_t count_stale(const std::string* dir) const;

  std::unique_ptr<impl> impl_;
};

} // namespace sluice
