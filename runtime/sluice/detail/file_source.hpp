// text_file_stream's source: Spark's FileInputDStream with newFilesOnly,
// reading text files that appear in a directory.
#pragma once

#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sluice/errors.hpp"
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

  std::string dir_;
  mutable std::mutex mtx_;              ///< guards seen_ (start and generate may be on two threads)
  std::set<std::string> seen_;  ///< names present at start or already read
  bool restored_ = false;       ///< recovering: keep seen_ as restored
};

} // namespace sluice::detail
