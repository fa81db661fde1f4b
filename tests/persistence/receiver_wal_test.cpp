#define BOOST_TEST_MODULE persistence/receiver_wal
#include <boost/test/unit_test.hpp>

#include "sluice/fault_injector.hpp"
#include "sluice/pb/records.pb.h"
#include "sluice/receiver_wal.hpp"
#include "sluice/sqlite_db.hpp"

#include "fixtures/error_text.hpp"
#include "fixtures/sqlite_db.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using sluice::receiver_wal;
using sluice::wal_allocation;
using sluice::wal_block;
using sluice::wal_corrupt_row;
using sluice::wal_corruption;
using fixtures::checkpoint_dir_fixture;
using fixtures::contains;
using fixtures::message_of;
using fixtures::raw_db;

namespace {

std::vector<std::string> make_records(int n, std::size_t size, char fill) {
  std::vector<std::string> xs;
  for (int i = 0; i < n; ++i) {
    auto x = std::string(size, fill);
    if (size > 0)
      x[0] = static_cast<char>(i);
    xs.push_back(std::move(x));
  }
  return xs;
}

std::vector<std::int64_t> block_ids(const std::vector<wal_block>& xs) {
  std::vector<std::int64_t> ids;
  for (const auto& x : xs)
    ids.push_back(x.block_id);
  return ids;
}

} // namespace

BOOST_AUTO_TEST_SUITE(receiver_wal_suite)

BOOST_AUTO_TEST_CASE(blocks_and_allocations_round_trip_exactly) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  BOOST_TEST(fs::exists(dir.db_file()));
  std::vector<std::string> binary{std::string("\0\xff\x01", 3), "", "hello",
                                  std::string(70000, 'x')};
  wal->append_block(7, 1, 1000, binary);
  wal->append_block(7, 2, 1200, {});
  wal->append_block(8, 1, 1100, {"other stream"});
  wal->append_block(7, 3, 1400, {"c"});
  wal->log_allocation(2000, {{7, 1}, {8, 1}, {7, 2}});
  wal->log_allocation(4000, {});
  BOOST_TEST(wal->block_count() == 4u);
  BOOST_TEST(wal->allocation_count() == 2u);

  auto blocks = wal->read_blocks(7);
  BOOST_REQUIRE(blocks.size() == 3u);
  BOOST_TEST((blocks[0] == wal_block{7, 1, 1000, binary}));
  BOOST_TEST((blocks[1] == wal_block{7, 2, 1200, {}}));
  BOOST_TEST((blocks[2] == wal_block{7, 3, 1400, {"c"}}));
  BOOST_TEST((block_ids(wal->read_blocks(7, 2)) == std::vector<std::int64_t>{2, 3}));
  BOOST_TEST((wal->read_blocks(8) == std::vector<wal_block>{{8, 1, 1100, {"other stream"}}}));
  BOOST_TEST(wal->read_blocks(9).empty());

  auto allocs = wal->read_allocations();
  BOOST_REQUIRE(allocs.size() == 2u);
  BOOST_TEST((allocs[0] == wal_allocation{2000, {{7, 1}, {8, 1}, {7, 2}}}));
  BOOST_TEST((allocs[1] == wal_allocation{4000, {}}));
}

BOOST_AUTO_TEST_CASE(appending_a_block_or_allocation_again_replaces_it) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  wal->append_block(1, 5, 10, {"first"});
  wal->append_block(1, 5, 11, {"second"});
  wal->log_allocation(100, {{1, 4}});
  wal->log_allocation(100, {{1, 5}});
  BOOST_TEST((wal->read_blocks(1) == std::vector<wal_block>{{1, 5, 11, {"second"}}}));
  BOOST_TEST((wal->read_allocations() == std::vector<wal_allocation>{{100, {{1, 5}}}}));
  wal->delete_before(101); // deletes block 5 (allocated to 100), not block 4's absent row
  BOOST_TEST(wal->block_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_reopened_wal_sees_everything_committed_before) {
  checkpoint_dir_fixture dir;
  {
    auto wal = receiver_wal::open(dir.checkpoint_dir());
    for (int i = 0; i < 10; ++i)
      wal->append_block(3, i, 100 * i, make_records(i, 10, 'r'));
    wal->log_allocation(5000, {{3, 0}, {3, 1}});
  }
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  auto blocks = wal->read_blocks(3);
  BOOST_REQUIRE(blocks.size() == 10u);
  for (int i = 0; i < 10; ++i)
    BOOST_TEST((blocks[i] == wal_block{3, i, 100 * i, make_records(i, 10, 'r')}));
  BOOST_TEST((wal->read_allocations() == std::vector<wal_allocation>{{5000, {{3, 0}, {3, 1}}}}));
  // And it keeps appending after what is there.
  wal->append_block(3, 10, 1000, {"z"});
  BOOST_TEST(wal->block_count() == 11u);
}

BOOST_AUTO_TEST_CASE(delete_before_removes_only_blocks_no_later_batch_needs) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  for (int i = 1; i <= 6; ++i)
    wal->append_block(0, i, i, {"r"});
  wal->append_block(1, 1, 1, {"s"});
  wal->log_allocation(1000, {{0, 1}, {0, 2}, {1, 1}});
  wal->log_allocation(2000, {{0, 3}, {0, 2}}); // block 0/2 also needed by batch 2000
  wal->log_allocation(3000, {{0, 4}});
  // Blocks 0/5 and 0/6 are not allocated yet.

  wal->delete_before(2000);
  BOOST_TEST((block_ids(wal->read_blocks(0)) == std::vector<std::int64_t>{2, 3, 4, 5, 6}));
  BOOST_TEST(wal->read_blocks(1).empty());
  auto allocs = wal->read_allocations();
  BOOST_REQUIRE(allocs.size() == 2u);
  BOOST_TEST(allocs[0].batch_time_ms == 2000);
  BOOST_TEST(allocs[1].batch_time_ms == 3000);

  wal->delete_before(2000); // nothing more to delete
  BOOST_TEST(wal->block_count() == 5u);

  wal->delete_before(3000);
  BOOST_TEST((block_ids(wal->read_blocks(0)) == std::vector<std::int64_t>{4, 5, 6}));
  BOOST_TEST(wal->allocation_count() == 1u);

  wal->delete_before(1000000);
  BOOST_TEST((block_ids(wal->read_blocks(0)) == std::vector<std::int64_t>{5, 6}));
  BOOST_TEST(wal->allocation_count() == 0u);
}

BOOST_AUTO_TEST_CASE(deleting_a_large_block_does_not_write_its_pages_again) {
  // A 4 MB block spans 64 overflow pages; its delete writes only the pages
  // that index it (Debian's SQLite would zero all 64 with secure_delete=ON,
  // and the next checkpoint would copy the zeros into sluice.db).
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir(),
                                {.synchronous = sluice::sqlite_sync::normal});
  auto records = make_records(4000, 1000, 'z');
  wal->append_block(0, 1, 1, records);
  wal->log_allocation(1000, {{0, 1}});
  auto wal_file = fs::path{dir.db_file().string() + "-wal"};
  auto before = fs::file_size(wal_file);
  wal->delete_before(2000);
  auto written = fs::file_size(wal_file) - before;
  BOOST_TEST(wal->block_count() == 0u);
  BOOST_TEST_MESSAGE("-wal bytes written by the delete: " << written);
  BOOST_TEST(written < 1'000'000u); // the block's payload is 4 MB
}

BOOST_AUTO_TEST_CASE(a_flipped_payload_byte_is_detected_and_can_be_skipped) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  for (int i = 1; i <= 3; ++i)
    wal->append_block(4, i, i, make_records(5, 20, 'a'));
  raw_db raw{dir.db_file()};
  auto row = raw.row_id("wal_blocks", "stream_id = 4 AND block_id = 2");
  auto bytes = raw.payload("wal_blocks", row);
  bytes[bytes.size() / 2] ^= 0x10;
  raw.set_payload("wal_blocks", row, bytes);

  try {
    wal->read_blocks(4);
    BOOST_FAIL("a corrupt row was read");
  } catch (const wal_corruption& e) {
    BOOST_TEST(e.table() == "wal_blocks");
    BOOST_TEST(e.row_id() == row);
    BOOST_TEST(e.defect() == "checksum_mismatch");
    std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    BOOST_TEST(contains(what, "wal_blocks"));
    BOOST_TEST(contains(what, "row " + std::to_string(row)));
    BOOST_TEST(contains(what, "checksum_mismatch"));
    BOOST_TEST(contains(what, dir.db_file().string()));
  }

  std::vector<wal_corrupt_row> bad;
  auto blocks = wal->read_blocks(4, 0, &bad);
  BOOST_TEST((block_ids(blocks) == std::vector<std::int64_t>{1, 3}));
  BOOST_REQUIRE(bad.size() == 1u);
  BOOST_TEST(bad[0].table == "wal_blocks");
  BOOST_TEST(bad[0].row_id == row);
  BOOST_TEST(bad[0].defect == "checksum_mismatch");
  BOOST_TEST(contains(bad[0].message, "row " + std::to_string(row)));
}

BOOST_AUTO_TEST_CASE(a_truncated_payload_is_reported_as_torn) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  wal->append_block(4, 1, 1, make_records(5, 20, 'a'));
  wal->append_block(4, 2, 2, make_records(5, 20, 'b'));
  raw_db raw{dir.db_file()};
  auto row = raw.row_id("wal_blocks", "block_id = 1");
  auto bytes = raw.payload("wal_blocks", row);
  raw.set_payload("wal_blocks", row, bytes.substr(0, bytes.size() - 7));
  try {
    wal->read_blocks(4);
    BOOST_FAIL("a torn row was read");
  } catch (const wal_corruption& e) {
    BOOST_TEST(e.row_id() == row);
    BOOST_TEST(e.defect() == "torn");
    BOOST_TEST(contains(e.what(), "torn"));
  }
  std::vector<wal_corrupt_row> bad;
  BOOST_TEST((block_ids(wal->read_blocks(4, 0, &bad)) == std::vector<std::int64_t>{2}));
  BOOST_REQUIRE(bad.size() == 1u);
  BOOST_TEST(bad[0].defect == "torn");
}

BOOST_AUTO_TEST_CASE(corrupt_allocations_and_misplaced_payloads_are_detected) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  wal->append_block(1, 1, 1, {"a"});
  wal->append_block(1, 2, 2, {"b"});
  wal->log_allocation(100, {{1, 1}});
  wal->log_allocation(200, {{1, 2}});
  raw_db raw{dir.db_file()};
  // A valid frame in the wrong row: the keys disagree.
  auto row1 = raw.row_id("wal_blocks", "block_id = 1");
  auto row2 = raw.row_id("wal_blocks", "block_id = 2");
  raw.set_payload("wal_blocks", row2, raw.payload("wal_blocks", row1));
  std::vector<wal_corrupt_row> bad;
  BOOST_TEST((block_ids(wal->read_blocks(1, 0, &bad)) == std::vector<std::int64_t>{1}));
  BOOST_REQUIRE(bad.size() == 1u);
  BOOST_TEST(bad[0].row_id == row2);
  BOOST_TEST(bad[0].defect == "key_mismatch");
  // A bad magic byte in an allocation.
  auto alloc = raw.row_id("wal_allocations", "batch_time_ms = 200");
  auto bytes = raw.payload("wal_allocations", alloc);
  bytes[0] = '\x00';
  raw.set_payload("wal_allocations", alloc, bytes);
  auto what = message_of([&] { wal->read_allocations(); });
  BOOST_TEST(contains(what, "wal_allocations, row " + std::to_string(alloc) + ": bad_magic"),
             what);
  bad.clear();
  BOOST_TEST((wal->read_allocations(&bad) == std::vector<wal_allocation>{{100, {{1, 1}}}}));
  BOOST_REQUIRE(bad.size() == 1u);
  BOOST_TEST(bad[0].table == "wal_allocations");
}

BOOST_AUTO_TEST_CASE(a_failed_write_at_wal_append_leaves_no_row) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  wal->append_block(1, 1, 1, {"kept"});
  auto& faults = sluice::fault_injector::global();
  faults.arm(sluice::fault_points::wal_append, {.action = sluice::fault_action::fail_write()});
  auto what = message_of([&] { wal->append_block(1, 2, 2, {"lost"}); });
  faults.disarm_all();
  BOOST_TEST(contains(what, "injected write failure"), what);
  BOOST_TEST(contains(what, "wal.append"), what);
  BOOST_TEST(wal->block_count() == 1u);
  BOOST_TEST((block_ids(wal->read_blocks(1)) == std::vector<std::int64_t>{1}));
  wal->append_block(1, 2, 2, {"retried"});
  BOOST_TEST((block_ids(wal->read_blocks(1)) == std::vector<std::int64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(a_block_given_record_by_record_is_the_same_row_as_a_vector) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  std::vector<std::string> records{std::string("\0\xff", 2), "", "abc", std::string(300, 'y')};
  auto each = [&](const receiver_wal::record_visitor& visit) {
    std::string buf; // one buffer for every record, as the block manager's encoder
    for (auto& r : records) {
      buf = r;
      visit(buf);
    }
  };
  wal->append_block(5, 1, 1000, records);
  wal->append_block_from(6, 1, 1000, each);
  wal->append_block_from(-3, 7, 0, each); // negative stream id, zero time: fields as protobuf's
  BOOST_TEST((wal->read_blocks(6) == std::vector<wal_block>{{6, 1, 1000, records}}));
  BOOST_TEST((wal->read_blocks(-3) == std::vector<wal_block>{{-3, 7, 0, records}}));
  raw_db raw{dir.db_file()};
  auto from_vector = raw.payload("wal_blocks", raw.row_id("wal_blocks", "stream_id = 5"));
  auto from_visits = raw.payload("wal_blocks", raw.row_id("wal_blocks", "stream_id = 6"));
  // Only the stream id differs: 0x08 0x05 against 0x08 0x06 in the payload,
  // and the frame's CRC.
  BOOST_REQUIRE(from_vector.size() == from_visits.size());
  BOOST_TEST(from_vector.substr(0, 5) == from_visits.substr(0, 5)); // magic and size
  BOOST_TEST(from_vector.substr(11) == from_visits.substr(11));
  sluice::pb::WalBlock pb;
  BOOST_REQUIRE(pb.ParseFromString(
    raw.payload("wal_blocks", raw.row_id("wal_blocks", "stream_id = -3")).substr(9)));
  BOOST_TEST(pb.stream_id() == -3);
  BOOST_TEST(pb.block_id() == 7);
  BOOST_TEST(pb.created_ms() == 0);
  BOOST_TEST(pb.records_size() == 4);

  // A producer that throws half-way leaves no row, and the next block is whole.
  auto what = message_of([&] {
    wal->append_block_from(6, 2, 2000, [&](const receiver_wal::record_visitor& visit) {
      visit("written");
      throw std::runtime_error("encoding record 2 failed");
    });
  });
  BOOST_TEST(what == "encoding record 2 failed");
  BOOST_TEST(wal->block_count() == 3u);
  wal->append_block_from(6, 3, 3000, each);
  BOOST_TEST((block_ids(wal->read_blocks(6)) == std::vector<std::int64_t>{1, 3}));
  BOOST_TEST((wal->read_blocks(6, 3) == std::vector<wal_block>{{6, 3, 3000, records}}));
}

BOOST_AUTO_TEST_CASE(append_blocks_writes_all_in_one_commit_or_none) {
  checkpoint_dir_fixture dir;
  auto wal = receiver_wal::open(dir.checkpoint_dir());
  std::vector<wal_block> group{{2, 1, 10, {"a"}}, {2, 2, 20, {"b", "c"}}, {3, 1, 30, {}}};
  wal->append_blocks(group);
  wal->append_blocks({});
  BOOST_TEST((wal->read_blocks(2) == std::vector<wal_block>{group[0], group[1]}));
  BOOST_TEST((wal->read_blocks(3) == std::vector<wal_block>{group[2]}));
  auto& faults = sluice::fault_injector::global();
  faults.arm(sluice::fault_points::wal_append, {.action = sluice::fault_action::fail_write()});
  auto what = message_of([&] { wal->append_blocks({{4, 1, 1, {"x"}}, {4, 2, 2, {"y"}}}); });
  faults.disarm_all();
  BOOST_TEST(contains(what, "2 blocks from 4/1 not written"), what);
  BOOST_TEST(wal->read_blocks(4).empty());
  BOOST_TEST(wal->block_count() == 3u);
}

BOOST_AUTO_TEST_CASE(a_database_of_a_newer_format_is_refused) {
  checkpoint_dir_fixture dir;
  receiver_wal::open(dir.checkpoint_dir());
  {
    raw_db raw{dir.db_file()};
    BOOST_TEST(raw.query_int64("SELECT value FROM meta WHERE key = 'format_version'") == 2);
    raw.exec("UPDATE meta SET value = 3 WHERE key = 'format_version'");
  }
  auto what = message_of([&] { receiver_wal::open(dir.checkpoint_dir()); });
  BOOST_TEST(contains(what, "format version 3"), what);
  BOOST_TEST(contains(what, "newer than version 2"), what);
  BOOST_TEST(contains(what, dir.db_file().string()), what);
  BOOST_CHECK_THROW(receiver_wal::open(dir.checkpoint_dir()), sluice::storage_error);
}

BOOST_AUTO_TEST_CASE(sqlite_errors_name_the_file_and_the_operation) {
  checkpoint_dir_fixture dir;
  sluice::sqlite_db db{(dir.path / "x.db").string()};
  auto what = message_of([&] { db.prepare("SELEKT 1"); });
  BOOST_TEST(contains(what, "x.db"), what);
  BOOST_TEST(contains(what, "prepare"), what);
  BOOST_TEST(contains(what, "syntax error"), what);
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY)");
  db.exec("INSERT INTO t VALUES (1)");
  what = message_of([&] { db.exec("INSERT INTO t VALUES (1)"); });
  BOOST_TEST(contains(what, "UNIQUE constraint failed"), what);
  // A checkpoint directory that is a file.
  auto file = dir.path / "plain-file";
  { sluice::sqlite_db touch{file.string()}; }
  what = message_of([&] { receiver_wal::open(file.string()); });
  BOOST_TEST(contains(what, "cannot create checkpoint directory"), what);
}

BOOST_AUTO_TEST_CASE(a_rolled_back_transaction_leaves_nothing) {
  checkpoint_dir_fixture dir;
  sluice::sqlite_db db{(dir.path / "tx.db").string()};
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY)");
  {
    sluice::sqlite_transaction tx{db};
    db.exec("INSERT INTO t VALUES (1)");
  }
  BOOST_TEST(db.query_int64("SELECT count(*) FROM t").value_or(-1) == 0);
  {
    sluice::sqlite_transaction tx{db};
    db.exec("INSERT INTO t VALUES (2)");
    tx.commit();
  }
  BOOST_TEST(db.query_int64("SELECT count(*) FROM t").value_or(-1) == 1);
}

BOOST_AUTO_TEST_CASE(disk_use_stays_bounded_after_deleting_and_compacting) {
  checkpoint_dir_fixture dir;
  // Sizes do not depend on the synchronous mode; NORMAL keeps the test quick.
  auto wal = receiver_wal::open(dir.checkpoint_dir(),
                                {.synchronous = sluice::sqlite_sync::normal});
  auto records = make_records(100, 100, 'd');
  std::uintmax_t peak = 0;
  for (int i = 0; i < 1000; ++i) {
    wal->append_block(0, i, i, records);
    if (i % 10 == 9) { // ten blocks per batch
      std::vector<std::pair<std::int32_t, std::int64_t>> alloc;
      for (int b = i - 9; b <= i; ++b)
        alloc.emplace_back(0, b);
      wal->log_allocation(i, alloc);
    }
    if (i % 100 == 99)
      peak = std::max(peak, dir.disk_use());
  }
  BOOST_TEST(wal->block_count() == 1000u);
  BOOST_TEST(peak > 5'000'000u); // ~10 MB of records went in
  wal->delete_before(1000);
  wal->compact();
  BOOST_TEST(wal->block_count() == 0u);
  BOOST_TEST(wal->allocation_count() == 0u);
  auto after = dir.disk_use();
  BOOST_TEST_MESSAGE("disk use: peak " << peak << " bytes, after delete and compact " << after
                                       << " bytes");
  BOOST_TEST(after < 2'000'000u);
}

BOOST_AUTO_TEST_CASE(append_throughput) {
  // Figures, not checks: records of 100 bytes per second into the WAL, by
  // records per block, blocks per transaction and synchronous mode.
  using clock = std::chrono::steady_clock;
  struct setup {
    int records_per_block;
    int blocks_per_commit;
    sluice::sqlite_sync sync;
  };
  for (auto [per_block, per_commit, sync] :
       {setup{1000, 1, sluice::sqlite_sync::full}, setup{1000, 1, sluice::sqlite_sync::normal},
        setup{10000, 1, sluice::sqlite_sync::full}, setup{1000, 10, sluice::sqlite_sync::full}}) {
    checkpoint_dir_fixture dir;
    auto wal = receiver_wal::open(dir.checkpoint_dir(), {.synchronous = sync});
    auto records = make_records(per_block, 100, 'p');
    std::vector<wal_block> group(static_cast<std::size_t>(per_commit),
                                 wal_block{0, 0, 0, records});
    std::int64_t blocks = 0;
    auto start = clock::now();
    auto elapsed = clock::duration{};
    while (elapsed < std::chrono::seconds{1}) {
      if (per_commit == 1) {
        wal->append_block(0, blocks, blocks, records);
        ++blocks;
      } else {
        for (auto& x : group)
          x.block_id = blocks++;
        wal->append_blocks(group);
      }
      elapsed = clock::now() - start;
    }
    auto secs = std::chrono::duration<double>(elapsed).count();
    BOOST_TEST_MESSAGE("WAL append, synchronous="
                       << (sync == sluice::sqlite_sync::full ? "FULL" : "NORMAL") << ", "
                       << per_block << " x 100-byte records per block, " << per_commit
                       << " block(s) per commit: " << blocks / secs << " blocks/s = "
                       << blocks * per_block / secs / 1e6 << " M records/s");
    BOOST_TEST(wal->block_count() == static_cast<std::size_t>(blocks));
  }
}

BOOST_AUTO_TEST_SUITE_END()
