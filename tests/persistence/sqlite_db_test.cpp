// sluice::sqlite_db's statement cache: one prepared statement per SQL text
// and connection, handed out reset and unbound, references that stay valid.
#define BOOST_TEST_MODULE persistence/sqlite_db
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "fixtures/sqlite_db.hpp"
#include "sluice/sqlite_db.hpp"

using fixtures::checkpoint_dir_fixture;
using sluice::sqlite_db;

namespace {

/// The statements the connection has prepared and not finalized.
int live_statements(const sqlite_db& db) {
  int n = 0;
  for (auto* s = sqlite3_next_stmt(db.native_handle(), nullptr); s != nullptr;
       s = sqlite3_next_stmt(db.native_handle(), s))
    ++n;
  return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_cached_statement_is_prepared_once_and_handed_out_reset) {
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  sqlite_db db{dir.checkpoint_dir() + "/t.db"};
  db.exec("CREATE TABLE t (x INTEGER NOT NULL)");
  constexpr const char* insert = "INSERT INTO t (x) VALUES (?1)";
  for (int i = 0; i < 100; ++i)
    db.cached(insert).bind_int64(1, i).run();
  BOOST_TEST(live_statements(db) == 1);
  BOOST_TEST(db.query_int64("SELECT sum(x) FROM t").value() == 4950);
  // A read left half-way is reset when the statement is asked for again,
  // and asking for another one leaves the first where it was.
  auto& read = db.cached("SELECT x FROM t WHERE x >= ?1 ORDER BY x");
  read.bind_int64(1, 10);
  BOOST_REQUIRE(read.step());
  BOOST_TEST(read.column_int64(0) == 10);
  db.cached("SELECT count(*) FROM t");
  BOOST_REQUIRE(read.step());
  BOOST_TEST(read.column_int64(0) == 11);
  BOOST_TEST(live_statements(db) == 3);
  auto& again = db.cached("SELECT x FROM t WHERE x >= ?1 ORDER BY x");
  BOOST_TEST(&again == &read);
  // Bindings cleared: NULL compares false, no row.
  BOOST_TEST(!again.step());
  again.bind_int64(1, 99);
  BOOST_REQUIRE(again.step());
  BOOST_TEST(again.column_int64(0) == 99);
  again.reset();
}

BOOST_AUTO_TEST_CASE(a_cached_statement_with_a_syntax_error_names_it) {
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  sqlite_db db{dir.checkpoint_dir() + "/t.db"};
  try {
    db.cached("SELEC 1");
    BOOST_FAIL("expected storage_error");
  } catch (const sluice::storage_error& e) {
    BOOST_TEST(std::string{e.what()}.find("prepare of \"SELEC 1\"") != std::string::npos, e.what());
  }
  BOOST_TEST(live_statements(db) == 0);
}

namespace {

/// Commits `n` rows of 400 bytes, one transaction each, on `db` (pages of
/// 512 bytes: a page frame or two per commit) and returns the size of the
/// database's write-ahead file afterwards.
std::uintmax_t commit_rows(sqlite_db& db, const std::string& path, int n) {
  for (int i = 0; i < n; ++i)
    db.cached("INSERT INTO t (b) VALUES (?1)").bind_blob(1, std::string(400, 'x')).run();
  return std::filesystem::file_size(path + "-wal");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_connection_checkpoints_the_wal_file_after_its_own_page_count) {
  // SQLite's default: a commit leaving 1000 pages or more in the -wal file
  // copies them into the database, and the writes after it start the -wal
  // file over. With wal_autocheckpoint_pages = 4000 the same 1500 commits
  // keep every frame in it, until a commit on a connection with the default
  // checkpoints them.
  for (int pages : {0, 4000}) {
    BOOST_TEST_CONTEXT("wal_autocheckpoint_pages = " << pages) {
      checkpoint_dir_fixture dir;
      std::filesystem::create_directories(dir.checkpoint_dir());
      auto path = dir.checkpoint_dir() + "/t.db";
      sqlite_db::options opts;
      opts.synchronous = sluice::sqlite_sync::normal;
      opts.page_size = 512;
      opts.wal_autocheckpoint_pages = pages;
      sqlite_db writer{path, opts};
      writer.exec("CREATE TABLE t (b BLOB NOT NULL)");
      constexpr std::uintmax_t frame = 512 + 24; // a page and its frame header
      auto wal = commit_rows(writer, path, 1500);
      if (pages == 0) {
        BOOST_TEST(wal < 1100 * frame);
      } else {
        BOOST_TEST(wal > 1500 * frame);
        sqlite_db other{path, {.synchronous = sluice::sqlite_sync::normal}};
        other.exec("CREATE TABLE u (x INTEGER)"); // a commit past 1000 pages: checkpoints
        // Checkpointed, the -wal file starts over at the writer's next commit:
        // it then holds the frames of these 10 commits only.
        commit_rows(writer, path, 10);
        int log = -1, done = -1;
        BOOST_REQUIRE(sqlite3_wal_checkpoint_v2(writer.native_handle(), nullptr,
                                                SQLITE_CHECKPOINT_PASSIVE, &log, &done)
                      == SQLITE_OK);
        BOOST_TEST(log < 100);
        BOOST_TEST(writer.query_int64("SELECT count(*) FROM t").value() == 1510);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(memory_statistics_stay_on_once_sqlite_has_started) {
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  sqlite_db db{dir.checkpoint_dir() + "/stats.db"};
  db.exec("CREATE TABLE t (x BLOB)");
  BOOST_TEST(!sluice::disable_sqlite_memory_statistics());
  BOOST_TEST(sqlite3_memory_used() > 0);  // still counted
}

BOOST_AUTO_TEST_CASE(has_table_answers_from_the_schema_without_a_statement) {
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  sqlite_db db{dir.checkpoint_dir() + "/t.db"};
  db.exec("CREATE TABLE t (x INTEGER NOT NULL); CREATE INDEX t_by_x ON t (x)");
  BOOST_TEST(db.has_table("t"));
  BOOST_TEST(!db.has_table("u"));
  BOOST_TEST(!db.has_table("t_by_x"));  // an index is not a table
  BOOST_TEST(live_statements(db) == 0);
  // Another connection's new table is seen once this one has read the
  // database again (the schema it knows is as of its last statement).
  {
    sqlite_db other{dir.checkpoint_dir() + "/t.db"};
    other.exec("CREATE TABLE u (y INTEGER)");
  }
  BOOST_TEST(db.query_int64("SELECT count(*) FROM t").value() == 0);
  BOOST_TEST(db.has_table("u"));
}

BOOST_AUTO_TEST_CASE(a_database_without_sluice_tables_is_refused_as_a_checkpoint) {
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  {
    sqlite_db db{dir.checkpoint_dir() + "/sluice.db"};
    db.exec("CREATE TABLE someone_elses (x INTEGER)");
  }
  std::string what;
  try {
    sluice::open_checkpoint_database(dir.checkpoint_dir(), sluice::sqlite_sync::full);
  } catch (const sluice::storage_corruption& e) {
    what = e.what();
  }
  BOOST_TEST(what.find(dir.checkpoint_dir() + "/sluice.db has no sluice tables") != std::string::npos,
             what);
}

BOOST_AUTO_TEST_CASE(ensure_schema_creates_what_is_missing_and_leaves_a_complete_schema_alone) {
  checkpoint_dir_fixture dir;
  std::filesystem::create_directories(dir.checkpoint_dir());
  auto file = dir.checkpoint_dir() + "/t.db";
  constexpr std::string_view schema = "CREATE TABLE IF NOT EXISTS t (x INTEGER NOT NULL);\n"
                                      "CREATE INDEX IF NOT EXISTS t_by_x ON t (x);\n";
  sqlite_db db{file, {.busy_timeout = std::chrono::milliseconds(50)}};
  BOOST_TEST(sluice::ensure_schema(db, 7, schema) == 7);  // created: meta, t, t_by_x
  fixtures::raw_db raw{file};
  auto objects = [&] {
    return raw.query_int64("SELECT count(*) FROM sqlite_master WHERE name IN "
                           "('meta', 't', 't_by_x')");
  };
  BOOST_TEST(objects() == 3);
  // Complete: nothing to write, so another connection's write lock is no
  // obstacle (no transaction is taken).
  raw.exec("BEGIN IMMEDIATE");
  BOOST_TEST(sluice::ensure_schema(db, 7, schema) == 7);
  raw.exec("ROLLBACK");
  // A missing index, then a missing table, are created again.
  raw.exec("DROP INDEX t_by_x");
  BOOST_TEST(db.query_int64("SELECT count(*) FROM t").value() == 0);  // reads the new schema
  BOOST_TEST(sluice::ensure_schema(db, 7, schema) == 7);
  BOOST_TEST(objects() == 3);
  raw.exec("DROP TABLE t");
  BOOST_TEST(db.query_int64("SELECT count(*) FROM meta").value() == 1);
  BOOST_TEST(sluice::ensure_schema(db, 7, schema) == 7);
  BOOST_TEST(objects() == 3);
  // An older version is returned for the caller to upgrade; a newer one refused.
  raw.exec("UPDATE meta SET value = 6");
  BOOST_TEST(sluice::ensure_schema(db, 7, schema) == 6);
  raw.exec("UPDATE meta SET value = 8");
  BOOST_CHECK_THROW(sluice::ensure_schema(db, 7, schema), sluice::storage_error);
}
