#define BOOST_TEST_MODULE persistence/mem_vfs
#include <boost/test/unit_test.hpp>

#include "sluice/checkpoint_store.hpp"
#include "sluice/error.hpp"
#include "sluice/fault_vfs.hpp"
#include "sluice/mem_vfs.hpp"
#include "sluice/receiver_wal.hpp"
#include "sluice/sqlite_db.hpp"

#include "fixtures/error_text.hpp"
#include "fixtures/store_rows.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

using sluice::checkpoint_store;
using sluice::fault_vfs;
using sluice::mem_vfs;
using sluice::metadata_checkpoint;
using sluice::receiver_wal;

using fixtures::block_ids;
using fixtures::metadata_times;
using fixtures::small_metadata;

namespace {

/// A fresh directory kept by the memory VFS; forgotten at the end.
struct mem_dir {
  mem_vfs& vfs = mem_vfs::global();
  std::string path;

  mem_dir() {
    static std::atomic<int> n{0};
    path = "/sluice-mem/test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    vfs.route(path);
  }

  ~mem_dir() {
    fault_vfs::global().reset();
    vfs.forget(path);
  }

  std::string db() const {
    return path + "/sluice.db";
  }

  std::string wal() const {
    return db() + "-wal";
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_checkpoint_directory_in_memory_leaves_nothing_on_the_disk) {
  mem_dir dir;
  {
    auto store = checkpoint_store::open(dir.path);
    store->write_metadata(small_metadata(1000));
    store->write_metadata(small_metadata(2000));
  }
  BOOST_TEST(!std::filesystem::exists("/sluice-mem"));
  // The last close checkpointed the WAL into the database and deleted it.
  BOOST_TEST(dir.vfs.size(dir.db()).value_or(0) > 0u);
  BOOST_TEST(!dir.vfs.size(dir.wal()).has_value());
  auto store = checkpoint_store::open(dir.path);
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({2000, 1000}));
}

BOOST_AUTO_TEST_CASE(two_connections_share_the_database_and_a_reopen_recovers_the_wal) {
  mem_dir dir;
  auto wal = receiver_wal::open(dir.path);
  auto store = checkpoint_store::open(dir.path, {.synchronous = sluice::sqlite_sync::normal});
  wal->append_block(1, 1, 100, {"a"});
  store->write_metadata(small_metadata(1000));
  wal->append_block(1, 2, 200, {"b"});
  // Each connection reads what the other committed.
  auto second = checkpoint_store::open(dir.path);
  BOOST_TEST(metadata_times(*second) == std::vector<std::int64_t>({1000}));
  second.reset();
  auto wal_bytes = dir.vfs.size(dir.wal()).value_or(0);
  BOOST_TEST(wal_bytes > 0u);
  // The files outlive the connections; the shared memory does not, so the
  // next open rebuilds the WAL index from the -wal bytes.
  BOOST_TEST(dir.vfs.link(dir.wal(), dir.path + "/kept-wal"));
  wal.reset();
  store.reset();
  BOOST_TEST(dir.vfs.rename(dir.path + "/kept-wal", dir.wal()));
  BOOST_TEST(dir.vfs.size(dir.wal()).value_or(0) == wal_bytes);
  wal = receiver_wal::open(dir.path);
  store = checkpoint_store::open(dir.path);
  BOOST_TEST(block_ids(*wal, 1) == std::vector<std::int64_t>({1, 2}));
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({1000}));
}

BOOST_AUTO_TEST_CASE(a_writer_holding_the_lock_makes_a_second_writer_busy) {
  mem_dir dir;
  sluice::sqlite_db::options quick{.busy_timeout = std::chrono::milliseconds(0), .busy_retries = 0};
  sluice::sqlite_db a{dir.db(), quick};
  sluice::sqlite_db b{dir.db(), quick};
  a.exec("CREATE TABLE t (x INTEGER)");
  a.exec("BEGIN IMMEDIATE");
  a.exec("INSERT INTO t VALUES (1)");
  auto what = fixtures::message_of<sluice::storage_error>([&] { b.exec("BEGIN IMMEDIATE"); });
  BOOST_TEST(fixtures::contains(what, "database is locked"), what);
  a.exec("COMMIT");
  b.exec("BEGIN IMMEDIATE");
  b.exec("INSERT INTO t VALUES (2)");
  b.exec("COMMIT");
  BOOST_TEST(a.query_int64("SELECT sum(x) FROM t").value_or(0) == 3);
}

BOOST_AUTO_TEST_CASE(identities_links_and_renames_follow_the_file_not_the_name) {
  mem_dir dir;
  { checkpoint_store::open(dir.path); }
  auto first = dir.vfs.identity(dir.db());
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(!dir.vfs.link(dir.db(), dir.db())); // never replaces
  BOOST_TEST(dir.vfs.link(dir.db(), dir.path + "/other"));
  BOOST_TEST(dir.vfs.identity(dir.path + "/other").value_or(0) == *first);
  dir.vfs.remove(dir.db());
  BOOST_TEST(!dir.vfs.identity(dir.db()).has_value());
  BOOST_TEST(!dir.vfs.rename(dir.db(), dir.path + "/x"));
  { checkpoint_store::open(dir.path); } // a new database
  auto second = dir.vfs.identity(dir.db());
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(*second != *first);
  dir.vfs.forget(dir.path);
  BOOST_TEST(!dir.vfs.size(dir.path + "/other").has_value());
  BOOST_TEST(!mem_vfs::routed(dir.db()));
}

BOOST_AUTO_TEST_CASE(a_database_replaced_under_a_connection_stops_its_writes) {
  mem_dir dir;
  auto store = checkpoint_store::open(dir.path);
  store->write_metadata(small_metadata(1000));
  BOOST_TEST(dir.vfs.rename(dir.db(), dir.path + "/moved"));
  auto what = fixtures::message_of<sluice::storage_error>(
    [&] { store->write_metadata(small_metadata(2000)); });
  BOOST_TEST(fixtures::contains(what, dir.db() + " was deleted while the program was writing it"),
             what);
}

BOOST_AUTO_TEST_CASE(the_fault_vfs_over_memory_loses_what_was_not_synced) {
  mem_dir dir;
  auto& faults = fault_vfs::global();
  faults.route(dir.path);
  checkpoint_store::options normal{.synchronous = sluice::sqlite_sync::normal,
                                   .page_size = 4096};
  auto store = checkpoint_store::open(dir.path, normal);
  store->write_metadata(small_metadata(1000));
  store.reset(); // a clean close checkpoints and syncs
  store = checkpoint_store::open(dir.path, normal);
  store->write_metadata(small_metadata(2000));
  // One frame (the table's page: a 24-byte header and 4 KiB), not synced.
  constexpr std::uint64_t frame = 24 + 4096;
  BOOST_TEST(faults.unsynced_bytes(dir.wal()) == frame);
  auto before = dir.vfs.size(dir.wal()).value_or(0);
  auto report = faults.crash();
  BOOST_TEST(report.unsynced_bytes == frame);
  BOOST_TEST(dir.vfs.size(dir.wal()).value_or(0) == before - frame);
  store.reset();
  store = checkpoint_store::open(dir.path, normal);
  BOOST_TEST(metadata_times(*store) == std::vector<std::int64_t>({1000}));
}

BOOST_AUTO_TEST_CASE(a_relative_route_is_refused_naming_it) {
  auto what = fixtures::message_of<sluice::invalid_argument>(
    [] { mem_vfs::global().route("relative/dir"); });
  BOOST_TEST(fixtures::contains(what, "\"relative/dir\" is not an absolute directory path"), what);
}
