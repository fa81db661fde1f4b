// Spark's NetworkWordCount: counts the words of the lines a TCP server
// sends, every second.
//
//   network_word_count [--master M] [--conf key=value]... <host> <port>
//
// --master is the master URL (default local[2]) and --conf sets a sluice
// conf key, as spark-submit's --master and --conf do, e.g.
// --conf sluice.streaming.receiver.maxRestarts=3.
//
// Try it with a server such as `nc -lk 9999`, then type lines into it.
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "network_word_count: " << what << "\n";
  std::cerr << "Usage: network_word_count [--master M] [--conf key=value]... <host> <port>\n"
               "  <host> and <port> describe the TCP server that sluice connects to\n"
               "  to receive lines of text, e.g. localhost 9999\n"
               "  --master M is the master URL (default local[2])\n"
               "  --conf key=value sets a sluice conf key\n";
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
  CLI::App app{"Spark's NetworkWordCount: word counts of the lines a TCP server sends"};
  std::string master = "local[2]";
  std::vector<std::string> confs, args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("--conf", confs, "key=value: sets a sluice conf key (repeatable)")
    ->allow_extra_args(false); // one value each time: the positionals follow
  app.add_option("args", args, "<host> <port>");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  std::vector<std::pair<std::string, std::string>> settings;
  for (auto& kv : confs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return usage(("--conf expects key=value, got '" + kv + "'").c_str());
    settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
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
    sluice::conf c;
    c.app_name("NetworkWordCount").master(master); // a bad master throws, naming it
    for (auto& [k, v] : settings)
      c.set(k, v); // a bad value throws sluice::invalid_argument, naming it
    if (app.count("--master") > 0)
      c.master(master); // wins over --conf sluice.master, as spark-submit's does
    sluice::streaming_context ssc{c, sluice::seconds(1)};
    auto lines = ssc.socket_text_stream(host, port);
    auto words = lines.flat_map([](const std::string& l) { return split(l); });
    auto counts = words.map([](const std::string& w) { return std::pair<std::string, int>{w, 1}; })
                    .reduce_by_key([](int a, int b) { return a + b; });
    counts.print();
    ssc.start();
    ssc.await_termination();
  } catch (const sluice::error& e) {
    std::cerr << "network_word_count: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
