// The fault VFS: a forwarding shim over SQLite's default VFS with an undo log
// of the bytes written since each file's last sync.
#include "sluice/fault_vfs.hpp"

#include "sluice/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <new>
#include <system_error>

#include <sqlite3.h>

namespace sluice {

namespace {

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

  sqlite3_file* real() noexcept {
    return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(this) + sizeof(vfs_file));
  }
};

static_assert(sizeof(vfs_file) % 8 == 0, "the default VFS's file must stay 8-byte aligned");

struct fail_rule {
  std::string dir;
  storage_fault kind;
  fault_repeat repeat;
};

/// Returns `p` absolute, normalized and with symlinks of its existing part
/// resolved (as SQLite's xFullPathname resolves them).
std::string normalized(const std::string& p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto abs = fs::absolute(p, ec);
  if (ec)
    return p;
  auto canon = fs::weakly_canonical(abs, ec);
  auto out = (ec ? abs : canon).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/')
    out.pop_back();
  return out;
}

bool is_under(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir)
    return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

std::atomic<bool> any_route{false};

} // namespace

struct fault_vfs::impl {
  sqlite3_vfs vfs{};
  sqlite3_vfs* base = nullptr;
  std::string vfs_name{fault_vfs::name};
  sqlite3_io_methods methods{};

  mutable std::mutex mtx;
  std::vector<std::string> routes;          // normalized
  std::vector<fail_rule> rules;              // dirs normalized
  std::size_t failed = 0;
  std::optional<std::pair<std::string, double>> tear; // normalized path
  std::map<std::string, std::shared_ptr<file_state>> files;
  std::atomic<std::uint64_t> epoch{1};

  /// The error of a failing rule for `op` on `path`, or SQLITE_OK. `mtx` held.
  int injected(const std::string& path, int io_code) {
    for (auto i = rules.begin(); i != rules.end(); ++i) {
      if (!is_under(path, i->dir))
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

namespace {

vfs_file* as_file(sqlite3_file* f) {
  return reinterpret_cast<vfs_file*>(f);
}

fault_vfs::impl* impl_of(sqlite3_file* f) {
  return as_file(f)->owner;
}

bool is_stale(fault_vfs::impl* self, vfs_file* h) {
  return h->epoch != self->epoch.load();
}

std::uint64_t real_size(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK)
    return 0;
  return static_cast<std::uint64_t>(size);
}

/// Reads `n` bytes at `offset` of `real` (which must exist).
std::string read_bytes(sqlite3_file* real, std::uint64_t offset, std::uint64_t n) {
  std::string out(n, '\0');
  if (n > 0)
    real->pMethods->xRead(real, out.data(), static_cast<int>(n),
                          static_cast<sqlite3_int64>(offset));
  return out;
}

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

int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 offset) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return SQLITE_IOERR_READ;
  return h->real()->pMethods->xRead(h->real(), buf, n, offset);
}

int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 offset) {
  auto* h = as_file(f);
  auto* self = impl_of(f);
  if (is_stale(self, h))
    return SQLITE_IOERR_WRITE;
  auto* real = h->real();
  if (!h->state)
    return real->pMethods->xWrite(real, buf, n, offset);
  std::lock_guard guard{self->mtx};
  auto& st = *h->state;
  if (auto rc = self->injected(st.path, SQLITE_IOERR_WRITE); rc != SQLITE_OK)
    return rc;
  auto off = static_cast<std::uint64_t>(offset);
  auto len = static_cast<std::uint64_t>(n);
  auto size = real_size(real);
  write_record rec{off, len, size, {}};
  if (off < size)
    rec.old_bytes = read_bytes(real, off, std::min(off + len, size) - off);
  auto keep_end = std::min({off + len, size, st.synced_size});
  if (off < keep_end)
    st.undo.push_back({off, rec.old_bytes.substr(0, keep_end - off)});
  auto rc = real->pMethods->xWrite(real, buf, n, offset);
  if (rc == SQLITE_OK) {
    st.unsynced_bytes += len;
    st.pending_write = std::move(rec);
  }
  return rc;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 new_size) {
  auto* h = as_file(f);
  auto* self = impl_of(f);
  if (is_stale(self, h))
    return SQLITE_IOERR_TRUNCATE;
  auto* real = h->real();
  if (!h->state)
    return real->pMethods->xTruncate(real, new_size);
  std::lock_guard guard{self->mtx};
  auto& st = *h->state;
  if (auto rc = self->injected(st.path, SQLITE_IOERR_TRUNCATE); rc != SQLITE_OK)
    return rc;
  auto to = static_cast<std::uint64_t>(new_size);
  auto size = real_size(real);
  auto keep_end = std::min(size, st.synced_size);
  if (to < keep_end)
    st.undo.push_back({to, read_bytes(real, to, keep_end - to)});
  auto rc = real->pMethods->xTruncate(real, new_size);
  if (rc == SQLITE_OK) {
    if (to < size)
      st.unsynced_bytes += size - to;
    st.pending_write.reset();
  }
  return rc;
}

int x_sync(sqlite3_file* f, int flags) {
  auto* h = as_file(f);
  auto* self = impl_of(f);
  if (is_stale(self, h))
    return SQLITE_IOERR_FSYNC;
  auto* real = h->real();
  if (!h->state)
    return real->pMethods->xSync(real, flags);
  std::lock_guard guard{self->mtx};
  auto& st = *h->state;
  if (auto rc = self->injected(st.path, SQLITE_IOERR_FSYNC); rc != SQLITE_OK)
    return rc;
  auto rc = real->pMethods->xSync(real, flags);
  if (rc == SQLITE_OK) {
    st.synced_size = real_size(real);
    st.undo.clear();
    st.unsynced_bytes = 0;
    st.synced_write = std::move(st.pending_write);
    st.pending_write.reset();
  }
  return rc;
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return SQLITE_IOERR_FSTAT;
  return h->real()->pMethods->xFileSize(h->real(), size);
}

int x_lock(sqlite3_file* f, int level) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return SQLITE_IOERR_LOCK;
  return h->real()->pMethods->xLock(h->real(), level);
}

int x_unlock(sqlite3_file* f, int level) {
  auto* h = as_file(f);
  return h->real()->pMethods->xUnlock(h->real(), level);
}

int x_check_reserved_lock(sqlite3_file* f, int* out) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return SQLITE_IOERR_CHECKRESERVEDLOCK;
  return h->real()->pMethods->xCheckReservedLock(h->real(), out);
}

int x_file_control(sqlite3_file* f, int op, void* arg) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return SQLITE_NOTFOUND;
  return h->real()->pMethods->xFileControl(h->real(), op, arg);
}

int x_sector_size(sqlite3_file* f) {
  auto* h = as_file(f);
  return h->real()->pMethods->xSectorSize(h->real());
}

int x_device_characteristics(sqlite3_file* f) {
  auto* h = as_file(f);
  return h->real()->pMethods->xDeviceCharacteristics(h->real());
}

int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** pp) {
  auto* h = as_file(f);
  if (is_stale(impl_of(f), h))
    return SQLITE_IOERR_SHMMAP;
  return h->real()->pMethods->xShmMap(h->real(), region, size, extend, pp);
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
      auto e = self->epoch.load();
      for (auto* other : i->second->handles)
        if (other->epoch != e) {
          sqlite3_log(SQLITE_CANTOPEN, "sluice fault VFS: %s still has handles from before "
                                       "the crash; close them first", name);
          h->~vfs_file();
          f->pMethods = nullptr;
          return SQLITE_CANTOPEN;
        }
    }
  }
  auto rc = self->base->xOpen(self->base, name, h->real(), flags, out_flags);
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
  auto rc = self->base->xDelete(self->base, name, sync_dir);
  if (rc == SQLITE_OK) {
    std::lock_guard guard{self->mtx};
    self->files.erase(name);
  }
  return rc;
}

int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  auto* b = impl_of(vfs)->base;
  return b->xAccess(b, name, flags, out);
}

int x_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  auto* b = impl_of(vfs)->base;
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

// -- restoring files -------------------------------------------------------------

/// Writes or truncates one file, through an open handle of it when there is
/// one (opening and closing another descriptor would drop the process's
/// POSIX locks on it), else through a descriptor of its own.
class file_writer {
 public:
  explicit file_writer(file_state& st) : st_(st) {
    if (!st.handles.empty())
      real_ = st.handles.front()->real();
    else
      fd_ = ::open(st.path.c_str(), O_RDWR | O_CLOEXEC);
  }

  ~file_writer() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  file_writer(const file_writer&) = delete;
  file_writer& operator=(const file_writer&) = delete;

  /// False when the file is gone (deleted without the VFS).
  bool ok() const noexcept {
    return real_ != nullptr || fd_ >= 0;
  }

  std::uint64_t size() {
    if (real_ != nullptr)
      return real_size(real_);
    struct stat sb {};
    return ::fstat(fd_, &sb) == 0 ? static_cast<std::uint64_t>(sb.st_size) : 0;
  }

  void write(std::uint64_t offset, const std::string& bytes) {
    if (bytes.empty())
      return;
    bool done = real_ != nullptr
                  ? real_->pMethods->xWrite(real_, bytes.data(), static_cast<int>(bytes.size()),
                                            static_cast<sqlite3_int64>(offset))
                      == SQLITE_OK
                  : ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset))
                      == static_cast<ssize_t>(bytes.size());
    if (!done)
      throw storage_error("sluice: fault VFS cannot restore " + st_.path + " at offset "
                          + std::to_string(offset));
  }

  void truncate(std::uint64_t size) {
    bool done = real_ != nullptr
                  ? real_->pMethods->xTruncate(real_, static_cast<sqlite3_int64>(size))
                      == SQLITE_OK
                  : ::ftruncate(fd_, static_cast<off_t>(size)) == 0;
    if (!done)
      throw storage_error("sluice: fault VFS cannot truncate " + st_.path + " to "
                          + std::to_string(size) + " bytes");
  }

 private:
  file_state& st_;
  sqlite3_file* real_ = nullptr;
  int fd_ = -1;
};

} // namespace

// -- fault_vfs ---------------------------------------------------------------------

fault_vfs::fault_vfs() : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.base = sqlite3_vfs_find(nullptr);
  if (d.base == nullptr)
    throw storage_error("sluice: fault VFS: SQLite has no default VFS");
  auto& v = d.vfs;
  v.iVersion = std::min(d.base->iVersion, 2);
  v.szOsFile = static_cast<int>(sizeof(vfs_file)) + d.base->szOsFile;
  v.mxPathname = d.base->mxPathname;
  v.zName = d.vfs_name.c_str();
  v.pAppData = impl_.get();
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

fault_vfs& fault_vfs::global() {
  static fault_vfs* instance = [] {
    auto* result = new fault_vfs();
    if (auto rc = sqlite3_vfs_register(&result->impl_->vfs, 0); rc != SQLITE_OK)
      throw storage_error(std::string{"sluice: cannot register the fault VFS: "}
                          + sqlite3_errstr(rc));
    return result;
  }();
  return *instance;
}

void fault_vfs::route(const std::string& dir) {
  if (dir.empty())
    throw invalid_argument("sluice: fault_vfs::route: the directory is empty (\"\")");
  auto d = normalized(dir);
  std::lock_guard guard{impl_->mtx};
  impl_->routes.push_back(std::move(d));
  any_route = true;
}

void fault_vfs::unroute(const std::string& dir) {
  auto d = normalized(dir);
  std::lock_guard guard{impl_->mtx};
  auto& r = impl_->routes;
  r.erase(std::remove(r.begin(), r.end(), d), r.end());
  any_route = !r.empty();
}

void fault_vfs::unroute_all() {
  std::lock_guard guard{impl_->mtx};
  impl_->routes.clear();
  any_route = false;
}

const char* fault_vfs::vfs_for(const std::string& path) {
  if (!any_route.load(std::memory_order_relaxed))
    return nullptr;
  auto& self = global();
  auto p = normalized(path);
  std::lock_guard guard{self.impl_->mtx};
  for (const auto& dir : self.impl_->routes)
    if (is_under(p, dir))
      return self.impl_->vfs_name.c_str();
  return nullptr;
}

void fault_vfs::fail_writes(const std::string& dir, storage_fault kind, fault_repeat repeat) {
  if (dir.empty())
    throw invalid_argument("sluice: fault_vfs::fail_writes: the directory is empty (\"\")");
  if (kind != storage_fault::disk_full && kind != storage_fault::io_error)
    throw invalid_argument("sluice: fault_vfs::fail_writes: unknown storage_fault "
                           + std::to_string(static_cast<int>(kind)));
  if (repeat != fault_repeat::next && repeat != fault_repeat::every)
    throw invalid_argument("sluice: fault_vfs::fail_writes: unknown fault_repeat "
                           + std::to_string(static_cast<int>(repeat)));
  auto d = normalized(dir);
  std::lock_guard guard{impl_->mtx};
  impl_->rules.push_back({std::move(d), kind, repeat});
}

void fault_vfs::clear_failures() {
  std::lock_guard guard{impl_->mtx};
  impl_->rules.clear();
}

void fault_vfs::clear_failures(const std::string& dir) {
  auto d = normalized(dir);
  std::lock_guard guard{impl_->mtx};
  auto& r = impl_->rules;
  r.erase(std::remove_if(r.begin(), r.end(), [&](const fail_rule& x) { return x.dir == d; }),
          r.end());
}

std::size_t fault_vfs::failed_operations() const {
  std::lock_guard guard{impl_->mtx};
  return impl_->failed;
}

void fault_vfs::tear_on_crash(const std::string& file, double keep_fraction) {
  if (file.empty())
    throw invalid_argument("sluice: fault_vfs::tear_on_crash: the file is empty (\"\")");
  if (!(keep_fraction >= 0.0 && keep_fraction < 1.0))
    throw invalid_argument("sluice: fault_vfs::tear_on_crash: keep_fraction "
                           + std::to_string(keep_fraction) + " is outside [0, 1)");
  auto f = normalized(file);
  std::lock_guard guard{impl_->mtx};
  impl_->tear = std::make_pair(std::move(f), keep_fraction);
}

crash_report fault_vfs::crash() {
  auto& d = *impl_;
  std::lock_guard guard{d.mtx};
  crash_report report;
  for (auto& [path, state] : d.files) {
    auto& st = *state;
    bool tear = d.tear && d.tear->first == path && st.synced_write;
    if (st.undo.empty() && st.unsynced_bytes == 0 && !tear) {
      continue;
    }
    file_writer out{st};
    if (!out.ok())
      continue;
    crash_report::file entry{path, st.unsynced_bytes, out.size(), 0};
    for (auto i = st.undo.rbegin(); i != st.undo.rend(); ++i)
      out.write(i->offset, i->old_bytes);
    out.truncate(st.synced_size);
    if (tear) {
      const auto& w = *st.synced_write;
      auto kept = static_cast<std::uint64_t>(
                    std::floor(static_cast<double>(w.length) * d.tear->second / 512.0))
                  * 512;
      if (kept < w.length && w.offset < st.synced_size) {
        auto from = w.offset + kept;
        if (from < w.size_before)
          out.write(from, w.old_bytes.substr(kept));
        auto end = std::max(w.size_before, from);
        if (end < st.synced_size)
          out.truncate(end);
        report.torn = torn_write{path, w.offset, w.length, kept};
        st.synced_size = std::min(st.synced_size, end);
      }
      st.synced_write.reset();
    }
    entry.size_after = out.size();
    report.unsynced_bytes += entry.unsynced_bytes;
    report.files.push_back(std::move(entry));
    st.undo.clear();
    st.unsynced_bytes = 0;
    st.pending_write.reset();
  }
  d.tear.reset();
  d.epoch.fetch_add(1);
  for (auto& [path, state] : d.files)
    report.stale_handles += state->handles.size();
  return report;
}

std::size_t fault_vfs::stale_handles() const {
  auto& d = *impl_;
  std::lock_guard guard{d.mtx};
  auto e = d.epoch.load();
  std::size_t n = 0;
  for (auto& [path, state] : d.files)
    n += static_cast<std::size_t>(
      std::count_if(state->handles.begin(), state->handles.end(),
                    [e](vfs_file* h) { return h->epoch != e; }));
  return n;
}

std::uint64_t fault_vfs::unsynced_bytes(const std::string& file) const {
  auto f = normalized(file);
  std::lock_guard guard{impl_->mtx};
  auto i = impl_->files.find(f);
  return i == impl_->files.end() ? 0 : i->second->unsynced_bytes;
}

void fault_vfs::reset() {
  auto& d = *impl_;
  std::lock_guard guard{d.mtx};
  d.routes.clear();
  any_route = false;
  d.rules.clear();
  d.tear.reset();
  for (auto i = d.files.begin(); i != d.files.end();)
    i = i->second->handles.empty() ? d.files.erase(i) : std::next(i);
}

} // namespace sluice
