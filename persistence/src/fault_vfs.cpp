// The fault VFS: a forwarding shim over SQLite's default VFS with an undo log
// of the bytes written since each file's last sync.
#include "sluice/fault_vfs.hpp"

#include "fault_vfs_impl.hpp"

#include "sluice/error.hpp"
#include "sluice/mem_vfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace sluice {

namespace {

using namespace detail;

/// Returns `p` absolute, normalized and with symlinks of its existing part
/// resolved (as SQLite's xFullPathname resolves them).
std::string normalized(const std::string& p) {
  namespace fs = std::filesystem;
  if (mem_vfs::routed(p)) // nothing of it is on the disk
    return fs::path{p}.lexically_normal().string();
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

std::atomic<bool> any_route{false};

// -- restoring files -------------------------------------------------------------

/// Writes or truncates one file, through an open handle of it when there is
/// one (opening and closing another descriptor would drop the process's
/// POSIX locks on it), else through a descriptor of its own.
class file_writer {
 public:
  explicit file_writer(file_state& st) : st_(st) {
    if (!st.handles.empty())
      real_ = st.handles.front()->real();
    else if (mem_vfs::routed(st.path))
      memory_ = mem_vfs::global().size(st.path).has_value();
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
    return real_ != nullptr || memory_ || fd_ >= 0;
  }

  std::uint64_t size() {
    if (real_ != nullptr)
      return real_size(real_);
    if (memory_)
      return mem_vfs::global().size(st_.path).value_or(0);
    struct stat sb {};
    return ::fstat(fd_, &sb) == 0 ? static_cast<std::uint64_t>(sb.st_size) : 0;
  }

  void write(std::uint64_t offset, const std::string& bytes) {
    if (bytes.empty())
      return;
    bool done = false;
    if (real_ != nullptr)
      done = real_->pMethods->xWrite(real_, bytes.data(), static_cast<int>(bytes.size()),
                                     static_cast<sqlite3_int64>(offset))
             == SQLITE_OK;
    else if (memory_)
      done = mem_vfs::global().write(st_.path, offset, bytes);
    else
      done = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset))
             == static_cast<ssize_t>(bytes.size());
    if (!done)
      throw storage_error("sluice: fault VFS cannot restore " + st_.path + " at offset "
                          + std::to_string(offset));
  }

  void truncate(std::uint64_t size) {
    bool done = false;
    if (real_ != nullptr)
      done = real_->pMethods->xTruncate(real_, static_cast<sqlite3_int64>(size)) == SQLITE_OK;
    else if (memory_)
      done = mem_vfs::global().truncate(st_.path, size);
    else
      done = ::ftruncate(fd_, static_cast<off_t>(size)) == 0;
    if (!done)
      throw storage_error("sluice: fault VFS cannot truncate " + st_.path + " to "
                          + std::to_string(size) + " bytes");
  }

 private:
  file_state& st_;
  sqlite3_file* real_ = nullptr;
  bool memory_ = false;
  int fd_ = -1;
};

} // namespace

// -- fault_vfs ---------------------------------------------------------------------

fault_vfs::fault_vfs() : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.base = sqlite3_vfs_find(nullptr);
  if (d.base == nullptr)
    throw storage_error("sluice: fault VFS: SQLite has no default VFS");
  mem_vfs::global(); // registers it
  d.memory = sqlite3_vfs_find(mem_vfs::name.data());
  install_methods(d);
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
  impl_->tears.insert_or_assign(std::move(f), keep_fraction);
}

crash_report fault_vfs::crash() {
  return crash_files(nullptr);
}

crash_report fault_vfs::crash(const std::string& dir) {
  if (dir.empty())
    throw invalid_argument("sluice: fault_vfs::crash: the directory is empty (\"\")");
  auto d = normalized(dir);
  return crash_files(&d);
}

crash_report fault_vfs::crash_files(const std::string* dir) {
  auto& d = *impl_;
  std::lock_guard guard{d.mtx};
  crash_report report;
  for (auto& [path, state] : d.files) {
    if (dir != nullptr && !is_under(path, *dir))
      continue;
    auto& st = *state;
    auto armed = d.tears.find(path);
    bool tear = armed != d.tears.end() && st.synced_write;
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
                    std::floor(static_cast<double>(w.length) * armed->second / 512.0))
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
  if (dir == nullptr) {
    d.tears.clear();
    d.epoch.fetch_add(1);
  } else {
    for (auto i = d.tears.begin(); i != d.tears.end();)
      i = is_under(i->first, *dir) ? d.tears.erase(i) : std::next(i);
  }
  for (auto& [path, state] : d.files) {
    if (dir != nullptr && !is_under(path, *dir))
      continue;
    for (auto* h : state->handles)
      h->stale = true;
    report.stale_handles += state->handles.size();
  }
  return report;
}

std::size_t fault_vfs::stale_handles() const {
  return count_stale(nullptr);
}

std::size_t fault_vfs::stale_handles(const std::string& dir) const {
  auto d = normalized(dir);
  return count_stale(&d);
}

std::size_t fault_vfs::count_stale(const std::string* dir) const {
  auto& d = *impl_;
  std::lock_guard guard{d.mtx};
  std::size_t n = 0;
  for (auto& [path, state] : d.files)
    if (dir == nullptr || is_under(path, *dir))
      n += static_cast<std::size_t>(std::count_if(state->handles.begin(), state->handles.end(),
                                                  [&](vfs_file* h) { return is_stale(&d, h); }));
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
  d.tears.clear();
  for (auto i = d.files.begin(); i != d.files.end();)
    i = i->second->handles.empty() ? d.files.erase(i) : std::next(i);
}

} // namespace sluice

