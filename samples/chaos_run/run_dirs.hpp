// chaos_run's files: the directories of one run, the input files it drops
// and the output file it compares.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace chaos_run {

/// The directories a run's program is given as {input}, {checkpoint} and
/// {output}, and the file its stdout and stderr go to.
struct run_dirs {
  std::filesystem::path input, checkpoint, output, log;
};

/// Returns `work/name/{input,checkpoint,output,program.log}`, input and
/// output created (the program creates its checkpoint directory).
run_dirs make_dirs(const std::filesystem::path& work, const std::string& name);

/// Returns `command` with {input}, {checkpoint} and {output} replaced by `d`'s.
std::vector<std::string> substitute(const std::vector<std::string>& command, const run_dirs& d);

/// Writes `text` to `dir/part-<n>.txt` through a dot-file and a rename, so
/// the program never reads half a file.
void drop_file(const std::filesystem::path& dir, int n, const std::string& text);

/// Returns the newest output file's text ("" when there is none): the
/// greatest number in a file name, dot-files (not yet renamed) left out.
std::string newest_output(const std::filesystem::path& dir);

/// Returns whether `dir` holds a file that is not a dot-file.
bool has_output(const std::filesystem::path& dir);

} // namespace chaos_run
