// The memory VFS's controller: routes and the file operations sluice's own
// code makes beside SQLite (sizes, identities, links, renames).
#include "sluice/mem_vfs.hpp"

#include "mem_vfs_impl.hpp"
#include "path_prefix.hpp"

#include "sluice/error.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace sluice {

namespace {

using namespace detail;

std::atomic<bool> any_route{false};

std::string without_trailing_slash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir;
}

} // namespace

// -- mem_bytes ---------------------------------------------------------------------

namespace detail {

std::uint64_t mem_bytes::read(std::uint64_t offset, void* out, std::uint64_t n) const {
  if (offset >= size_)
    return 0;
  n = std::min(n, size_ - offset);
  auto* dst = static_cast<char*>(out);
  for (std::uint64_t done = 0; done < n;) {
    auto at = offset + done;
    auto part = std::min(n - done, chunk - at % chunk);
    std::memcpy(dst + done, chunks_[at / chunk].get() + at % chunk, part);
    done += part;
  }
  return n;
}

void mem_bytes::write(std::uint64_t offset, const void* in, std::uint64_t n) {
  reserve(offset + n);
  if (offset > size_)
    zero(size_, offset);
  const auto* src = static_cast<const char*>(in);
  for (std::uint64_t done = 0; done < n;) {
    auto at = offset + done;
    auto part = std::min(n - done, chunk - at % chunk);
    std::memcpy(chunks_[at / chunk].get() + at % chunk, src + done, part);
    done += part;
  }
  size_ = std::max(size_, offset + n);
}

void mem_bytes::truncate(std::uint64_t n) {
  if (n >= size_) {
    reserve(n);
    zero(size_, n);
  } else {
    chunks_.resize((n + chunk - 1) / chunk);
  }
  size_ = n;
}

void mem_bytes::reserve(std::uint64_t n) {
  // Not zeroed: a file grows by appends, and a gap is zeroed by zero().
  while (chunks_.size() * chunk < n)
    chunks_.push_back(std::unique_ptr<char[]>(new char[chunk]));
}

void mem_bytes::zero(std::uint64_t from, std::uint64_t to) {
  while (from < to) {
    auto part = std::min(to - from, chunk - from % chunk);
    std::memset(chunks_[from / chunk].get() + from % chunk, 0, part);
    from += part;
  }
}

} // namespace detail

mem_vfs::mem_vfs() : impl_(std::make_unique<impl>()) {
  impl_->base = sqlite3_vfs_find(nullptr);
  if (impl_->base == nullptr)
    throw storage_error("sluice: memory VFS: SQLite has no default VFS");
  install_mem_methods(*impl_);
}

mem_vfs& mem_vfs::global() {
  static mem_vfs* instance = [] {
    auto* result = new mem_vfs();
    if (auto rc = sqlite3_vfs_register(&result->impl_->vfs, 0); rc != SQLITE_OK)
      throw storage_error(std::string{"sluice: cannot register the memory VFS: "}
                          + sqlite3_errstr(rc));
    return result;
  }();
  return *instance;
}

void mem_vfs::route(const std::string& dir) {
  if (dir.empty() || dir.front() != '/')
    throw invalid_argument("sluice: mem_vfs::route: \"" + dir
                           + "\" is not an absolute directory path");
  std::lock_guard guard{impl_->routes_mtx};
  impl_->routes.push_back(without_trailing_slash(dir));
  impl_->routes_version.fetch_add(1);
  any_route = true;
}

void mem_vfs::forget(const std::string& dir) {
  auto d = without_trailing_slash(dir);
  {
    std::lock_guard guard{impl_->routes_mtx};
    auto& r = impl_->routes;
    r.erase(std::remove(r.begin(), r.end(), d), r.end());
    impl_->routes_version.fetch_add(1);
    any_route = !r.empty();
  }
  std::lock_guard guard{impl_->mtx};
  for (auto i = impl_->files.begin(); i != impl_->files.end();)
    i = is_under(i->first, d) ? impl_->files.erase(i) : std::next(i);
}

bool mem_vfs::routed(std::string_view path) {
  if (!any_route.load(std::memory_order_relaxed))
    return false;
  auto& d = *global().impl_;
  thread_local std::uint64_t seen = UINT64_MAX;
  thread_local std::vector<std::string> routes;
  if (d.routes_version.load() != seen) {
    std::lock_guard guard{d.routes_mtx};
    routes = d.routes;
    seen = d.routes_version.load();
  }
  return std::any_of(routes.begin(), routes.end(),
                     [&](const std::string& dir) { return is_under(path, dir); });
}

std::optional<std::uint64_t> mem_vfs::size(const std::string& path) const {
  auto file = impl_->find(path);
  if (!file)
    return std::nullopt;
  std::lock_guard guard{file->mtx};
  return file->bytes.size();
}

std::optional<std::uint64_t> mem_vfs::identity(const std::string& path) const {
  auto file = impl_->find(path);
  if (!file)
    return std::nullopt;
  return file->id;
}

bool mem_vfs::link(const std::string& from, const std::string& to) {
  std::lock_guard guard{impl_->mtx};
  auto i = impl_->files.find(from);
  if (i == impl_->files.end() || impl_->files.count(to) != 0)
    return false;
  impl_->files.emplace(to, i->second);
  return true;
}

bool mem_vfs::rename(const std::string& from, const std::string& to) {
  std::lock_guard guard{impl_->mtx};
  auto i = impl_->files.find(from);
  if (i == impl_->files.end())
    return false;
  auto file = i->second;
  impl_->files.erase(i);
  impl_->files.insert_or_assign(to, std::move(file));
  return true;
}

void mem_vfs::remove(const std::string& path) {
  std::lock_guard guard{impl_->mtx};
  impl_->files.erase(path);
}

bool mem_vfs::write(const std::string& path, std::uint64_t offset, std::string_view bytes) {
  auto file = impl_->find(path);
  if (!file)
    return false;
  std::lock_guard guard{file->mtx};
  file->bytes.write(offset, bytes.data(), bytes.size());
  return true;
}

bool mem_vfs::truncate(const std::string& path, std::uint64_t size) {
  auto file = impl_->find(path);
  if (!file)
    return false;
  std::lock_guard guard{file->mtx};
  file->bytes.truncate(size);
  return true;
}

} // namespace sluice
