// Spark's StatefulNetworkWordCount: a running count of the words of the lines
// a TCP server sends, updated every second with map_with_state. The state
// starts with (hello,1) and (world,1).
//
//   stateful_network_word_count <host> <port>
//
// Try it with a server such as `nc -lk 9999`, then type lines into it.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "stateful_network_word_count: " << what << "\n";
  std::cerr << "Usage: stateful_network_word_count <host> <port>\n"
               "  <host> and <port> describe the TCP server that sluice connects to\n"
               "  to receive lines of text, e.g. localhost 9999\n";
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
  if (argc != 3)
    return usage(nullptr);
  std::string host = argv[1];
  uint16_t port = parse_port(argv[2]);
  if (host.empty())
    return usage("the host must not be empty");
  if (port == 0)
    return usage("the port must be a number in 1..65535");
  try {
    using word_count = std::pair<std::string, int>;
    sluice::conf c;
    c.app_name("StatefulNetworkWordCount").master("local[2]");
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
