#define BOOST_TEST_MODULE persistence/fault_vfs
#include <boost/test/unit_test.hpp>

#include "sluice/checkpoint_store.hpp"
#include "sluice/error.hpp"
#include "sluice/fault_vfs.hpp"
#include "sluice/receiver_wal.hpp"

#include "fixtures/sqlite_db.hpp"
#include "fixtures/store_rows.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using sluice::checkpoint_store;
using sluice::fault_repeat;
using sluice::fault_vfs;
using sluice::metadata_checkpoint;
using sluice::receiver_wal;
using sluice::storage_fault;

using fixtures::block_ids;
using fixtures::metadata_times;
using fixtures::small_metadata;

namespace {

/// A fresh directory whose databases open through the fault VFS; resets the
/// VFS's routes, rules and armed tear at the end.
struct vfs_dir : fixtures::checkpoint_dir_fixture {
  fault_vfs& vfs = fault_vfs::global();

  vfs_dir() {
    vfs.route(path.string());
  }

  ~vfs_dir() {
    vfs.reset();
  }

  std::string wal_file() const {
    return db_file().string() + "-wal";
  }

  std::uintmax_t wal_size() const {
    std::error_code ec;
    auto n = fs::file_size(wal_file(), ec);
    return ec ? 0 : n;
  }

  /// PRAGMA integrity_check through a connection of the default VFS: 1 when "ok".
  std::int64_t integrity_ok() const {
    fixtures::raw_db raw{db_file()};
    return raw.query_int64("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'");
  }
};

/// A store opened in `dir` with the metadata of 1000 and 2000 committed
/// (synchronous FULL: both synced).
std::unique_ptr<checkpoint_store> store_with_two_commits(const vfs_dir& dir) {
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  store->write_metadata(small_metadata(1000));
  store->write_metadata(small_metadata(2000));
  return store;
}

/// Returns the message of the storage_error `f` throws, or "<no error>".
template <class F>
std::string storage_error_of(F f) {
  try {
    f();
  } catch (const sluice::storage_corruption& e) {
    return std::string{"<corruption> "} + e.what();
  } catch (const sluice::storage_error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// A file opened through the fault VFS's own file API.
struct vfs_handle {
  sqlite3_vfs* vfs = sqlite3_vfs_find(fault_vfs::name.data());
  std::string storage;
  sqlite3_file* file = nullptr;

  explicit vfs_handle(const std::string& path) : storage(static_cast<std::size_t>(vfs->szOsFile), '\0') {
    file = reinterpret_cast<sqlite3_file*>(storage.data());
    int out = 0;
    auto rc = vfs->xOpen(vfs, path.c_str(), file,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB, &out);
    if (rc != SQLITE_OK)
      throw std::runtime_error("cannot open " + path + " through the fault VFS: rc "
                               + std::to_string(rc));
  }

  ~vfs_handle() {
    file->pMethods->xClose(file);
  }

  int write(const std::string& bytes, std::int64_t offset) {
    return file->pMethods->xWrite(file, bytes.data(), static_cast<int>(bytes.size()), offset);
  }

  int truncate(std::int64_t size) {
    return file->pMethods->xTruncate(file, size);
  }

  int sync() {
    return file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
  }
};

} // namespace

// -- the file API ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(crash_restores_every_file_to_its_last_sync) {
  vfs_dir dir;
  auto file = (dir.path / "plain").string();
  {
    vfs_handle h{file};
    BOOST_TEST(h.write("AAAAAAAA", 0) == SQLITE_OK);
    BOOST_TEST(h.sync() == SQLITE_OK);
    BOOST_TEST(h.write("BB", 2) == SQLITE_OK);   // overwrite
    BOOST_TEST(h.write("CCCC", 8) == SQLITE_OK); // extend
    BOOST_TEST(h.truncate(3) == SQLITE_OK);      // cut synced bytes
    BOOST_TEST(h.write("DD", 5) == SQLITE_OK);   // rewrite past the cut
    BOOST_TEST(file_bytes(file) == std::string("AAB\0\0DD", 7));
    BOOST_TEST(dir.vfs.unsynced_bytes(file) == 2u + 4 + 9 + 2);
    auto report = dir.vfs.crash();
    BOOST_TEST(report.unsynced_bytes == 17u);
    BOOST_TEST_REQUIRE(report.files.size() == 1u);
    BOOST_TEST(report.files[0].size_before == 7u);
    BOOST_TEST(report.files[0].size_after == 8u);
    BOOST_TEST(report.stale_handles == 1u);
    BOOST_TEST(file_bytes(file) == "AAAAAAAA");
    // A stale handle neither writes nor reads.
    BOOST_TEST(h.write("EE", 0) == SQLITE_IOERR_WRITE);
    BOOST_TEST(h.sync() == SQLITE_IOERR_FSYNC);
    BOOST_TEST(dir.vfs.stale_handles() == 1u);
  }
  BOOST_TEST(dir.vfs.stale_handles() == 0u);
  BOOST_TEST(file_bytes(file) == "AAAAAAAA");
}

BOOST_AUTO_TEST_CASE(a_crash_of_one_directory_leaves_the_others_alone) {
  // Two processes' directories, as two simulations on two threads have.
  vfs_dir crashed;
  vfs_dir other;
  auto a = (crashed.path / "a").string();
  auto b = (other.path / "b").string();
  vfs_handle ha{a};
  vfs_handle hb{b};
  for (auto* h : {&ha, &hb}) {
    BOOST_TEST(h->write("11111111", 0) == SQLITE_OK);
    BOOST_TEST(h->sync() == SQLITE_OK);
    BOOST_TEST(h->write("22", 0) == SQLITE_OK);  // unsynced
  }
  crashed.vfs.tear_on_crash(b, 0.5);  // armed in the other directory: kept for its crash
  auto report = crashed.vfs.crash(crashed.path.string());
  BOOST_TEST_REQUIRE(report.files.size() == 1u);
  BOOST_TEST(report.files[0].path == a);
  BOOST_TEST(report.unsynced_bytes == 2u);
  BOOST_TEST(report.stale_handles == 1u);
  BOOST_TEST(!report.torn.has_value());
  BOOST_TEST(file_bytes(a) == "11111111");
  BOOST_TEST(ha.write("33", 0) == SQLITE_IOERR_WRITE);
  BOOST_TEST(crashed.vfs.stale_handles(crashed.path.string()) == 1u);
  // The other directory's file keeps its unsynced bytes and its handle works.
  BOOST_TEST(file_bytes(b) == "22111111");
  BOOST_TEST(other.vfs.unsynced_bytes(b) == 2u);
  BOOST_TEST(hb.write("44", 2) == SQLITE_OK);
  BOOST_TEST(hb.sync() == SQLITE_OK);
  BOOST_TEST(file_bytes(b) == "22441111");
  BOOST_TEST(other.vfs.stale_handles(other.path.string()) == 0u);
  BOOST_CHECK_THROW(other.vfs.crash(""), sluice::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_file_with_stale_handles_cannot_be_opened_again) {
  vfs_dir dir;
  auto file = (dir.path / "plain").string();
  vfs_handle h{file};
  dir.vfs.crash();
  BOOST_CHECK_THROW(vfs_handle{file}, std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_torn_write_keeps_a_sector_aligned_prefix) {
  vfs_dir dir;
  auto file = (dir.path / "plain").string();
  vfs_handle h{file};
  BOOST_TEST(h.write(std::string(2048, 'a'), 0) == SQLITE_OK);
  BOOST_TEST(h.sync() == SQLITE_OK);
  BOOST_TEST(h.write(std::string(1500, 'x'), 100) == SQLITE_OK); // 100..1600
  BOOST_TEST(h.write(std::string(1000, 'y'), 2048) == SQLITE_OK); // extends to 3048
  BOOST_TEST(h.sync() == SQLITE_OK);
  BOOST_TEST(h.write(std::string(10, 'z'), 0) == SQLITE_OK); // unsynced
  dir.vfs.tear_on_crash(file, 0.6);
  auto report = dir.vfs.crash();
  BOOST_TEST_REQUIRE(report.torn.has_value());
  BOOST_TEST(report.torn->path == file);
  BOOST_TEST(report.torn->offset == 2048u);
  BOOST_TEST(report.torn->length == 1000u);
  BOOST_TEST(report.torn->kept == 512u); // 600 rounded down to 512
  BOOST_TEST(file_bytes(file)
             == std::string(100, 'a') + std::string(1500, 'x') + std::string(448, 'a')
                  + std::string(512, 'y'));
}

BOOST_AUTO_TEST_CASE(bad_arguments_name_the_value) {
  auto& vfs = fault_vfs::global();
  auto message = [](auto f) -> std::string {
    try {
      f();
    } catch (const sluice::invalid_argument& e) {
      return e.what();
    }
    return "<no error>";
  };
  BOOST_TEST(message([&] { vfs.tear_on_crash("/tmp/x-wal", 1.5); })
             == "sluice: fault_vfs::tear_on_crash: keep_fraction 1.500000 is outside [0, 1)");
  BOOST_TEST(message([&] { vfs.route(""); })
             == "sluice: fault_vfs::route: the directory is empty (\"\")");
  BOOST_TEST(message([&] { vfs.fail_writes("/tmp", static_cast<storage_fault>(7),
                                           fault_repeat::next); })
             == "sluice: fault_vfs::fail_writes: unknown storage_fault 7");
}

// -- failing writes -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(full_disk_fails_the_commit_and_the_store_keeps_its_data) {
  vfs_dir dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  store->write_metadata(small_metadata(1000));
  auto failed_before = dir.vfs.failed_operations();
  dir.vfs.fail_writes(dir.checkpoint_dir(), storage_fault::disk_full, fault_repeat::every);
  auto what = storage_error_of([&] { store->write_metadata(small_metadata(2000)); });
  BOOST_TEST(what
             == "sluice: sqlite step of \"COMMIT\" failed on " + dir.db_file().string()
                  + ": database or disk is full (database or disk is full, code 13)");
  BOOST_TEST(dir.vfs.failed_operations() - failed_before == 1u);
  // Reads go on while the disk is full; a second write fails the same way.
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({1000}));
  BOOST_TEST(storage_error_of([&] { store->write_metadata(small_metadata(2500)); }) == what);
  dir.vfs.clear_failures();
  store->write_metadata(small_metadata(3000));
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({3000, 1000}));
  store.reset();
  store = checkpoint_store::open(dir.checkpoint_dir());
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({3000, 1000}));
}

BOOST_AUTO_TEST_CASE(io_error_fails_the_append_and_the_wal_keeps_its_blocks) {
  vfs_dir dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  wal->append_block(1, 1, 100, {"a"});
  dir.vfs.fail_writes(dir.checkpoint_dir(), storage_fault::io_error, fault_repeat::next);
  auto what = storage_error_of([&] { wal->append_block(1, 2, 200, {"b"}); });
  BOOST_TEST(what
             == "sluice: sqlite step of \"COMMIT\" failed on " + dir.db_file().string()
                  + ": disk I/O error (disk I/O error, code 778)");
  // The rule failed one write and is gone.
  wal->append_block(1, 3, 300, {"c"});
  BOOST_TEST(block_ids(*wal, 1) == std::vector<std::int64_t>({1, 3}));
  wal.reset();
  wal = receiver_wal::open(dir.checkpoint_dir());
  BOOST_TEST(block_ids(*wal, 1) == std::vector<std::int64_t>({1, 3}));
}

BOOST_AUTO_TEST_CASE(writes_outside_the_failing_directory_go_on) {
  vfs_dir dir;
  vfs_dir other;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  dir.vfs.fail_writes(other.path.string(), storage_fault::disk_full, fault_repeat::every);
  store->write_metadata(small_metadata(1000));
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({1000}));
}

// -- crashes --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(commits_synced_with_synchronous_full_survive_a_crash) {
  vfs_dir dir;
  auto store = store_with_two_commits(dir);
  auto wal_size = dir.wal_size();
  auto report = dir.vfs.crash();
  BOOST_TEST(report.unsynced_bytes == 0u);
  BOOST_TEST(report.files.empty());
  BOOST_TEST(report.stale_handles == 2u); // sluice.db and sluice.db-wal
  BOOST_TEST(dir.wal_size() == wal_size);
  // The old connection must go before the database is opened again.
  auto what = storage_error_of([&] { checkpoint_store::open(dir.checkpoint_dir()); });
  BOOST_TEST(what.find("unable to open database file") != std::string::npos, what);
  store.reset();
  BOOST_TEST(dir.vfs.stale_handles() == 0u);
  store = checkpoint_store::open(dir.checkpoint_dir());
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({2000, 1000}));
  store.reset();
  BOOST_TEST(dir.integrity_ok() == 1);
}

BOOST_AUTO_TEST_CASE(commits_not_synced_are_lost_in_a_crash) {
  vfs_dir dir;
  checkpoint_store::options normal{.synchronous = sluice::sqlite_sync::normal};
  auto store = checkpoint_store::open(dir.checkpoint_dir(), normal);
  store->write_metadata(small_metadata(1000));
  store.reset(); // a clean close checkpoints and syncs
  store = checkpoint_store::open(dir.checkpoint_dir(), normal);
  store->write_metadata(small_metadata(2000));
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({2000, 1000}));
  // The commit appended one frame (the table's page: a 24-byte header and
  // 64 KiB; the table has no index) and returned without a sync.
  constexpr std::uint64_t frame = 24 + 65536;
  auto wal_size = dir.wal_size();
  BOOST_TEST(dir.vfs.unsynced_bytes(dir.wal_file()) == frame);
  auto report = dir.vfs.crash();
  BOOST_TEST(report.unsynced_bytes == frame);
  BOOST_TEST_REQUIRE(report.files.size() == 1u);
  BOOST_TEST(report.files[0].path == dir.wal_file());
  BOOST_TEST(report.files[0].size_before == wal_size);
  BOOST_TEST(report.files[0].size_after == wal_size - frame);
  BOOST_TEST(dir.wal_size() == wal_size - frame);
  store.reset();
  store = checkpoint_store::open(dir.checkpoint_dir());
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({1000}));
  store.reset();
  BOOST_TEST(dir.integrity_ok() == 1);
}

BOOST_AUTO_TEST_CASE(a_crash_keeps_the_synced_frames_of_the_wal_and_drops_the_rest) {
  // Two connections share the database: the receiver WAL commits with
  // synchronous FULL, the checkpoint store with NORMAL, appending its frames
  // after the synced ones. SQLite's WAL recovery replays the synced frames.
  vfs_dir dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  auto store = checkpoint_store::open(dir.checkpoint_dir(),
                                      {.synchronous = sluice::sqlite_sync::normal});
  wal->append_block(1, 1, 100, {"a"});
  store->write_metadata(small_metadata(1000)); // unsynced
  BOOST_TEST(dir.vfs.unsynced_bytes(dir.wal_file()) > 0u);
  wal->append_block(1, 2, 200, {"b"});         // syncs the metadata's frames too
  BOOST_TEST(dir.vfs.unsynced_bytes(dir.wal_file()) == 0u);
  store->write_metadata(small_metadata(2000));
  wal->log_allocation(5000, {{1, 1}});         // syncs 2000 as well
  store->write_metadata(small_metadata(3000)); // unsynced
  auto before = dir.wal_size();
  auto lost = dir.vfs.unsynced_bytes(dir.wal_file());
  BOOST_TEST(lost > 0u);
  auto report = dir.vfs.crash();
  BOOST_TEST(report.unsynced_bytes == lost);
  BOOST_TEST(dir.wal_size() == before - lost);
  wal.reset();
  store.reset();
  wal = receiver_wal::open(dir.checkpoint_dir());
  store = checkpoint_store::open(dir.checkpoint_dir());
  BOOST_TEST(block_ids(*wal, 1) == std::vector<std::int64_t>({1, 2}));
  BOOST_TEST(wal->allocation_count() == 1u);
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({2000, 1000}));
  wal.reset();
  store.reset();
  BOOST_TEST(dir.integrity_ok() == 1);
}

// -- torn writes ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_torn_last_wal_frame_recovers_to_the_previous_commit) {
  vfs_dir dir;
  auto store = store_with_two_commits(dir);
  auto wal_size = dir.wal_size();
  dir.vfs.tear_on_crash(dir.wal_file(), 0.5);
  auto report = dir.vfs.crash();
  BOOST_TEST_REQUIRE(report.torn.has_value());
  // The last write of a commit is the page of its commit frame: 64 KiB at the
  // end of the file, after the frame's 24-byte header.
  BOOST_TEST(report.torn->path == dir.wal_file());
  BOOST_TEST(report.torn->length == 65536u);
  BOOST_TEST(report.torn->kept == 32768u);
  BOOST_TEST(report.torn->offset == wal_size - 65536);
  BOOST_TEST(dir.wal_size() == wal_size - 32768);
  store.reset();
  store = checkpoint_store::open(dir.checkpoint_dir());
  std::vector<std::string> skipped;
  auto latest = store->latest_metadata(&skipped);
  BOOST_TEST_REQUIRE(latest.has_value());
  BOOST_TEST(latest->batch_time_ms == 1000);
  BOOST_TEST(skipped.empty());
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({1000}));
  // The store writes on from there.
  store->write_metadata(small_metadata(3000));
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({3000, 1000}));
  store.reset();
  BOOST_TEST(dir.integrity_ok() == 1);
}

BOOST_AUTO_TEST_CASE(a_torn_last_wal_frame_drops_the_last_block_of_the_receiver_wal) {
  vfs_dir dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  wal->append_block(1, 1, 100, {"a"});
  wal->append_block(1, 2, 200, {"b"});
  dir.vfs.tear_on_crash(dir.wal_file());
  auto report = dir.vfs.crash();
  BOOST_TEST_REQUIRE(report.torn.has_value());
  wal.reset();
  wal = receiver_wal::open(dir.checkpoint_dir());
  std::vector<sluice::wal_corrupt_row> bad;
  auto blocks = wal->read_blocks(1, 0, &bad);
  BOOST_TEST(bad.empty());
  BOOST_TEST_REQUIRE(blocks.size() == 1u);
  BOOST_TEST(blocks[0].block_id == 1);
  BOOST_TEST(blocks[0].records == std::vector<std::string>({"a"}));
}
