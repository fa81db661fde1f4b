// The base of every exception sluice throws (API.md "Errors"). It lives in the
// lowest library so that storage errors derive from it too.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sluice {

/// Base of every error sluice throws. A failing job stops the context and
/// `streaming_context::await_termination()` rethrows it.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

} // namespace sluice

// Errors of sluice's durable storage (the SQLite database of a checkpoint directory).
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

// The exceptions of the public API (API.md "Errors").
namespace sluice {

/// A value that is not acceptable (Spark's IllegalArgumentException).
class invalid_argument : public error {
 public:
  using error::error;
};

/// A call that is not allowed in the current state (Spark's IllegalStateException).
class illegal_state : public error {
 public:
  using error::error;
};

/// A missing value was read (Spark's NoSuchElementException), e.g.
/// `state<S>::get()` on a state that does not exist.
class no_such_element : public error {
 public:
  using error::error;
};

} // namespace sluice
