// The fault VFS's SQLite callbacks: each forwards to the default VFS, keeps
// the undo log of the bytes a write replaces, and fails when a rule says so
// or when its handle is stale (opened before a crash).
#include "fault_vfs_impl.hpp"

#include <algorithm>
#include <new>

namespace sluice::detail {

namespace {

// -- io methods ----------------------------------------------------------------

int x_close(sqlite3_file* f) {
  auto* h = as_file(f);
  auto* self = impl_of(f);
  if (h->state) {
    std::lock_guard guard{self->mtx};
    auto& hs = h->state->handles;
    hs.erase(std::remove(hs.begin(), hs.end(), h), hs.end());
  }
  auto rc = h->real()->pMethods->xClose(h->real());
  h->~vfs_file();
  return rc;
}

/// A method of the real file, called through `Method`, unless the handle is
/// stale (opened before a crash): then `StaleRc`, as if its process had gone.
/// Its arguments are deduced where it is put in the method table.
template <auto Method, int StaleRc, class... Ts>
int forward_unless_stale(sqlite3_file* f, Ts... args) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return StaleRc;
  return (h->real()->pMethods->*Method)(h->real(), args...);
}

/// The frame of the methods that change a file (xWrite, xTruncate, xSync):
/// `io_code` on a stale handle; on a file the VFS does not track, `call`
/// alone; on a tracked one, under the lock, the error of a rule failing its
/// writes, else `tracked(real, state)`, which makes the call and keeps the
/// undo log.
template <class Call, class Tracked>
int change_file(sqlite3_file* f, int io_code, Call call, Tracked tracked) {
  auto* h = as_file(f);
  auto* self = impl_of(f);
  if (is_stale(self, h))
    return io_code;
  auto* real = h->real();
  if (!h->state)
    return call(real);
  std::lock_guard guard{self->mtx};
  auto& st = *h->state;
  if (auto rc = self->injected(st.path, io_code); rc != SQLITE_OK)
    return rc;
  return tracked(real, st);
}

int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 offset) {
  auto write = [=](sqlite3_file* real) { return real->pMethods->xWrite(real, buf, n, offset); };
  return change_file(f, SQLITE_IOERR_WRITE, write, [&](sqlite3_file* real, file_state& st) {
    auto off = static_cast<std::uint64_t>(offset);
    auto len = static_cast<std::uint64_t>(n);
    auto size = real_size(real);
    write_record rec{off, len, size, {}};
    if (off < size)
      rec.old_bytes = read_bytes(real, off, std::min(off + len, size) - off);
    auto keep_end = std::min({off + len, size, st.synced_size});
    if (off < keep_end)
      st.undo.push_back({off, rec.old_bytes.substr(0, keep_end - off)});
    auto rc = write(real);
    if (rc == SQLITE_OK) {
      st.unsynced_bytes += len;
      st.pending_write = std::move(rec);
    }
    return rc;
  });
}

int x_truncate(sqlite3_file* f, sqlite3_int64 new_size) {
  auto truncate = [=](sqlite3_file* real) { return real->pMethods->xTruncate(real, new_size); };
  return change_file(f, SQLITE_IOERR_TRUNCATE, truncate, [&](sqlite3_file* real, file_state& st) {
    auto to = static_cast<std::uint64_t>(new_size);
    auto size = real_size(real);
    auto keep_end = std::min(size, st.synced_size);
    if (to < keep_end)
      st.undo.push_back({to, read_bytes(real, to, keep_end - to)});
    auto rc = truncate(real);
    if (rc == SQLITE_OK) {
      if (to < size)
        st.unsynced_bytes += size - to;
      st.pending_write.reset();
    }
    return rc;
  });
}

int x_sync(sqlite3_file* f, int flags) {
  auto sync = [=](sqlite3_file* real) { return real->pMethods->xSync(real, flags); };
  return change_file(f, SQLITE_IOERR_FSYNC, sync, [&](sqlite3_file* real, file_state& st) {
    auto rc = sync(real);
    if (rc == SQLITE_OK) {
      st.synced_size = real_size(real);
      st.undo.clear();
      st.unsynced_bytes = 0;
      st.synced_write = std::move(st.pending_write);
      st.pending_write.reset();
    }
    return rc;
  });
}

int x_unlock(sqlite3_file* f, int level) {
  auto* h = as_file(f);
  return h->real()->pMethods->xUnlock(h->real(), level);
}

int x_sector_size(sqlite3_file* f) {
  auto* h = as_file(f);
  return h->real()->pMethods->xSectorSize(h->real());
}

int x_device_characteristics(sqlite3_file* f) {
  auto* h = as_file(f);
  return h->real()->pMethods->xDeviceCharacteristics(h->real());
}

int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  auto* h = as_file(f);
  if ((flags & SQLITE_SHM_UNLOCK) == 0 && is_stale(impl_of(f), h))
    return SQLITE_IOERR_SHMLOCK;
  return h->real()->pMethods->xShmLock(h->real(), offset, n, flags);
}

void x_shm_barrier(sqlite3_file* f) {
  auto* h = as_file(f);
  h->real()->pMethods->xShmBarrier(h->real());
}

int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  auto* h = as_file(f);
  return h->real()->pMethods->xShmUnmap(h->real(), delete_flag);
}

// -- vfs methods -----------------------------------------------------------------

fault_vfs::impl* impl_of(sqlite3_vfs* vfs) {
  return static_cast<fault_vfs::impl*>(vfs->pAppData);
}

int x_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* self = impl_of(vfs);
  auto* h = new (f) vfs_file{};
  h->base.pMethods = nullptr;
  h->owner = self;
  std::shared_ptr<file_state> state;
  bool tracked = name != nullptr && (flags & SQLITE_OPEN_DELETEONCLOSE) == 0;
  if (tracked) {
    std::lock_guard guard{self->mtx};
    if (auto i = self->files.find(name); i != self->files.end()) {
      for (auto* other : i->second->handles)
        if (is_stale(self, other)) {
          sqlite3_log(SQLITE_CANTOPEN, "sluice fault VFS: %s still has handles from before "
                                       "the crash; close them first", name);
          h->~vfs_file();
          f->pMethods = nullptr;
          return SQLITE_CANTOPEN;
        }
    }
  }
  auto* below = self->base_for(name);
  auto rc = below->xOpen(below, name, h->real(), flags, out_flags);
  if (rc != SQLITE_OK || h->real()->pMethods == nullptr) {
    h->~vfs_file();
    f->pMethods = nullptr;
    return rc;
  }
  h->base.pMethods = &self->methods;
  if (tracked) {
    std::lock_guard guard{self->mtx};
    auto& slot = self->files[name];
    if (!slot) {
      slot = std::make_shared<file_state>();
      slot->path = name;
      slot->synced_size = real_size(h->real());
    }
    h->state = slot;
    h->epoch = self->epoch.load();
    slot->handles.push_back(h);
  } else {
    h->epoch = self->epoch.load();
  }
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  auto* self = impl_of(vfs);
  auto* below = self->base_for(name);
  auto rc = below->xDelete(below, name, sync_dir);
  if (rc == SQLITE_OK) {
    std::lock_guard guard{self->mtx};
    self->files.erase(name);
  }
  return rc;
}

int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  auto* b = impl_of(vfs)->base_for(name);
  return b->xAccess(b, name, flags, out);
}

int x_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  auto* b = impl_of(vfs)->base_for(name);
  return b->xFullPathname(b, name, n, out);
}

void* x_dl_open(sqlite3_vfs* vfs, const char* name) {
  auto* b = impl_of(vfs)->base;
  return b->xDlOpen(b, name);
}

void x_dl_error(sqlite3_vfs* vfs, int n, char* out) {
  auto* b = impl_of(vfs)->base;
  b->xDlError(b, n, out);
}

void (*x_dl_sym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) {
  auto* b = impl_of(vfs)->base;
  return b->xDlSym(b, lib, sym);
}

void x_dl_close(sqlite3_vfs* vfs, void* lib) {
  auto* b = impl_of(vfs)->base;
  b->xDlClose(b, lib);
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

int x_get_last_error(sqlite3_vfs* vfs, int n, char* out) {
  auto* b = impl_of(vfs)->base;
  return b->xGetLastError ? b->xGetLastError(b, n, out) : 0;
}

int x_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  auto* b = impl_of(vfs)->base;
  return b->xCurrentTimeInt64(b, out);
}
} // namespace

void install_methods(fault_vfs::impl& d) {
  auto& v = d.vfs;
  v.iVersion = std::min(d.base->iVersion, 2);
  v.szOsFile = static_cast<int>(sizeof(vfs_file)) + std::max(d.base->szOsFile, d.memory->szOsFile);
  v.mxPathname = d.base->mxPathname;
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
  // Version 2 of the io methods: with shared memory (WAL), without xFetch,
  // so SQLite never reads through a memory map behind the undo log's back.
  auto& m = d.methods;
  m.iVersion = 2;
  m.xClose = x_close;
  m.xRead = forward_unless_stale<&sqlite3_io_methods::xRead, SQLITE_IOERR_READ>;
  m.xWrite = x_write;
  m.xTruncate = x_truncate;
  m.xSync = x_sync;
  m.xFileSize = forward_unless_stale<&sqlite3_io_methods::xFileSize, SQLITE_IOERR_FSTAT>;
  m.xLock = forward_unless_stale<&sqlite3_io_methods::xLock, SQLITE_IOERR_LOCK>;
  m.xUnlock = x_unlock;
  m.xCheckReservedLock = forward_unless_stale<&sqlite3_io_methods::xCheckReservedLock,
                                              SQLITE_IOERR_CHECKRESERVEDLOCK>;
  m.xFileControl = forward_unless_stale<&sqlite3_io_methods::xFileControl, SQLITE_NOTFOUND>;
  m.xSectorSize = x_sector_size;
  m.xDeviceCharacteristics = x_device_characteristics;
  m.xShmMap = forward_unless_stale<&sqlite3_io_methods::xShmMap, SQLITE_IOERR_SHMMAP>;
  m.xShmLock = x_shm_lock;
  m.xShmBarrier = x_shm_barrier;
  m.xShmUnmap = x_shm_unmap;
}

} // namespace sluice::detail
