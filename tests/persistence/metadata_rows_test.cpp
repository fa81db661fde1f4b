#define BOOST_TEST_MODULE persistence/metadata_rows
// Where the checkpoint store keeps its metadata checkpoints (database format
// version 2, FORMAT.md "Checkpoint tables"): a new checkpoint takes over the
// oldest kept one's row, the `written` column keeps their order, another
// connection's writes are seen, and a version 1 database is upgraded.
#include <boost/test/unit_test.hpp>

#include "sluice/checkpoint_store.hpp"
#include "sluice/receiver_wal.hpp"

#include "fixtures/sqlite_db.hpp"
#include "fixtures/store_rows.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

using sluice::checkpoint_store;
using fixtures::checkpoint_dir_fixture;
using fixtures::full_metadata;
using fixtures::raw_db;

namespace {

/// The batch times of the stored generations, newest first.
std::vector<std::int64_t> generation_times(checkpoint_store& store) {
  std::vector<std::int64_t> out;
  for (auto& g : store.metadata_generations())
    out.push_back(g.batch_time_ms);
  return out;
}

/// (row_id, batch_time_ms, written) of every metadata row, by row_id.
std::vector<std::vector<std::int64_t>> metadata_rows(raw_db& raw) {
  std::vector<std::vector<std::int64_t>> out;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(raw.db,
                     "SELECT row_id, batch_time_ms, written FROM checkpoint_metadata "
                     "ORDER BY row_id",
                     -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1),
                   sqlite3_column_int64(stmt, 2)});
  sqlite3_finalize(stmt);
  return out;
}

using rows = std::vector<std::vector<std::int64_t>>;

} // namespace

BOOST_AUTO_TEST_CASE(a_checkpoint_takes_over_the_row_of_the_oldest_kept_one) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  for (std::int64_t t = 1000; t <= 3000; t += 1000)
    store->write_metadata(full_metadata(t));
  raw_db raw{dir.db_file()};
  BOOST_TEST((metadata_rows(raw) == rows{{1, 1000, 1}, {2, 2000, 2}, {3, 3000, 3}}));
  auto pages = raw.query_int64("PRAGMA page_count");
  for (std::int64_t t = 4000; t <= 20000; t += 1000)
    store->write_metadata(full_metadata(t));
  // 17 more checkpoints went over the three rows in turn; the file did not grow.
  BOOST_TEST((metadata_rows(raw) == rows{{1, 19000, 19}, {2, 20000, 20}, {3, 18000, 18}}));
  BOOST_TEST(raw.query_int64("PRAGMA page_count") == pages);
  BOOST_TEST((generation_times(*store) == std::vector<std::int64_t>{20000, 19000, 18000}));
  BOOST_TEST((*store->latest_metadata() == full_metadata(20000)));
}

BOOST_AUTO_TEST_CASE(equal_batch_times_are_ordered_by_writing_and_an_older_one_is_not_kept) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  // Generation and completion of 5000, then 6000; 4000 (older than every
  // kept one) is dropped at once, as appending and pruning would drop it.
  for (std::int64_t t : {5000, 5000, 6000, 4000})
    store->write_metadata(full_metadata(t));
  raw_db raw{dir.db_file()};
  BOOST_TEST((metadata_rows(raw) == rows{{1, 5000, 1}, {2, 5000, 2}, {3, 6000, 3}}));
  // The next one takes over the older of the two 5000s (written first); it
  // is written after every kept row.
  store->write_metadata(full_metadata(7000));
  BOOST_TEST((metadata_rows(raw) == rows{{1, 7000, 4}, {2, 5000, 2}, {3, 6000, 3}}));
  BOOST_TEST((generation_times(*store) == std::vector<std::int64_t>{7000, 6000, 5000}));
}

BOOST_AUTO_TEST_CASE(fewer_kept_checkpoints_after_a_reopen_delete_the_oldest_rows) {
  checkpoint_dir_fixture dir;
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 5});
    for (std::int64_t t = 1000; t <= 5000; t += 1000)
      store->write_metadata(full_metadata(t));
  }
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 2});
  store->write_metadata(full_metadata(6000));
  raw_db raw{dir.db_file()};
  BOOST_TEST((metadata_rows(raw) == rows{{4, 6000, 6}, {5, 5000, 5}}));
}

// The store remembers which row holds which checkpoint; a checkpoint another
// connection wrote meanwhile must not be overwritten as if it were the oldest.
BOOST_AUTO_TEST_CASE(checkpoints_another_connection_wrote_are_seen) {
  checkpoint_dir_fixture dir;
  auto first = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  auto second = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  first->write_metadata(full_metadata(1000));
  first->write_metadata(full_metadata(2000));
  second->write_metadata(full_metadata(3000));
  second->write_metadata(full_metadata(4000));
  first->write_metadata(full_metadata(5000));
  BOOST_TEST((generation_times(*first) == std::vector<std::int64_t>{5000, 4000, 3000}));
  raw_db raw{dir.db_file()};
  BOOST_TEST((metadata_rows(raw) == rows{{1, 4000, 4}, {2, 5000, 5}, {3, 3000, 3}}));
  // And the other way round, after a write of this (raw) connection.
  raw.exec("DELETE FROM checkpoint_metadata WHERE batch_time_ms = 3000");
  second->write_metadata(full_metadata(6000));
  BOOST_TEST((metadata_rows(raw) == rows{{1, 4000, 4}, {2, 5000, 5}, {3, 6000, 6}}));
}

BOOST_AUTO_TEST_CASE(a_version_1_database_is_upgraded_when_the_store_opens_it) {
  // Payloads as this build frames them (version 1 framed them the same way).
  checkpoint_dir_fixture source;
  std::vector<std::string> payload;
  {
    auto store = checkpoint_store::open(source.checkpoint_dir());
    for (std::int64_t t : {2000, 3000, 3000})
      store->write_metadata(full_metadata(t));
    raw_db raw{source.db_file()};
    for (std::int64_t row = 1; row <= 3; ++row)
      payload.push_back(raw.payload("checkpoint_metadata", row));
  }
  // Version 1's tables, as its build left them: rows appended (row ids in
  // the order of writing, older ones pruned), an index on (time, row id).
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  {
    raw_db raw{dir.db_file()};
    raw.exec("CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
             "INSERT INTO meta VALUES ('format_version', 1);"
             "CREATE TABLE checkpoint_metadata (row_id INTEGER PRIMARY KEY, "
             "batch_time_ms INTEGER NOT NULL, payload BLOB NOT NULL);"
             "CREATE INDEX checkpoint_metadata_by_time "
             "ON checkpoint_metadata (batch_time_ms, row_id);");
    std::vector<std::pair<std::int64_t, std::int64_t>> row_times{{7, 2000}, {8, 3000}, {9, 3000}};
    for (std::size_t i = 0; i < row_times.size(); ++i) {
      sqlite3_stmt* stmt = nullptr;
      sqlite3_prepare_v2(raw.db, "INSERT INTO checkpoint_metadata VALUES (?1, ?2, ?3)", -1,
                         &stmt, nullptr);
      sqlite3_bind_int64(stmt, 1, row_times[i].first);
      sqlite3_bind_int64(stmt, 2, row_times[i].second);
      sqlite3_bind_blob(stmt, 3, payload[i].data(), static_cast<int>(payload[i].size()),
                        SQLITE_TRANSIENT);
      BOOST_REQUIRE(sqlite3_step(stmt) == SQLITE_DONE);
      sqlite3_finalize(stmt);
    }
  }
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  raw_db raw{dir.db_file()};
  BOOST_TEST(raw.query_int64("SELECT value FROM meta WHERE key = 'format_version'")
             == sluice::database_format_version);
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                             "AND name = 'checkpoint_metadata_by_time'")
             == 0);
  // Version 1's order of writing, its row ids, became `written`.
  BOOST_TEST((metadata_rows(raw) == rows{{7, 2000, 7}, {8, 3000, 8}, {9, 3000, 9}}));
  auto generations = store->metadata_generations();
  BOOST_REQUIRE(generations.size() == 3u);
  BOOST_TEST((*generations[0].checkpoint == full_metadata(3000)));
  BOOST_TEST(generations[2].batch_time_ms == 2000);
  store->write_metadata(full_metadata(4000));
  BOOST_TEST((metadata_rows(raw) == rows{{7, 4000, 10}, {8, 3000, 8}, {9, 3000, 9}}));
  // Opening it again changes nothing more.
  store.reset();
  store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  BOOST_TEST((generation_times(*store) == std::vector<std::int64_t>{4000, 3000, 3000}));
}
