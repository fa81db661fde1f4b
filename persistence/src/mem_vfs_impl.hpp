// Internals of the memory VFS shared by its controller (mem_vfs.cpp) and its
// SQLite callbacks (mem_vfs_file.cpp). Includes sqlite3.h: not a public header.
#pragma once

#include "sluice/mem_vfs.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <sqlite3.h>

namespace sluice::detail {

struct mem_handle;

/// A file's bytes in chunks of 32 KiB from the heap: growing never copies
/// or re-faults what is there (a contiguous buffer past malloc's mmap
/// threshold would be copied into fresh pages at each doubling), and the
/// chunks of a forgotten run serve the next. A write past the end, or a
/// truncate that grows the file, zeroes the gap.
class mem_bytes {
 public:
  static constexpr std::uint64_t chunk = 32 * 1024;

  std::uint64_t size() const noexcept {
    return size_;
  }

  /// Copies up to `n` bytes at `offset` into `out`; returns how many there were.
  std::uint64_t read(std::uint64_t offset, void* out, std::uint64_t n) const;

  void write(std::uint64_t offset, const void* in, std::uint64_t n);

  /// Cuts or grows the file to `n` bytes (grown bytes are zero).
  void truncate(std::uint64_t n);

 private:
  void reserve(std::uint64_t n);
  void zero(std::uint64_t from, std::uint64_t to);

  std::vector<std::unique_ptr<char[]>> chunks_;
  std::uint64_t size_ = 0;
};

/// One file's bytes, its lock state and, for a database in WAL mode, its
/// wal-index (the shared memory every connection of the file maps).
struct mem_file {
  explicit mem_file(std::uint64_t identity) : id(identity) {
    // nop
  }

  const std::uint64_t id;
  /// Guards the members below and the lock state of every handle of the
  /// file: simulations on several threads, each on its own directory, never
  /// wait for one another (the VFS's mutex guards only the names).
  mutable std::mutex mtx;
  mem_bytes bytes;

  /// File locks (SQLite's SHARED < RESERVED < PENDING < EXCLUSIVE): the
  /// connections at SHARED or above, and the one at RESERVED or above.
  int shared = 0;
  mem_handle* writer = nullptr;
  int writer_level = SQLITE_LOCK_NONE;

  /// The wal-index regions; their addresses never move.
  std::vector<std::unique_ptr<char[]>> regions;
  /// The connections that mapped it; the last unmap frees the regions.
  int shm_users = 0;
  /// Per lock slot: how many connections hold it shared, and which one
  /// holds it exclusively.
  std::array<int, SQLITE_SHM_NLOCK> shm_shared{};
  std::array<mem_handle*, SQLITE_SHM_NLOCK> shm_exclusive{};
};

/// Our sqlite3_file.
struct mem_handle {
  sqlite3_file base;
  mem_vfs::impl* owner = nullptr;
  std::shared_ptr<mem_file> file;
  /// The name it was opened under; empty for a temporary file.
  std::string path;
  bool delete_on_close = false;
  int level = SQLITE_LOCK_NONE;
  bool shm_mapped = false;
  std::uint32_t shm_shared_bits = 0;
  std::uint32_t shm_exclusive_bits = 0;
};

} // namespace sluice::detail

namespace sluice {

/// The controller's state; the VFS's `pAppData` and every handle's `owner`.
struct mem_vfs::impl {
  sqlite3_vfs vfs{};
  /// The default VFS, for time, randomness and sleeping.
  sqlite3_vfs* base = nullptr;
  std::string vfs_name{mem_vfs::name};
  sqlite3_io_methods methods{};

  /// Guards `routes`; `routes_version` changes with them, under it.
  /// `routed()`, asked at every commit, reads a copy per thread, taken again
  /// only after a change (twice a simulation run), so no reader waits.
  std::mutex routes_mtx;
  std::vector<std::string> routes;
  std::atomic<std::uint64_t> routes_version{0};
  /// Guards the names: `files` and `next_id`; a file's contents and locks
  /// have their own mutex (mem_file::mtx), taken after this one when both
  /// are held.
  mutable std::shared_mutex mtx;
  std::map<std::string, std::shared_ptr<detail::mem_file>, std::less<>> files;
  std::uint64_t next_id = 1;

  std::shared_ptr<detail::mem_file> make_file() {
    return std::make_shared<detail::mem_file>(next_id++);
  }

  /// The file named `path`, or null.
  std::shared_ptr<detail::mem_file> find(std::string_view path) const {
    std::shared_lock guard{mtx};
    auto i = files.find(path);
    return i == files.end() ? nullptr : i->second;
  }
};

} // namespace sluice

namespace sluice::detail {

/// Fills `d.vfs` and `d.methods` with the memory VFS's callbacks.
void install_mem_methods(mem_vfs::impl& d);

} // namespace sluice::detail
