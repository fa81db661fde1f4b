// Spark's HdfsWordCount: counts the words of the text files that appear in
// a directory, every two seconds.
//
//   text_file_word_count <directory>
//
// Files must appear atomically: write them elsewhere (or under a name that
// starts with '.') and move them into the directory.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "text_file_word_count: " << what << "\n";
  std::cerr << "Usage: text_file_word_count <directory>\n"
               "  <directory> is watched for new text files; files already there\n"
               "  when it starts are ignored\n";
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
  if (argc != 2)
    return usage(nullptr);
  std::string directory = argv[1];
  if (directory.empty())
    return usage("the directory must not be empty");
  try {
    sluice::conf c;
    c.app_name("HdfsWordCount").master("local[2]");
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
