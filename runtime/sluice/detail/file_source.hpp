// text_file_stream's source: Spark's FileInputDStream with newFilesOnly,
// reading text files that appear in a directory.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/source.hpp"

namespace sluice::detail {

/// Reads each new text file of a directory once, at the batch where it is
/// first seen.
///
/// Contract:
/// - `start` remembers the files already in the directory; they are never
///   read (Spark's newFilesOnly). A directory missing at start is not an
///   error yet.
/// - `generate(t)` lists the directory (non-recursive, regular files only),
///   skips hidden files (name starting with '.' or '_') and files being
///   written (name ending in "._COPYING_" or ".tmp"), and reads every file
///   whose name it has not seen before: one partition per file, in file-name
///   order, each line without its '\n' (and a trailing '\r'). A name is read
///   once, even if the file is later replaced. No new file: zero partitions
///   (an empty batch).
/// - A directory missing (or unreadable) at `generate` throws sluice::error
///   naming it, which fails the job and stops the context.
/// - Replay (Spark's batchTimeToSelectedFiles): the names each batch read
///   travel in `position()`, for batches not completed yet and those within
///   the replay window before the last completed one. After recovery, a batch
///   at or before the restored position reads exactly the files it read
///   before; one of them gone is an error naming it (never a silent loss).
class file_source final : public source_node<std::string> {
 public:
  file_source(duration batch, std::string directory);

  void start(const source_env& env) override;
  /// The names already read or ignored, codec-encoded.
  std::string position() const override;
  /// After recovery, every file not in the restored set is new, including
  /// those that appeared while the program was down.
  void restore_position(const std::string& bytes) override;
  std::optional<parts> generate(batch_time t) override;
  /// Forgets what batches before the replay window read.
  void on_batch_completed(const batch_info& info, int64_t records) override;

  const std::string& directory() const { return dir_; }

  /// Returns whether a file name is one text_file_stream ignores (hidden or
  /// still being written).
  static bool ignored(const std::string& name);

 private:
  /// Returns the sorted names of the directory's eligible regular files.
  /// Throws sluice::error when the directory cannot be listed.
  std::vector<std::string> list() const;
  /// Reads the lines of `path` into `out`; false if it vanished meanwhile.
  static bool read_lines(const std::filesystem::path& path, std::vector<std::string>& out);

  /// Re-reads the files batch `t` read before the crash.
  parts replay(batch_time t, const std::vector<std::string>& names) const;

  std::string dir_;
  mutable std::mutex mtx_;              ///< guards seen_ (start and generate may be on two threads)
  std::set<std::string> seen_;  ///< names present at start or already read
  bool restored_ = false;       ///< recovering: keep seen_ as restored
  duration replay_window_{0};
  std::map<int64_t, std::vector<std::string>> read_by_batch_;  ///< within the replay window
  int64_t restored_upto_ = -1;  ///< batches up to here replay read_by_batch_
};

} // namespace sluice::detail
