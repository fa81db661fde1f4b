// Errors of sluice's durable storage (the SQLite database of a checkpoint directory).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "sluice/error.hpp"

namespace sluice {

/// Thrown when durable storage fails: an SQLite call fails (the message names
/// the database file, the operation and SQLite's own message), a directory
/// cannot be created, a database has a newer format version than this build
/// reads, or a fault point fails a write on purpose. A context stopped by
/// one rethrows a storage_error from `await_termination()`.
class storage_error : public error {
 public:
  using error::error;
};

/// Thrown when stored data is damaged: the database file is empty or not a
/// sluice database, SQLite finds its image malformed, a record fails its
/// checks, or no checkpoint of a directory can be recovered. Unlike other
/// storage errors (a full disk, a missing directory), retrying cannot help;
/// `get_or_create` starts over on it only when asked to
/// (`sluice.streaming.checkpoint.startFreshIfCorrupt`).
class storage_corruption : public storage_error {
 public:
  using storage_error::storage_error;
};

/// Thrown when a stored record fails its checks: a torn or corrupt frame
/// (FORMAT.md "Frames"), a payload that is not the expected Protobuf message,
/// or a payload whose keys disagree with its row's key columns. Such a record
/// is never returned to the caller.
class wal_corruption : public storage_corruption {
 public:
  /// Builds "sluice: corrupt record in <file>, table <table>, row <row_id>:
  /// <defect>: <detail>".
  wal_corruption(const std::string& file, std::string table, std::int64_t row_id,
                 std::string defect, const std::string& detail);

  /// Returns the table holding the bad row, e.g. "wal_blocks".
  const std::string& table() const noexcept {
    return table_;
  }

  /// Returns the bad row's `row_id` column.
  std::int64_t row_id() const noexcept {
    return row_id_;
  }

  /// Returns what is wrong: a `frame_defect` name ("torn", "checksum_mismatch",
  /// ...), "bad_message" (the payload does not parse) or "key_mismatch".
  const std::string& defect() const noexcept {
    return defect_;
  }

 private:
  std::string table_;
  std::int64_t row_id_;
  std::string defect_;
};

} // namespace sluice
