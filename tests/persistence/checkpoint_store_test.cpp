#define BOOST_TEST_MODULE persistence/checkpoint_store
#include <boost/test/unit_test.hpp>

#include "sluice/checkpoint_store.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/receiver_wal.hpp"

#include "fixtures/sqlite_db.hpp"
#include "fixtures/store_rows.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using sluice::checkpoint_store;
using sluice::metadata_checkpoint;
using sluice::state_chain;
using fixtures::checkpoint_dir_fixture;
using fixtures::raw_db;
using state_map = sluice::state_entries;  // sorted by key, as read_state returns it
using upsert_list = std::vector<std::pair<std::string, std::string>>;
using key_list = std::vector<std::string>;

namespace {

/// The value of `key` in sorted `state`, or "<absent>".
std::string value_in(const state_map& state, const std::string& key) {
  auto i = std::lower_bound(state.begin(), state.end(), key,
                            [](const auto& e, const std::string& k) { return e.first < k; });
  return i != state.end() && i->first == key ? i->second : "<absent>";
}

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%09d", i);
  return buf;
}

std::string value_of(int i, int version) {
  // 16 bytes.
  char buf[32];
  std::snprintf(buf, sizeof buf, "v%07d-%07d", version, i);
  return std::string(buf, 16);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

// -- state ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(full_snapshot_then_deltas) {
  checkpoint_dir_fixture dir;
  // Tiny chunks, so checkpoints span several rows.
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.state_chunk_bytes = 20});
  store->write_state(7, 1, 1000, true, {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}, {});
  store->write_state(7, 1, 2000, false, {{"b", "20"}, {"e", "5"}}, {"a"});
  store->write_state(7, 1, 3000, false, {{"f", "6"}}, {"b", "c", "zzz"});
  store->write_state(7, 1, 4000, false, {{"a", "100"}, {"f", "60"}}, {"e"});
  // Another partition and operator do not interfere.
  store->write_state(7, 2, 2000, true, {{"x", "1"}}, {});
  store->write_state(8, 1, 2000, true, {{"y", "1"}}, {});
  BOOST_TEST(store->state_row_count(7, 1) == 8u); // 2 chunks each

  BOOST_TEST((store->read_state(7, 1, 999) == state_map{}));
  BOOST_TEST((store->read_state(7, 1, 1000)
              == state_map{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}));
  BOOST_TEST((store->read_state(7, 1, 1999)
              == state_map{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}));
  BOOST_TEST((store->read_state(7, 1, 2000)
              == state_map{{"b", "20"}, {"c", "3"}, {"d", "4"}, {"e", "5"}}));
  BOOST_TEST((store->read_state(7, 1, 3000) == state_map{{"d", "4"}, {"e", "5"}, {"f", "6"}}));
  BOOST_TEST((store->read_state(7, 1, 4000) == state_map{{"a", "100"}, {"d", "4"}, {"f", "60"}}));
  BOOST_TEST((store->read_state(7, 1, 99999) == state_map{{"a", "100"}, {"d", "4"}, {"f", "60"}}));
  BOOST_TEST((store->read_state(7, 2, 4000) == state_map{{"x", "1"}}));
  BOOST_TEST((store->read_state(8, 1, 4000) == state_map{{"y", "1"}}));
  BOOST_TEST(store->latest_state_time(7, 1, 3500).value() == 3000);
  BOOST_TEST(!store->latest_state_time(7, 1, 500).has_value());
  // What the state was read from: the full snapshot and the deltas after it
  // (a restored operator goes on with deltas on that chain).
  state_chain chain;
  store->read_state(7, 1, 3500, &chain);
  BOOST_TEST((chain == state_chain{3, 1000}));
  store->read_state(7, 1, 1000, &chain);
  BOOST_TEST((chain == state_chain{1, 1000}));
  store->read_state(7, 1, 999, &chain);
  BOOST_TEST((chain == state_chain{0, -1}));

  // Writing a checkpoint time again replaces it.
  store->write_state(7, 1, 4000, false, {{"g", "7"}}, {});
  BOOST_TEST((store->read_state(7, 1, 4000)
              == state_map{{"d", "4"}, {"e", "5"}, {"f", "6"}, {"g", "7"}}));
  // Within a full snapshot a later upsert of a key wins; removals come last.
  store->write_state(7, 1, 4500, true, {{"b", "1"}, {"a", "1"}, {"b", "2"}, {"c", "3"}}, {"c"});
  BOOST_TEST((store->read_state(7, 1, 4500) == state_map{{"a", "1"}, {"b", "2"}}));
  store->write_state(7, 1, 4600, false, {{"a", "9"}, {"a", "10"}, {"0", "0"}}, {"b"});
  BOOST_TEST((store->read_state(7, 1, 4600, &chain) == state_map{{"0", "0"}, {"a", "10"}}));
  BOOST_TEST((chain == state_chain{2, 4500}));
  // An empty full snapshot clears the state.
  store->write_state(7, 1, 5000, true, {}, {});
  BOOST_TEST((store->read_state(7, 1, 5000) == state_map{}));
}

BOOST_AUTO_TEST_CASE(state_is_read_back_in_bytewise_key_order_whatever_the_key_lengths) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.state_chunk_bytes = 40});
  // Keys sharing their first 8 bytes, shorter than 8, with 0 and 0xff bytes.
  std::vector<std::string> keys{"abcdefgh", "abcdefghi", std::string("abcdefgh\0", 9),
                                "abcdefg", "", std::string("a\0", 2), "a", std::string("\0", 1),
                                "\xff\xff\xff\xff\xff\xff\xff\xff\x01", "abcdefghij",
                                "abcdefgha", "b", "\xff"};
  upsert_list full;
  std::map<std::string, std::string> want;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    full.emplace_back(keys[i], "v" + std::to_string(i));
    want[keys[i]] = "v" + std::to_string(i);
  }
  store->write_state(9, 0, 1000, true, full, {});
  // A delta: one key changed twice (the later wins), one removed, one put back.
  store->write_state(9, 0, 2000, false,
                     {{"abcdefghi", "x"}, {"abcdefghi", "y"}, {"abcdefgh", "gone"}}, {"abcdefgh"});
  store->write_state(9, 0, 3000, false, {{"abcdefgh", "back"}}, {"a"});
  want["abcdefghi"] = "y";
  want["abcdefgh"] = "back";
  want.erase("a");
  BOOST_TEST((store->read_state(9, 0, 3000) == state_map(want.begin(), want.end())));
}

BOOST_AUTO_TEST_CASE(a_new_full_snapshot_and_delete_state_before_drop_superseded_rows) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  store->write_state(1, 0, 1000, true, {{"a", "1"}}, {});
  store->write_state(1, 0, 2000, false, {{"b", "2"}}, {});
  store->write_state(1, 0, 3000, false, {}, {"a"});
  store->write_state(1, 0, 4000, true, {{"b", "2"}, {"c", "3"}}, {});
  store->write_state(1, 0, 5000, false, {{"d", "4"}}, {});
  store->write_state(1, 1, 1000, true, {{"other", "partition"}}, {});
  raw_db raw{dir.db_file()};
  auto rows = [&](int partition) {
    return raw.query_int64("SELECT count(*) FROM checkpoint_state WHERE operator_id = 1 "
                           "AND partition = " + std::to_string(partition));
  };
  BOOST_TEST(rows(0) == 5);
  // No full snapshot at or before 999: nothing to delete.
  store->delete_state_before(1, 0, 999);
  BOOST_TEST(rows(0) == 5);
  // The newest full snapshot <= 3500 is 1000: nothing before it.
  store->delete_state_before(1, 0, 3500);
  BOOST_TEST(rows(0) == 5);
  // The newest full snapshot <= 5000 is 4000: 1000, 2000 and 3000 go.
  store->delete_state_before(1, 0, 5000);
  BOOST_TEST(rows(0) == 2);
  BOOST_TEST(raw.query_int64("SELECT min(batch_time_ms) FROM checkpoint_state "
                             "WHERE operator_id = 1 AND partition = 0") == 4000);
  BOOST_TEST(rows(1) == 1);
  BOOST_TEST((store->read_state(1, 0, 5000) == state_map{{"b", "2"}, {"c", "3"}, {"d", "4"}}));
  BOOST_TEST((store->read_state(1, 0, 4000) == state_map{{"b", "2"}, {"c", "3"}}));
  BOOST_TEST((store->read_state(1, 1, 5000) == state_map{{"other", "partition"}}));
}

BOOST_AUTO_TEST_CASE(a_corrupt_state_row_throws_naming_table_and_row) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  store->write_state(2, 0, 1000, true, {{"a", "1"}, {"b", "2"}}, {});
  store->write_state(2, 0, 2000, false, {{"c", "3"}}, {});
  raw_db raw{dir.db_file()};
  auto bad_row = raw.query_int64("SELECT row_id FROM checkpoint_state WHERE batch_time_ms = 2000");
  raw.flip_payload_byte("checkpoint_state", bad_row, 12);
  // The checkpoint at 1000 is still readable.
  BOOST_TEST((store->read_state(2, 0, 1000) == state_map{{"a", "1"}, {"b", "2"}}));
  try {
    store->read_state(2, 0, 2000);
    BOOST_FAIL("expected wal_corruption");
  } catch (const sluice::wal_corruption& e) {
    BOOST_TEST_MESSAGE("error: " << e.what());
    BOOST_TEST(e.table() == "checkpoint_state");
    BOOST_TEST(e.row_id() == bad_row);
    BOOST_TEST(e.defect() == "checksum_mismatch");
  }
  // A missing chunk is detected too.
  store->write_state(3, 0, 1000, true, {{"a", std::string(100, 'x')}, {"b", std::string(100, 'y')}},
                     {});
  auto small = checkpoint_store::open(dir.checkpoint_dir(), {.state_chunk_bytes = 120});
  small->write_state(3, 0, 2000, true,
                     {{"a", std::string(100, 'x')}, {"b", std::string(100, 'y')}}, {});
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM checkpoint_state WHERE operator_id = 3 "
                             "AND batch_time_ms = 2000") == 2);
  raw.exec("DELETE FROM checkpoint_state WHERE operator_id = 3 AND batch_time_ms = 2000 "
           "AND chunk_index = 1");
  BOOST_CHECK_THROW(small->read_state(3, 0, 2000), sluice::wal_corruption);
}

BOOST_AUTO_TEST_CASE(one_million_keys_full_snapshot_and_a_10k_delta) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  constexpr int n = 1'000'000;
  upsert_list upserts;
  upserts.reserve(n);
  for (int i = 0; i < n; ++i)
    upserts.emplace_back(key_of(i), value_of(i, 1));
  // In hash order, as a hash-map state store hands them over.
  std::shuffle(upserts.begin(), upserts.end(), std::mt19937{42});

  auto start = std::chrono::steady_clock::now();
  store->write_state(4, 0, 1000, true, upserts, {});
  auto write_s = seconds_since(start);
  auto rows = store->state_row_count(4, 0);
  BOOST_TEST_MESSAGE("full snapshot of 1 M keys (16-byte values): write " << write_s << " s, "
                                                                           << rows << " rows");

  start = std::chrono::steady_clock::now();
  auto state = store->read_state(4, 0, 1000);
  auto read_s = seconds_since(start);
  BOOST_TEST_MESSAGE("read_state of 1 M keys (recovery time): " << read_s << " s");
  BOOST_TEST(state.size() == static_cast<std::size_t>(n));
  BOOST_TEST(rows >= 20u); // ~30 MB in ~1 MB chunks
  BOOST_TEST(value_in(state, key_of(0)) == value_of(0, 1));
  BOOST_TEST(value_in(state, key_of(n - 1)) == value_of(n - 1, 1));
  BOOST_TEST(value_in(state, key_of(123456)) == value_of(123456, 1));
  // How long it takes is measured by bench/checkpoint_cost, not asserted here.

  // A delta changing 10 k keys (every 100th) and removing 100.
  upsert_list changed;
  key_list removed;
  for (int i = 0; i < n; i += 100)
    changed.emplace_back(key_of(i), value_of(i, 2));
  for (int i = 1; i < n; i += 10'000)
    removed.push_back(key_of(i));
  start = std::chrono::steady_clock::now();
  store->write_state(4, 0, 2000, false, changed, removed);
  auto delta_s = seconds_since(start);
  BOOST_TEST_MESSAGE("delta of 10 k changed keys: write " << delta_s << " s");

  start = std::chrono::steady_clock::now();
  auto after = store->read_state(4, 0, 2000);
  BOOST_TEST_MESSAGE("read_state of 1 M keys + 10 k delta: " << seconds_since(start) << " s");
  BOOST_TEST(after.size() == static_cast<std::size_t>(n) - removed.size());
  BOOST_TEST(value_in(after, key_of(0)) == value_of(0, 2));
  BOOST_TEST(value_in(after, key_of(100)) == value_of(100, 2));
  BOOST_TEST(value_in(after, key_of(101)) == value_of(101, 1));
  BOOST_TEST(value_in(after, key_of(1)) == "<absent>");
  BOOST_TEST(value_in(after, key_of(10'001)) == "<absent>");
}

// -- faults and format versions -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_injected_checkpoint_write_failure_leaves_the_previous_state) {
  checkpoint_dir_fixture dir;
  fixtures::fault_guard guard;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.state_chunk_bytes = 64});
  store->write_state(5, 0, 1000, true, {{"a", "1"}, {"b", "2"}}, {});
  store->write_metadata(fixtures::full_metadata(1000));
  auto rows_before = store->state_row_count(5, 0);

  auto& faults = sluice::fault_injector::global();
  faults.arm(sluice::fault_points::checkpoint_write,
             {.action = sluice::fault_action::fail_write()});
  upsert_list big;
  for (int i = 0; i < 100; ++i)
    big.emplace_back(key_of(i), value_of(i, 9));
  try {
    store->write_state(5, 0, 2000, true, big, {});
    BOOST_FAIL("expected storage_error");
  } catch (const sluice::storage_error& e) {
    BOOST_TEST_MESSAGE("error: " << e.what());
    BOOST_TEST(std::string{e.what()}.find("injected write failure at checkpoint.write")
               != std::string::npos);
  }
  BOOST_CHECK_THROW(store->write_metadata(fixtures::full_metadata(2000)), sluice::storage_error);
  BOOST_TEST(faults.fires(sluice::fault_points::checkpoint_write) == 2u);
  faults.disarm_all();

  BOOST_TEST(store->state_row_count(5, 0) == rows_before);
  BOOST_TEST(store->latest_state_time(5, 0, 9999).value() == 1000);
  BOOST_TEST((store->read_state(5, 0, 9999) == state_map{{"a", "1"}, {"b", "2"}}));
  BOOST_TEST(store->latest_metadata()->batch_time_ms == 1000);
  BOOST_TEST(store->metadata_count() == 1u);

  // Disarmed, the same write succeeds.
  store->write_state(5, 0, 2000, true, big, {});
  BOOST_TEST(store->read_state(5, 0, 2000).size() == 100u);
}

BOOST_AUTO_TEST_CASE(a_failure_half_way_through_a_state_write_rolls_it_back) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.state_chunk_bytes = 64});
  store->write_state(6, 0, 1000, true, {{"a", "1"}}, {});
  {
    // Make the third chunk's insert fail, after two chunks went in.
    raw_db raw{dir.db_file()};
    raw.exec("CREATE TRIGGER fail_third_chunk BEFORE INSERT ON checkpoint_state "
             "WHEN NEW.chunk_index = 2 BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
  }
  upsert_list big;
  for (int i = 0; i < 100; ++i)
    big.emplace_back(key_of(i), value_of(i, 1));
  BOOST_CHECK_THROW(store->write_state(6, 0, 2000, true, big, {}), sluice::storage_error);
  BOOST_TEST(store->state_row_count(6, 0) == 1u);
  BOOST_TEST((store->read_state(6, 0, 2000) == state_map{{"a", "1"}}));
}

BOOST_AUTO_TEST_CASE(shares_the_database_with_the_receiver_wal) {
  checkpoint_dir_fixture dir;
  {
    auto wal = sluice::receiver_wal::open(dir.checkpoint_dir());
    wal->append_block(1, 1, 100, {"r1"});
  }
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir());
    store->write_metadata(fixtures::full_metadata(1000));
    // Both open at once.
    auto wal = sluice::receiver_wal::open(dir.checkpoint_dir());
    BOOST_TEST(wal->block_count() == 1u);
    store->write_state(1, 0, 1000, true, {{"k", "v"}}, {});
  }
  checkpoint_dir_fixture other;
  {
    auto store = checkpoint_store::open(other.checkpoint_dir());
    store->write_metadata(fixtures::full_metadata(1000));
  }
  auto wal = sluice::receiver_wal::open(other.checkpoint_dir());
  BOOST_TEST(wal->block_count() == 0u);
  raw_db raw{other.db_file()};
  BOOST_TEST(raw.query_int64("SELECT value FROM meta WHERE key = 'format_version'")
             == sluice::database_format_version);
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM meta") == 1);
}

BOOST_AUTO_TEST_CASE(opening_an_existing_database_writes_nothing) {
  // page_size and auto_vacuum are set when the file is created only: set
  // again, auto_vacuum=INCREMENTAL committed page 1 (a 64 KiB WAL frame and
  // a sync) at every open.
  checkpoint_dir_fixture dir;
  {
    // Each creates its tables at its first open.
    auto store = checkpoint_store::open(dir.checkpoint_dir());
    store->write_metadata(fixtures::full_metadata(1000));
    sluice::receiver_wal::open(dir.checkpoint_dir());
  }
  auto wal_file = dir.db_file().string() + "-wal";
  // The last connection's close checkpointed the WAL and deleted it.
  BOOST_TEST(!std::filesystem::exists(wal_file));
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  auto wal = sluice::receiver_wal::open(dir.checkpoint_dir());
  BOOST_TEST(std::filesystem::file_size(wal_file) == 0u);
  BOOST_TEST(store->latest_metadata().value().batch_time_ms == 1000);
  BOOST_TEST(std::filesystem::file_size(wal_file) == 0u);
  raw_db raw{dir.db_file()};
  BOOST_TEST(raw.query_int64("PRAGMA auto_vacuum") == 2); // incremental
  BOOST_TEST(raw.query_int64("PRAGMA page_size") == 65536);
}

BOOST_AUTO_TEST_CASE(the_page_size_applies_when_the_database_is_created_only) {
  checkpoint_dir_fixture dir;
  checkpoint_store::options small;
  small.page_size = 4096;
  checkpoint_store::open(dir.checkpoint_dir(), small)->write_metadata(fixtures::full_metadata(1000));
  {
    raw_db raw{dir.db_file()};
    BOOST_TEST(raw.query_int64("PRAGMA page_size") == 4096);
  }
  // An existing database keeps its pages, whatever the opener asks for.
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  store->write_metadata(fixtures::full_metadata(2000));
  BOOST_TEST(store->latest_metadata().value().batch_time_ms == 2000);
  raw_db raw{dir.db_file()};
  BOOST_TEST(raw.query_int64("PRAGMA page_size") == 4096);
}

BOOST_AUTO_TEST_CASE(a_database_with_a_newer_format_version_is_refused) {
  checkpoint_dir_fixture dir;
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir());
    store->write_metadata(fixtures::full_metadata(1000));
  }
  {
    raw_db raw{dir.db_file()};
    raw.exec("UPDATE meta SET value = " + std::to_string(sluice::database_format_version + 1)
             + " WHERE key = 'format_version'");
  }
  try {
    checkpoint_store::open(dir.checkpoint_dir());
    BOOST_FAIL("expected storage_error");
  } catch (const sluice::storage_error& e) {
    std::string msg = e.what();
    BOOST_TEST_MESSAGE("error: " << msg);
    BOOST_TEST(msg.find("format version "
                        + std::to_string(sluice::database_format_version + 1))
               != std::string::npos);
    BOOST_TEST(msg.find("newer than version " + std::to_string(sluice::database_format_version))
               != std::string::npos);
  }
}
