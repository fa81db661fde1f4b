// The schema of a checkpoint database: `meta.format_version` and the tables
// each class sharing the database creates (FORMAT.md "Versioning rules").
#include "sluice/sqlite_db.hpp"

#include <cctype>
#include <string>
#include <string_view>

namespace sluice {

namespace {

/// Whether every table and index `schema_sql` creates is there already:
/// tables looked up in the schema the connection has read (no statement),
/// an index through `sqlite_master`. False when `schema_sql` holds a
/// statement other than CREATE TABLE or CREATE INDEX ... IF NOT EXISTS.
bool schema_in_place(sqlite_db& db, std::string_view schema_sql) {
  constexpr std::string_view create = "CREATE ";
  constexpr std::string_view table = "CREATE TABLE IF NOT EXISTS ";
  constexpr std::string_view index = "CREATE INDEX IF NOT EXISTS ";
  auto name_at = [&](std::size_t pos) {
    auto end = pos;
    while (end < schema_sql.size()
           && (std::isalnum(static_cast<unsigned char>(schema_sql[end])) != 0
               || schema_sql[end] == '_'))
      ++end;
    return std::string{schema_sql.substr(pos, end - pos)};
  };
  for (auto pos = schema_sql.find(create); pos != std::string_view::npos;
       pos = schema_sql.find(create, pos + 1)) {
    auto rest = schema_sql.substr(pos);
    if (rest.starts_with(table)) {
      if (!db.has_table(name_at(pos + table.size())))
        return false;
    } else if (rest.starts_with(index)) {
      auto& stmt = db.cached("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                             "AND name = ?1");
      stmt.bind_text(1, name_at(pos + index.size()));
      bool found = stmt.step() && stmt.column_int64(0) > 0;
      stmt.reset();
      if (!found)
        return false;
    } else {
      return false;
    }
  }
  return true;
}

} // namespace

std::int64_t ensure_schema(sqlite_db& db, std::int64_t format_version,
                           std::string_view schema_sql) {
  // Most opens find the schema in place: the version and the names are read,
  // and no transaction is taken nor CREATE statement parsed (a simulated
  // restart opens the database again each time).
  if (db.has_table("meta")) {
    auto version = db.query_int64("SELECT value FROM meta WHERE key = 'format_version'");
    if (version == format_version && schema_in_place(db, schema_sql))
      return *version;
  }
  sqlite_transaction tx{db};
  db.exec("CREATE TABLE IF NOT EXISTS meta "
          "(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)");
  auto version = db.query_int64("SELECT value FROM meta WHERE key = 'format_version'");
  if (!version) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('format_version', ?1)")
      .bind_int64(1, format_version)
      .run();
  } else if (*version > format_version) {
    throw storage_error("sluice: " + db.path() + " has database format version "
                        + std::to_string(*version) + ", newer than version "
                        + std::to_string(format_version)
                        + " that this build reads; open it with a newer sluice");
  } else if (*version < 1) {
    throw storage_error("sluice: " + db.path() + " has an invalid database format version "
                        + std::to_string(*version));
  }
  db.exec(std::string{schema_sql});
  tx.commit();
  return version.value_or(format_version);
}

} // namespace sluice
