// Spark's RecoverableNetworkWordCount: word counts of each 1 s batch of text
// from a TCP server, appended to <output-file> as
// "Counts at time <t> ms [(a,1), (b,2)]". Started again with the same
// checkpoint directory, it recovers with get_or_create.
//
// The receiver write-ahead log is on and sluice.streaming.socket.acknowledge
// is true: each chunk of lines is stored in the WAL, then acknowledged with
// an "ack <n>\n" line on the same socket (n = lines stored on this
// connection so far), which the server may read (nc prints them). A server
// that resends from line n+1 after a reconnect loses no line across crashes.
//
// Usage: recoverable_network_word_count [--master M] <host> <port> <checkpoint-dir> <output-file>
// --master is the master URL (default local[2]), as spark-submit's; a
// recovered run takes the one it is given, as Spark reloads spark.master.
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "sluice/sluice.hpp"

namespace {

using word_count = std::pair<std::string, int>;

sluice::streaming_context create(const std::string& master, const std::string& host, uint16_t port,
                                 const std::string& checkpoint, const std::string& output) {
  sluice::conf conf;
  conf.app_name("RecoverableNetworkWordCount").master(master); // a bad master throws, naming it
  conf.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  conf.set("sluice.streaming.socket.acknowledge", "true");
  sluice::streaming_context ssc{conf, sluice::seconds(1)};
  ssc.checkpoint(checkpoint);
  ssc.socket_text_stream(host, port)
    .flat_map([](const std::string& line) {
      std::vector<std::string> words;
      std::istringstream in{line};
      for (std::string w; in >> w;)
        words.push_back(w);
      return words;
    })
    .map([](std::string w) { return word_count{std::move(w), 1}; })
    .reduce_by_key(std::plus<int>{})
    .foreach_rdd([output](const sluice::rdd<word_count>& r, sluice::batch_time t) {
      std::ostringstream line;
      line << "Counts at time " << t << " [";
      bool first = true;
      for (auto& [w, n] : r.collect()) {
        line << (first ? "" : ", ") << '(' << w << ',' << n << ')';
        first = false;
      }
      line << "]\n";
      std::cout << line.str();
      std::ofstream{output, std::ios::app} << line.str();
    });
  return ssc;
}

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "error: " << what << '\n';
  std::cerr << "usage: recoverable_network_word_count [--master M] <host> <port> <checkpoint-dir> "
               "<output-file>\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Spark's RecoverableNetworkWordCount: per-batch word counts of the lines a TCP "
               "server sends, recovered from a checkpoint"};
  std::string master = "local[2]";
  std::vector<std::string> args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("args", args, "<host> <port> <checkpoint-dir> <output-file>");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() != 4)
    return usage(nullptr);
  int port = std::atoi(args[1].c_str());
  if (port < 1 || port > 65535) {
    std::cerr << "error: port must be 1..65535, got " << args[1] << '\n';
    return 2;
  }
  try {
    auto ssc = sluice::streaming_context::get_or_create(args[2], [&] {
      return create(master, args[0], static_cast<uint16_t>(port), args[2], args[3]);
    });
    ssc.start();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
