// The memory VFS's SQLite callbacks. Locks follow SQLite's unix VFS as seen
// by the connections of one process: file locks SHARED < RESERVED < PENDING
// < EXCLUSIVE, and the WAL's eight shared-memory lock slots; a conflict is
// SQLITE_BUSY, never a wait.
#include "mem_vfs_impl.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

namespace sluice::detail {

namespace {

mem_handle* as_handle(sqlite3_file* f) {
  return reinterpret_cast<mem_handle*>(f);
}

/// Runs `f(handle, file)` under the file's mutex.
template <class F>
int locked(sqlite3_file* f, F fn) {
  auto* h = as_handle(f);
  std::lock_guard guard{h->file->mtx};
  return fn(*h, *h->file);
}

// -- file locks ----------------------------------------------------------------

int lock_file(mem_handle& h, mem_file& m, int level) {
  if (h.level >= level)
    return SQLITE_OK;
  if (level == SQLITE_LOCK_SHARED) {
    // A writer waiting for EXCLUSIVE (PENDING) keeps new readers out.
    if (m.writer != nullptr && m.writer != &h && m.writer_level >= SQLITE_LOCK_PENDING)
      return SQLITE_BUSY;
    ++m.shared;
    h.level = SQLITE_LOCK_SHARED;
    return SQLITE_OK;
  }
  // RESERVED or EXCLUSIVE: SQLite holds SHARED first.
  if (m.writer != nullptr && m.writer != &h)
    return SQLITE_BUSY;
  m.writer = &h;
  if (level == SQLITE_LOCK_RESERVED) {
    m.writer_level = h.level = SQLITE_LOCK_RESERVED;
    return SQLITE_OK;
  }
  if (m.shared > 1) { // other readers: wait as PENDING
    m.writer_level = h.level = SQLITE_LOCK_PENDING;
    return SQLITE_BUSY;
  }
  m.writer_level = h.level = SQLITE_LOCK_EXCLUSIVE;
  return SQLITE_OK;
}

void unlock_file(mem_handle& h, mem_file& m, int level) {
  if (h.level <= level)
    return;
  if (h.level > SQLITE_LOCK_SHARED && m.writer == &h) {
    m.writer = nullptr;
    m.writer_level = SQLITE_LOCK_NONE;
  }
  if (level == SQLITE_LOCK_NONE && h.level >= SQLITE_LOCK_SHARED)
    --m.shared;
  h.level = level;
}

// -- shared memory (the wal-index) ---------------------------------------------------

void release_shm_locks(mem_handle& h, mem_file& m) {
  for (int slot = 0; slot < SQLITE_SHM_NLOCK; ++slot) {
    auto bit = 1u << slot;
    if ((h.shm_shared_bits & bit) != 0)
      --m.shm_shared[static_cast<size_t>(slot)];
    if ((h.shm_exclusive_bits & bit) != 0)
      m.shm_exclusive[static_cast<size_t>(slot)] = nullptr;
  }
  h.shm_shared_bits = h.shm_exclusive_bits = 0;
}

void unmap_shm(mem_handle& h, mem_file& m) {
  if (!h.shm_mapped)
    return;
  release_shm_locks(h, m);
  h.shm_mapped = false;
  // The last user frees it: the next connection finds it zeroed and
  // rebuilds it from the -wal file, as after a restart.
  if (--m.shm_users == 0)
    m.regions.clear();
}

int shm_lock(mem_handle& h, mem_file& m, int offset, int n, int flags) {
  std::uint32_t bits = ((1u << n) - 1) << offset;
  auto range = [&](auto fn) {
    for (int slot = offset; slot < offset + n; ++slot)
      if (!fn(static_cast<size_t>(slot), 1u << slot))
        return false;
    return true;
  };
  if ((flags & SQLITE_SHM_UNLOCK) != 0) {
    range([&](size_t s, std::uint32_t bit) {
      if ((flags & SQLITE_SHM_SHARED) != 0 && (h.shm_shared_bits & bit) != 0)
        --m.shm_shared[s];
      if ((flags & SQLITE_SHM_EXCLUSIVE) != 0 && (h.shm_exclusive_bits & bit) != 0)
        m.shm_exclusive[s] = nullptr;
      return true;
    });
    if ((flags & SQLITE_SHM_SHARED) != 0)
      h.shm_shared_bits &= ~bits;
    else
      h.shm_exclusive_bits &= ~bits;
    return SQLITE_OK;
  }
  if ((flags & SQLITE_SHM_SHARED) != 0) {
    bool free = range([&](size_t s, std::uint32_t) {
      return m.shm_exclusive[s] == nullptr || m.shm_exclusive[s] == &h;
    });
    if (!free)
      return SQLITE_BUSY;
    range([&](size_t s, std::uint32_t bit) {
      if ((h.shm_shared_bits & bit) == 0)
        ++m.shm_shared[s];
      return true;
    });
    h.shm_shared_bits |= bits;
    return SQLITE_OK;
  }
  bool free = range([&](size_t s, std::uint32_t bit) {
    int others = m.shm_shared[s] - ((h.shm_shared_bits & bit) != 0 ? 1 : 0);
    return others == 0 && (m.shm_exclusive[s] == nullptr || m.shm_exclusive[s] == &h);
  });
  if (!free)
    return SQLITE_BUSY;
  range([&](size_t s, std::uint32_t) {
    m.shm_exclusive[s] = &h;
    return true;
  });
  h.shm_exclusive_bits |= bits;
  return SQLITE_OK;
}

// -- io methods ----------------------------------------------------------------

int x_close(sqlite3_file* f) {
  auto* h = as_handle(f);
  {
    auto& m = *h->file;
    std::lock_guard guard{m.mtx};
    unlock_file(*h, m, SQLITE_LOCK_NONE);
    unmap_shm(*h, m);
  }
  if (h->delete_on_close && !h->path.empty()) {
    std::lock_guard guard{h->owner->mtx};
    auto& files = h->owner->files;
    if (auto i = files.find(h->path); i != files.end() && i->second == h->file)
      files.erase(i);
  }
  h->file.reset();
  h->~mem_handle();
  return SQLITE_OK;
}

int x_read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
  return locked(f, [&](mem_handle&, mem_file& m) {
    auto want = static_cast<std::uint64_t>(n);
    auto have = m.bytes.read(static_cast<std::uint64_t>(offset), out, want);
    if (have == want)
      return SQLITE_OK;
    // SQLite's contract: zero-fill what lies past the end.
    std::memset(static_cast<char*>(out) + have, 0, want - have);
    return SQLITE_IOERR_SHORT_READ;
  });
}

int x_write(sqlite3_file* f, const void* in, int n, sqlite3_int64 offset) {
  return locked(f, [&](mem_handle&, mem_file& m) {
    m.bytes.write(static_cast<std::uint64_t>(offset), in, static_cast<std::uint64_t>(n));
    return SQLITE_OK;
  });
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return locked(f, [&](mem_handle&, mem_file& m) {
    m.bytes.truncate(static_cast<std::uint64_t>(size));
    return SQLITE_OK;
  });
}

int x_sync(sqlite3_file*, int) {
  return SQLITE_OK;
}

int x_file_size(sqlite3_file* f, sqlite3_int64* out) {
  return locked(f, [&](mem_handle&, mem_file& m) {
    *out = static_cast<sqlite3_int64>(m.bytes.size());
    return SQLITE_OK;
  });
}

int x_lock(sqlite3_file* f, int level) {
  return locked(f, [&](mem_handle& h, mem_file& m) { return lock_file(h, m, level); });
}

int x_unlock(sqlite3_file* f, int level) {
  return locked(f, [&](mem_handle& h, mem_file& m) {
    unlock_file(h, m, level);
    return SQLITE_OK;
  });
}

int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return locked(f, [&](mem_handle&, mem_file& m) {
    *out = m.writer != nullptr ? 1 : 0;
    return SQLITE_OK;
  });
}

int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (op != SQLITE_FCNTL_HAS_MOVED)
    return SQLITE_NOTFOUND;
  auto* h = as_handle(f);
  *static_cast<int*>(arg) = !h->path.empty() && h->owner->find(h->path) != h->file;
  return SQLITE_OK;
}

// As SQLite's unix VFS reports for a tmpfs file: WAL frame padding and so
// the offsets fault_vfs tears depend on them.
int x_sector_size(sqlite3_file*) {
  return 4096;
}

int x_device_characteristics(sqlite3_file*) {
  return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return locked(f, [&](mem_handle& h, mem_file& m) {
    if (!h.shm_mapped) {
      h.shm_mapped = true;
      ++m.shm_users;
    }
    auto i = static_cast<size_t>(region);
    if (i >= m.regions.size()) {
      if (extend == 0) {
        *out = nullptr;
        return SQLITE_OK;
      }
      while (m.regions.size() <= i) {
        auto bytes = std::make_unique<char[]>(static_cast<size_t>(size));
        std::memset(bytes.get(), 0, static_cast<size_t>(size));
        m.regions.push_back(std::move(bytes));
      }
    }
    *out = m.regions[i].get();
    return SQLITE_OK;
  });
}

int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return locked(f, [&](mem_handle& h, mem_file& m) { return shm_lock(h, m, offset, n, flags); });
}

void x_shm_barrier(sqlite3_file*) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

int x_shm_unmap(sqlite3_file* f, int) {
  return locked(f, [&](mem_handle& h, mem_file& m) {
    unmap_shm(h, m);
    return SQLITE_OK;
  });
}

// -- vfs methods -----------------------------------------------------------------

mem_vfs::impl* impl_of(sqlite3_vfs* vfs) {
  return static_cast<mem_vfs::impl*>(vfs->pAppData);
}

int x_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* self = impl_of(vfs);
  f->pMethods = nullptr; // SQLite's contract for a failed open
  std::lock_guard guard{self->mtx};
  std::shared_ptr<mem_file> file;
  if (name == nullptr) {
    file = self->make_file();
  } else if (auto i = self->files.find(name); i != self->files.end()) {
    if ((flags & SQLITE_OPEN_EXCLUSIVE) != 0)
      return SQLITE_CANTOPEN;
    file = i->second;
  } else {
    if ((flags & SQLITE_OPEN_CREATE) == 0)
      return SQLITE_CANTOPEN;
    file = self->files.emplace(name, self->make_file()).first->second;
  }
  auto* h = new (f) mem_handle{};
  h->owner = self;
  h->file = std::move(file);
  h->path = name == nullptr ? "" : name;
  h->delete_on_close = name == nullptr || (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  h->base.pMethods = &self->methods;
  if (out_flags != nullptr)
    *out_flags = flags;
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int) {
  auto* self = impl_of(vfs);
  std::lock_guard guard{self->mtx};
  return self->files.erase(name) != 0 ? SQLITE_OK : SQLITE_IOERR_DELETE_NOENT;
}

int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  auto file = impl_of(vfs)->find(name);
  // As the unix VFS: an empty file does not "exist" (an empty -wal file).
  if (file && flags == SQLITE_ACCESS_EXISTS) {
    std::lock_guard guard{file->mtx};
    *out = file->bytes.size() > 0;
  } else {
    *out = file != nullptr;
  }
  return SQLITE_OK;
}

int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  auto len = std::strlen(name);
  if (len + 1 > static_cast<size_t>(n))
    return SQLITE_CANTOPEN;
  std::memcpy(out, name, len + 1);
  return SQLITE_OK;
}

void* x_dl_open(sqlite3_vfs*, const char*) {
  return nullptr;
}

void x_dl_error(sqlite3_vfs*, int n, char* out) {
  sqlite3_snprintf(n, out, "the memory VFS loads no extensions");
}

void (*x_dl_sym(sqlite3_vfs*, void*, const char*))(void) {
  return nullptr;
}

void x_dl_close(sqlite3_vfs*, void*) {
  // nop
}

int x_randomness(sqlite3_vfs* vfs, int n, char* out) {
  auto* b = impl_of(vfs)->base;
  return b->xRandomness(b, n, out);
}

int x_sleep(sqlite3_vfs* vfs, int micros) {
  auto* b = impl_of(vfs)->base;
  return b->xSleep(b, micros);
}

int x_current_time(sqlite3_vfs* vfs, double* out) {
  auto* b = impl_of(vfs)->base;
  return b->xCurrentTime(b, out);
}

int x_get_last_error(sqlite3_vfs*, int, char*) {
  return 0;
}

int x_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  auto* b = impl_of(vfs)->base;
  return b->xCurrentTimeInt64(b, out);
}

} // namespace

void install_mem_methods(mem_vfs::impl& d) {
  auto& v = d.vfs;
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(sizeof(mem_handle));
  v.mxPathname = 1024;
  v.zName = d.vfs_name.c_str();
  v.pAppData = &d;
  v.xOpen = x_open;
  v.xDelete = x_delete;
  v.xAccess = x_access;
  v.xFullPathname = x_full_pathname;
  v.xDlOpen = x_dl_open;
  v.xDlError = x_dl_error;
  v.xDlSym = x_dl_sym;
  v.xDlClose = x_dl_close;
  v.xRandomness = x_randomness;
  v.xSleep = x_sleep;
  v.xCurrentTime = x_current_time;
  v.xGetLastError = x_get_last_error;
  v.xCurrentTimeInt64 = x_current_time_int64;
  auto& m = d.methods;
  m.iVersion = 2; // shared memory, no xFetch
  m.xClose = x_close;
  m.xRead = x_read;
  m.xWrite = x_write;
  m.xTruncate = x_truncate;
  m.xSync = x_sync;
  m.xFileSize = x_file_size;
  m.xLock = x_lock;
  m.xUnlock = x_unlock;
  m.xCheckReservedLock = x_check_reserved_lock;
  m.xFileControl = x_file_control;
  m.xSectorSize = x_sector_size;
  m.xDeviceCharacteristics = x_device_characteristics;
  m.xShmMap = x_shm_map;
  m.xShmLock = x_shm_lock;
  m.xShmBarrier = x_shm_barrier;
  m.xShmUnmap = x_shm_unmap;
}

} // namespace sluice::detail
