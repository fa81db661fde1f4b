// Spark's DirectKafkaWordCount: counts the words of the records of Kafka
// topics in 2 s batches and prints them.
//
// Usage: direct_kafka_word_count [--master M] <brokers> <group> <topics>
//                                [<checkpoint-dir> <output-dir>]
//   --master   the master URL; without it, sluice.master from SLUICE_CONF_FILE,
//              else local[2] (spark-submit's --master also wins over spark-defaults.conf)
//   <brokers>  bootstrap servers, e.g. 127.0.0.1:9092 (samples/kafka_broker prints one)
//   <group>    the consumer group; its committed offsets are where a new run starts
//   <topics>   comma-separated topics
// With a checkpoint directory the program recovers after a crash (kill it at any
// moment and start it again): every batch writes <output-dir>/batch-<t>.txt, one
// line "topic partition from until records" per Kafka partition, through a
// rename; a batch re-run after a crash reads the same ranges and writes the same
// file. Without a checkpoint directory the offsets are committed to the group after
// each batch's output (commit_async).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>

#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

namespace fs = std::filesystem;
namespace kafka = sluice::kafka;
using record = kafka::consumer_record<std::string, std::string>;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in{s};
  for (std::string x; std::getline(in, x, sep);)
    if (!x.empty())
      out.push_back(x);
  return out;
}

void write_ranges(const std::string& dir, sluice::batch_time t, const sluice::rdd<record>& r) {
  auto ranges = kafka::offset_ranges(r);
  auto target = fs::path{dir} / ("batch-" + std::to_string(t.ms) + ".txt");
  auto tmp = fs::path{dir} / (".batch-" + std::to_string(t.ms) + ".tmp");
  {
    std::ofstream out{tmp};
    for (size_t i = 0; i < ranges.size(); ++i)
      out << ranges[i].topic << ' ' << ranges[i].partition << ' ' << ranges[i].from_offset << ' '
          << ranges[i].until_offset << ' ' << r.partitions()[i].size() << '\n';
    out.flush();
    if (!out)
      throw sluice::error("cannot write " + tmp.string());
  }
  fs::rename(tmp, target);
}

/// `master`: the one given on the command line, if any.
sluice::streaming_context create(const std::optional<std::string>& master,
                                 const std::string& brokers, const std::string& group,
                                 const std::string& topics, const std::string& checkpoint,
                                 const std::string& output) {
  sluice::conf conf;
  conf.app_name("DirectKafkaWordCount");
  if (master)
    conf.master(*master); // a bad master throws, naming it
  else if (!conf.get("sluice.master"))
    conf.master("local[2]");
  sluice::streaming_context ssc{conf, sluice::seconds(checkpoint.empty() ? 2 : 1)};
  if (!checkpoint.empty())
    ssc.checkpoint(checkpoint);
  kafka::params params{{"bootstrap.servers", brokers},
                       {"group.id", group},
                       {"auto.offset.reset", "earliest"},
                       {"log_level", "3"}};
  auto messages = kafka::create_direct_stream<std::string, std::string>(
    ssc, kafka::prefer_consistent(), kafka::subscribe(split(topics, ','), params));
  if (!output.empty())
    messages.foreach_rdd([output](const sluice::rdd<record>& r, sluice::batch_time t) {
      write_ranges(output, t, r);
    });
  messages.map([](const record& r) { return r.value; })
    .flat_map([](const std::string& line) { return split(line, ' '); })
    .map([](std::string w) { return std::pair<std::string, int64_t>{std::move(w), 1}; })
    .reduce_by_key(std::plus<int64_t>{})
    .print();
  // Without a checkpoint a new run starts at the group's committed offsets;
  // with one, the checkpoint holds the offsets (Spark's two ways).
  if (checkpoint.empty())
    messages.foreach_rdd([](const sluice::rdd<record>& r) {
      kafka::commit_async(kafka::offset_ranges(r));
    });
  return ssc;
}

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "error: " << what << '\n';
  std::cerr << "usage: direct_kafka_word_count [--master M] <brokers> <group> <topics> "
               "[<checkpoint-dir> <output-dir>]\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Spark's DirectKafkaWordCount: word counts of the records of Kafka topics"};
  std::string master_arg;
  std::vector<std::string> args;
  app.add_option("--master", master_arg,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT");
  app.add_option("args", args, "<brokers> <group> <topics> [<checkpoint-dir> <output-dir>]");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() != 3 && args.size() != 5)
    return usage(nullptr);
  // Without --master: sluice.master from SLUICE_CONF_FILE, else local[2].
  std::optional<std::string> master;
  if (app.count("--master") > 0)
    master = master_arg;
  std::string brokers = args[0], group = args[1], topics = args[2];
  std::string checkpoint = args.size() == 5 ? args[3] : "";
  std::string output = args.size() == 5 ? args[4] : "";
  try {
    if (!output.empty())
      fs::create_directories(output);
    auto ssc = checkpoint.empty() ? create(master, brokers, group, topics, "", "")
                                  : sluice::streaming_context::get_or_create(checkpoint, [&] {
                                      return create(master, brokers, group, topics, checkpoint,
                                                    output);
                                    });
    ssc.start();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
