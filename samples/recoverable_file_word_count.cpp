// Cumulative word counts over the files that appear in a directory, written
// for every batch to <output-dir>/counts-<t>.txt (one "word count" line per
// word, sorted by word, written atomically). Kill it at any moment and start
// it again with the same checkpoint directory: it resumes where it stopped.
//
// Usage: recoverable_file_word_count [--master M] <input-dir> <checkpoint-dir> <output-dir>
// --master is the master URL (default local[2]), as spark-submit's; a
// recovered run takes the one it is given, as Spark reloads spark.master.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "sluice/sluice.hpp"

namespace fs = std::filesystem;

namespace {

using word_count = std::pair<std::string, int64_t>;

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in{line};
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

/// Writes `counts` to `dir/counts-<t>.txt` through a temporary file and a
/// rename, so a reader never sees half a file.
void write_counts(const std::string& dir, sluice::batch_time t, std::vector<word_count> counts) {
  std::sort(counts.begin(), counts.end());
  auto target = fs::path{dir} / ("counts-" + std::to_string(t.ms) + ".txt");
  auto tmp = fs::path{dir} / (".counts-" + std::to_string(t.ms) + ".tmp");
  {
    std::ofstream out{tmp};
    for (auto& [w, n] : counts)
      out << w << ' ' << n << '\n';
    out.flush();
    if (!out)
      throw sluice::error("cannot write " + tmp.string());
  }
  fs::rename(tmp, target);
}

sluice::streaming_context create(const std::string& master, const std::string& input,
                                 const std::string& checkpoint, const std::string& output) {
  sluice::conf conf;
  conf.app_name("RecoverableFileWordCount").master(master); // a bad master throws, naming it
  sluice::streaming_context ssc{conf, sluice::seconds(1)};
  ssc.checkpoint(checkpoint);
  ssc.text_file_stream(input)
    .flat_map(split)
    .map([](std::string w) { return word_count{std::move(w), 1}; })
    .update_state_by_key([](const std::vector<int64_t>& ns, std::optional<int64_t> total) {
      int64_t sum = total.value_or(0);
      for (auto n : ns)
        sum += n;
      return std::optional<int64_t>{sum};
    })
    // State checkpoints at Spark's default interval (10 s); a recovery runs
    // the batches since the last one again, on the files they read before.
    .foreach_rdd([output](const sluice::rdd<word_count>& r, sluice::batch_time t) {
      write_counts(output, t, r.collect());
    });
  return ssc;
}

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "error: " << what << '\n';
  std::cerr << "usage: recoverable_file_word_count [--master M] <input-dir> <checkpoint-dir> "
               "<output-dir>\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Cumulative word counts of the files that appear in a directory, recovered from a "
               "checkpoint"};
  std::string master = "local[2]";
  std::vector<std::string> args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("args", args, "<input-dir> <checkpoint-dir> <output-dir>");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() != 3)
    return usage(nullptr);
  std::string input = args[0], checkpoint = args[1], output = args[2];
  fs::create_directories(output);
  try {
    auto ssc = sluice::streaming_context::get_or_create(
      checkpoint, [&] { return create(master, input, checkpoint, output); });
    ssc.start();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
