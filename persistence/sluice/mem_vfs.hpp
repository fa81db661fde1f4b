// An in-memory SQLite VFS for the simulation: a checkpoint directory routed
// to it keeps its database files in this process's memory, so a simulated
// batch commits without a system call. Test infrastructure like fault_vfs.hpp
// (which can wrap it): not installed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

/// The process-wide controller of the VFS named `mem_vfs::name`. Files live
/// in a map by the path SQLite opens; a file outlives its connections (as on
/// a disk) until it is deleted or its directory is forgotten. The VFS keeps
/// SQLite's contract for locks and the WAL's shared memory among the
/// connections of this process: the wal-index lives as long as one
/// connection maps it, so a database opened again with none left runs
/// SQLite's WAL recovery from the `-wal` bytes, as after a real restart.
///
/// A directory is in memory when it, or a directory above it, was passed to
/// `route` (a lexical prefix: paths must be absolute and normalized; nothing
/// is created on the disk). `sqlite_db`, `open_checkpoint_database` and the
/// recovery's set-aside of a damaged database then work on the map instead
/// of the file system, through the file operations below. A sync keeps
/// nothing extra: losing unsynced bytes is fault_vfs's job, which wraps this
/// VFS for a directory routed to both.
///
/// All members are thread-safe: one mutex guards the names, each file has
/// its own for its bytes and locks, and `routed` reads a copy of the routes
/// per thread, so connections to different files (simulations on several
/// threads, each in its own directory) do not wait for one another. Invalid
/// arguments throw
/// `sluice::invalid_argument` naming the value.
class mem_vfs {
 public:
  /// The name the VFS is registered under (not the default).
  static constexpr std::string_view name = "sluice-mem";

  mem_vfs(const mem_vfs&) = delete;
  mem_vfs& operator=(const mem_vfs&) = delete;

  /// Returns the controller, registering the VFS with SQLite at the first
  /// call. Never destroyed (SQLite keeps a pointer to the VFS).
  static mem_vfs& global();

  // -- routing ----------------------------------------------------------------

  /// Keeps every file under `dir` in memory from now on. Throws
  /// `invalid_argument` for a `dir` that is not absolute.
  void route(const std::string& dir);

  /// Ends the route of `dir` and deletes every file under it that has no
  /// open connection. Files still open stay until their last close.
  void forget(const std::string& dir);

  /// Whether `path` is under a routed directory. One relaxed atomic load
  /// while nothing is routed.
  static bool routed(std::string_view path);

  // -- files, for sluice's code beside SQLite ------------------------------------

  /// The size of `path`, or nothing when it does not exist.
  std::optional<std::uint64_t> size(const std::string& path) const;

  /// A number that names the file at `path` for as long as it exists (a new
  /// file of the same name gets another one; the inode of a disk file), or
  /// nothing when it does not exist.
  std::optional<std::uint64_t> identity(const std::string& path) const;

  /// Gives the file `from` the second name `to`, like link(2): false (and
  /// nothing done) when `to` exists or `from` does not.
  bool link(const std::string& from, const std::string& to);

  /// Renames `from` to `to`, replacing `to`; false when `from` does not exist.
  bool rename(const std::string& from, const std::string& to);

  /// Deletes the name `path`; open connections keep the file's bytes.
  void remove(const std::string& path);

  // -- for fault_vfs ---------------------------------------------------------------

  /// Writes `bytes` at `offset` of the existing file `path` (growing it); false
  /// when it does not exist.
  bool write(const std::string& path, std::uint64_t offset, std::string_view bytes);

  /// Cuts or grows `path` to `size` bytes; false when it does not exist.
  bool truncate(const std::string& path, std::uint64_t size);

  struct impl;

 private:
  mem_vfs();

  std::unique_ptr<impl> impl_;
};

} // namespace sluice
