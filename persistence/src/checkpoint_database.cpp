// A checkpoint directory's one database, sluice.db: its directory
// created, the file created whole or opened and checked, a damaged one set
// aside (on the disk or in the memory VFS).
#include "sluice/sqlite_db.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "sluice/error.hpp"
#include "sluice/mem_vfs.hpp"

namespace sluice {

namespace {

std::atomic<std::uint64_t> next_temp_id{0};

/// The size of the file `path`, or nothing when it does not exist; on the
/// disk or in the memory VFS.
std::optional<std::uint64_t> size_of(const std::string& path) {
  if (mem_vfs::routed(path))
    return mem_vfs::global().size(path);
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return std::nullopt;
  return size;
}

/// link(2) on the disk or in the memory VFS: 0, or the errno.
int link_file(const std::string& from, const std::string& to) {
  if (mem_vfs::routed(to))
    return mem_vfs::global().link(from, to) ? 0 : EEXIST;
  return ::link(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

void remove_file(const std::string& path) {
  if (mem_vfs::routed(path)) {
    mem_vfs::global().remove(path);
    return;
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

} // namespace

void create_checkpoint_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  if (mem_vfs::routed(dir)) // its files live in memory
    return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec) {
    if (!fs::is_directory(dir, ec))
      throw storage_error("sluice: cannot create checkpoint directory " + dir
                          + ": Not a directory");
    return;
  }
  std::string why = ec.message();
  std::error_code probe;
  if (auto st = fs::status(dir, probe); !probe && fs::exists(st) && !fs::is_directory(st))
    why += " (a file of that name exists)";
  throw storage_error("sluice: cannot create checkpoint directory " + dir + ": " + why);
}

std::unique_ptr<sqlite_db> open_checkpoint_database(const std::string& dir, sqlite_sync sync,
                                                    int page_size, int autocheckpoint_pages) {
  namespace fs = std::filesystem;
  create_checkpoint_directory(dir);
  auto file = (fs::path{dir} / "sluice.db").string();
  // Ignored for an existing database.
  sqlite_db::options opts{.synchronous = sync, .page_size = page_size};
  auto wal = file + "-wal";
  auto size = size_of(file);
  if (!size && size_of(wal).value_or(0) > 0)
    throw storage_corruption("sluice: " + file + " is missing but its write-ahead file " + wal
                        + " is there: the checkpoint database was deleted or moved");
  if (!size) {
    // Built aside and linked into place whole: link() never replaces a file
    // that another connection created meanwhile.
    auto tmp = (fs::path{dir} / (".sluice.db." + std::to_string(::getpid()) + "."
                                 + std::to_string(next_temp_id.fetch_add(1))
                                 + ".new"))
                 .string();
    {
      sqlite_db fresh{tmp, opts};
      fresh.exec("CREATE TABLE IF NOT EXISTS meta "
                 "(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)");
    }
    int e = link_file(tmp, file);
    remove_file(tmp);
    if (e != 0 && e != EEXIST)
      throw storage_error("sluice: cannot create " + file + ": "
                          + std::generic_category().message(e));
  } else if (*size == 0) {
    throw storage_corruption("sluice: " + file
                        + " is empty (0 bytes): the checkpoint database was truncated or "
                          "damaged (sluice never leaves an empty one)");
  }
  opts.wal_autocheckpoint_pages = autocheckpoint_pages;
  auto db = std::make_unique<sqlite_db>(file, opts);
  if (!db->has_table("meta"))
    throw storage_corruption("sluice: " + file
                        + " has no sluice tables: it is not a sluice checkpoint database, or "
                          "it was damaged");
  return db;
}

std::string set_aside_checkpoint_database(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  auto base = (fs::path{dir} / "sluice.db").string();
  auto kept = (fs::path{dir} / name).string();
  bool memory = mem_vfs::routed(dir);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    auto from = base + suffix;
    if (memory) { // the memory VFS keeps no -shm file
      mem_vfs::global().rename(from, kept + suffix);
      continue;
    }
    std::error_code ec;
    if (!fs::exists(from, ec))
      continue;
    fs::rename(from, kept + suffix, ec);
    if (ec)
      throw storage_error("sluice: cannot move the damaged checkpoint database " + from
                          + " aside: " + ec.message());
  }
  return kept;
}

} // namespace sluice
