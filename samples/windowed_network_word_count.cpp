// Counts the words of the lines a TCP server sends over a sliding window
// (like Spark's WindowedNetworkWordCount): every <slide_s> seconds, the
// counts of the last <window_s> seconds. 1 s batches; the window is kept
// incrementally (reduce_by_key_and_window with an inverse), and words whose
// count drops to 0 leave the output.
//
//   windowed_network_word_count [--master M] <host> <port> [window_s=30] [slide_s=10]
//
// --master is the master URL (default local[2]), as spark-submit's.
//
// Try it with a server such as `nc -lk 9999`, then type lines into it.
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "windowed_network_word_count: " << what << "\n";
  std::cerr << "Usage: windowed_network_word_count [--master M] <host> <port> [window_s] "
               "[slide_s]\n"
               "  <host> and <port> describe the TCP server that sluice connects to\n"
               "  to receive lines of text, e.g. localhost 9999\n"
               "  [window_s] is the window length in seconds (default 30), [slide_s]\n"
               "  how often the window's counts are printed (default 10); both\n"
               "  positive whole numbers of seconds\n"
               "  --master M is the master URL (default local[2])\n";
  return 2;
}

/// Parses a TCP port (1..65535); returns 0 if `s` is not one.
uint16_t parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  long v = std::stol(s);
  return v >= 1 && v <= 65535 ? static_cast<uint16_t>(v) : 0;
}

/// Parses a positive number of seconds (1..86400); returns 0 if `s` is not one.
int parse_seconds(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  long v = std::stol(s);
  return v >= 1 && v <= 86400 ? static_cast<int>(v) : 0;
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
  CLI::App app{"Word counts over a sliding window of the lines a TCP server sends"};
  std::string master = "local[2]";
  std::vector<std::string> args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("args", args, "<host> <port> [window_s] [slide_s]");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() < 2 || args.size() > 4)
    return usage(nullptr);
  std::string host = args[0];
  uint16_t port = parse_port(args[1]);
  if (host.empty())
    return usage("the host must not be empty");
  if (port == 0)
    return usage("the port must be a number in 1..65535");
  int window_s = args.size() > 2 ? parse_seconds(args[2]) : 30;
  int slide_s = args.size() > 3 ? parse_seconds(args[3]) : 10;
  if (window_s == 0)
    return usage("the window must be a whole number of seconds in 1..86400");
  if (slide_s == 0)
    return usage("the slide must be a whole number of seconds in 1..86400");
  try {
    using word_count = std::pair<std::string, int>;
    sluice::conf c;
    c.app_name("WindowedNetworkWordCount").master(master); // a bad master throws, naming it
    sluice::streaming_context ssc{c, sluice::seconds(1)};
    auto dir = std::filesystem::temp_directory_path() / "windowed_network_word_count";
    ssc.checkpoint(dir.string());

    auto lines = ssc.socket_text_stream(host, port);
    auto words = lines.flat_map([](const std::string& l) { return split(l); });
    auto pairs = words.map([](const std::string& w) { return word_count{w, 1}; });
    // The engine checks the window and the slide (e.g. the window must be a
    // multiple of the slide) and throws invalid_argument with its reason.
    auto counts = pairs.reduce_by_key_and_window(
      std::plus<int>{}, std::minus<int>{}, sluice::seconds(window_s), sluice::seconds(slide_s), 0,
      [](const word_count& p) { return p.second != 0; });
    counts.print();
    ssc.start();
    ssc.await_termination();
  } catch (const sluice::invalid_argument& e) {
    std::cerr << "windowed_network_word_count: " << e.what() << "\n";
    return 2;
  } catch (const sluice::error& e) {
    std::cerr << "windowed_network_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
