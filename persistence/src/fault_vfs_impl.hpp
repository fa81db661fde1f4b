// Internals of the fault VFS shared by its controller (fault_vfs.cpp) and
// its SQLite callbacks (fault_vfs_file.cpp). Includes sqlite3.h: not a public header.
#pragma once

#include "sluice/fault_vfs.hpp"

#include "path_prefix.hpp"
#include "sluice/mem_vfs.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

namespace sluice::detail {

/// Bytes a write replaced, to put back on a crash.
struct undo_entry {
  std::uint64_t offset;
  std::string old_bytes;
};

/// One write, kept for tearing it later.
struct write_record {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  /// The file's size before the write.
  std::uint64_t size_before = 0;
  /// The bytes the write replaced (those below `size_before`).
  std::string old_bytes;
};

struct vfs_file;

/// What the VFS knows of one path.
struct file_state {
  std::string path;
  /// The size as of the last sync (or as found when first opened).
  std::uint64_t synced_size = 0;
  /// Replaced bytes below `synced_size` since the last sync, oldest first.
  std::vector<undo_entry> undo;
  std::uint64_t unsynced_bytes = 0;
  /// The last write since the last sync, and the last one before it.
  std::optional<write_record> pending_write;
  std::optional<write_record> synced_write;
  /// Open handles of this path (current and stale).
  std::vector<vfs_file*> handles;
};

/// Our sqlite3_file; the default VFS's file follows it in the same allocation.
struct vfs_file {
  sqlite3_file base;
  fault_vfs::impl* owner = nullptr;
  std::shared_ptr<file_state> state; // null for files without a name
  std::uint64_t epoch = 0;
  /// Made stale by a crash of its directory (`fault_vfs::crash(dir)`).
  std::atomic<bool> stale{false};

  sqlite3_file* real() noexcept {
    return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(this) + sizeof(vfs_file));
  }
};

static_assert(sizeof(vfs_file) % 8 == 0, "the default VFS's file must stay 8-byte aligned");

/// One rule of `fault_vfs::fail_writes`.
struct fail_rule {
  std::string dir;
  storage_fault kind;
  fault_repeat repeat;
};

} // namespace sluice::detail

namespace sluice {

/// The controller's state; the VFS's `pAppData` and every file's `owner`.
struct fault_vfs::impl {
  sqlite3_vfs vfs{};
  sqlite3_vfs* base = nullptr;
  /// The memory VFS, below files under one of its routes (mem_vfs.hpp).
  sqlite3_vfs* memory = nullptr;
  std::string vfs_name{fault_vfs::name};
  sqlite3_io_methods methods{};

  mutable std::mutex mtx;
  /// Guarded by `mtx`, as the members up to `files`; paths are normalized.
  std::vector<std::string> routes;
  std::vector<detail::fail_rule> rules;
  std::size_t failed = 0;
  /// The files to tear at the next crash of theirs, and the fraction to keep.
  std::map<std::string, double> tears;
  /// By the path SQLite opened.
  std::map<std::string, std::shared_ptr<detail::file_state>> files;
  /// Raised by each crash; a handle opened before is stale.
  std::atomic<std::uint64_t> epoch{1};

  /// The VFS below `name`: the memory VFS when it keeps that path.
  sqlite3_vfs* base_for(const char* name) const {
    return name != nullptr && mem_vfs::routed(name) ? memory : base;
  }

  /// The error of a failing rule for `op` on `path`, or SQLITE_OK. `mtx` held.
  int injected(const std::string& path, int io_code) {
    for (auto i = rules.begin(); i != rules.end(); ++i) {
      if (!detail::is_under(path, i->dir))
        continue;
      auto kind = i->kind;
      if (i->repeat == fault_repeat::next)
        rules.erase(i);
      ++failed;
      return kind == storage_fault::disk_full ? SQLITE_FULL : io_code;
    }
    return SQLITE_OK;
  }
};

} // namespace sluice

namespace sluice::detail {

inline vfs_file* as_file(sqlite3_file* f) {
  return reinterpret_cast<vfs_file*>(f);
}

inline fault_vfs::impl* impl_of(sqlite3_file* f) {
  return as_file(f)->owner;
}

inline bool is_stale(fault_vfs::impl* self, vfs_file* h) {
  return h->epoch != self->epoch.load() || h->stale.load(std::memory_order_relaxed);
}

inline std::uint64_t real_size(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK)
    return 0;
  return static_cast<std::uint64_t>(size);
}

/// Reads `n` bytes at `offset` of `real` (which must exist).
inline std::string read_bytes(sqlite3_file* real, std::uint64_t offset, std::uint64_t n) {
  std::string out(n, '\0');
  if (n > 0)
    real->pMethods->xRead(real, out.data(), static_cast<int>(n),
                          static_cast<sqlite3_int64>(offset));
  return out;
}

/// Fills `d.vfs` and `d.methods` with the callbacks forwarding to `d.base`.
void install_methods(fault_vfs::impl& d);

} // namespace sluice::detail
