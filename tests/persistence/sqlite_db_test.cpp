// sluice::sqlite_db's statement cache: one prepared statement per SQL text
// and connection, handed out reset and unbound, references that stay valid.
#define BOOST_TEST_MODULE persistence/sqlite_db
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <filesystem>

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
