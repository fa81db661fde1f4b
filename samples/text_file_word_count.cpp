// Spark's HdfsWordCount: counts the words of the text files that appear in
// a directory, every two seconds.
//
//   text_file_word_count [--master M] <directory>
//
// --master is the master URL (default local[2]), as spark-submit's.
//
// Files must appear atomically: write them elsewhere (or under a name that
// starts with '.') and move them into the directory.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "text_file_word_count: " << what << "\n";
  std::cerr << "Usage: text_file_word_count [--master M] <directory>\n"
               "  <directory> is watched for new text files; files already there\n"
               "  when it starts are ignored\n"
               "  --master M is the master URL (default local[2])\n";
  return 2;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> words;
  size_t start = 0;
  for (;;) {
    auto end = line.find(' ', start);
    words.push_back(line.substr(start, end - start));
    if (end == std::string::npos)
      return words;
    start = end + 1;
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Spark's HdfsWordCount: word counts of the text files that appear in a directory"};
  std::string master = "local[2]";
  std::vector<std::string> args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("args", args, "<directory>");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() != 1)
    return usage(nullptr);
  std::string directory = args[0];
  if (directory.empty())
    return usage("the directory must not be empty");
  try {
    sluice::conf c;
    c.app_name("HdfsWordCount").master(master); // a bad master throws, naming it
    sluice::streaming_context ssc{c, sluice::seconds(2)};
    auto lines = ssc.text_file_stream(directory);
    auto words = lines.flat_map([](const std::string& l) { return split(l); });
    auto counts = words.map([](const std::string& w) { return std::pair<std::string, int>{w, 1}; })
                    .reduce_by_key([](int a, int b) { return a + b; });
    counts.print();
    ssc.start();
    ssc.await_termination();
  } catch (const sluice::error& e) {
    std::cerr << "text_file_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
