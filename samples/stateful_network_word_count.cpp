// Spark's StatefulNetworkWordCount: a running count of the words of the lines
// a TCP server sends, updated every second with map_with_state. The state
// starts with (hello,1) and (world,1).
//
//   stateful_network_word_count [--master M] <host> <port>
//
// --master is the master URL (default local[2]), as spark-submit's.
//
// Try it with a server such as `nc -lk 9999`, then type lines into it.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "stateful_network_word_count: " << what << "\n";
  std::cerr << "Usage: stateful_network_word_count [--master M] <host> <port>\n"
               "  <host> and <port> describe the TCP server that sluice connects to\n"
               "  to receive lines of text, e.g. localhost 9999\n"
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
  CLI::App app{"Spark's StatefulNetworkWordCount: running word counts of the lines a TCP server "
               "sends"};
  std::string master = "local[2]";
  std::vector<std::string> args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("args", args, "<host> <port>");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() != 2)
    return usage(nullptr);
  std::string host = args[0];
  uint16_t port = parse_port(args[1]);
  if (host.empty())
    return usage("the host must not be empty");
  if (port == 0)
    return usage("the port must be a number in 1..65535");
  try {
    using word_count = std::pair<std::string, int>;
    sluice::conf c;
    c.app_name("StatefulNetworkWordCount").master(master); // a bad master throws, naming it
    sluice::streaming_context ssc{c, sluice::seconds(1)};
    auto dir = std::filesystem::temp_directory_path() / "stateful_network_word_count";
    ssc.checkpoint(dir.string());

    // The state starts with these counts.
    auto initial = ssc.make_rdd<word_count>({{"hello", 1}, {"world", 1}}, 2);

    auto lines = ssc.socket_text_stream(host, port);
    auto words = lines.flat_map([](const std::string& l) { return split(l); });
    auto pairs = words.map([](const std::string& w) { return word_count{w, 1}; });

    // Adds the word's count to its running sum, keeps the sum in the state
    // and emits (word, sum).
    auto mapping = [](const std::string& word, std::optional<int> one,
                      sluice::state<int>& st) {
      int sum = one.value_or(0) + st.get_option().value_or(0);
      st.update(sum);
      return word_count{word, sum};
    };
    auto counts = pairs.map_with_state(
      sluice::state_spec<std::string, int, int, word_count>::function(mapping)
        .initial_state(initial));
    counts.print();
    ssc.start();
    ssc.await_termination();
  } catch (const sluice::error& e) {
    std::cerr << "stateful_network_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
