// A checkpoint directory on a full disk (a small tmpfs, filled): the error
// says that the disk is full and where, whichever SQLite call meets it
// first. SQLite says "database or disk is full" only where a write() gets
// ENOSPC; growing its -shm file on a full tmpfs is a bare "disk I/O error".
// Needs root for the mounts; without it the cases are skipped (exit 77).
#define BOOST_TEST_MODULE persistence/full_disk
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <string>

#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/mounts.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/error.hpp"
#include "sluice/receiver_wal.hpp"

using namespace sluice;
using fixtures::can_mount;
using fixtures::contains;
using fixtures::message_of;
using fixtures::temp_dir;

namespace {

constexpr std::size_t MiB = 1024 * 1024;

metadata_checkpoint metadata_at(int64_t t) {
  metadata_checkpoint m;
  m.batch_time_ms = t;
  return m;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_store_created_on_a_full_disk_names_the_full_disk,
                     *boost::unit_test::precondition(can_mount)) {
  temp_dir base{"full-disk-new"};
  fixtures::tmpfs disk{base.path() / "disk", 1 * MiB};
  std::filesystem::create_directories(disk.path() / "cp");
  disk.fill();
  auto dir = (disk.path() / "cp").string();
  auto what = message_of<storage_error>(
    [&] { checkpoint_store::open(dir)->write_metadata(metadata_at(1000)); });
  BOOST_TEST_MESSAGE(what);
  BOOST_TEST(contains(what, "the disk is full: " + dir + " has 0 bytes free"), what);
}

BOOST_AUTO_TEST_CASE(a_store_reopened_on_a_full_disk_names_the_full_disk,
                     *boost::unit_test::precondition(can_mount)) {
  temp_dir base{"full-disk-reopen"};
  fixtures::tmpfs disk{base.path() / "disk", 2 * MiB};
  auto dir = (disk.path() / "cp").string();
  checkpoint_store::open(dir)->write_metadata(metadata_at(1000));
  disk.fill();
  auto what = message_of<storage_error>([&] {
    auto store = checkpoint_store::open(dir);
    for (int64_t t = 2000; t <= 100'000; t += 1000)
      store->write_metadata(metadata_at(t));
  });
  BOOST_TEST_MESSAGE(what);
  BOOST_TEST(contains(what, dir + "/sluice.db"), what);
  BOOST_TEST(contains(what, "the disk is full: " + dir + " has 0 bytes free"), what);
  // Room again: what was committed before is there.
  disk.resize(8 * MiB);
  std::filesystem::remove(disk.path() / ".filler");
  BOOST_TEST(checkpoint_store::open(dir)->latest_metadata().value().batch_time_ms == 1000);
}

BOOST_AUTO_TEST_CASE(a_receiver_wal_on_a_full_disk_names_the_full_disk,
                     *boost::unit_test::precondition(can_mount)) {
  temp_dir base{"full-disk-wal"};
  fixtures::tmpfs disk{base.path() / "disk", 1 * MiB};
  std::filesystem::create_directories(disk.path() / "cp");
  disk.fill();
  auto dir = (disk.path() / "cp").string();
  auto what = message_of<storage_error>([&] { receiver_wal::open(dir); });
  BOOST_TEST_MESSAGE(what);
  BOOST_TEST(contains(what, "the disk is full: " + dir + " has 0 bytes free"), what);
}

int main(int argc, char* argv[]) {
  return fixtures::run_with_mounts("persistence/full_disk", argc, argv, &init_unit_test);
}
