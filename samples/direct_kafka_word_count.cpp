// Spark's DirectKafkaWordCount: counts the words of the records of Kafka
// topics in 2 s batches and prints them.
//
// Usage: direct_kafka_word_count <brokers> <group> <topics> [<checkpoint-dir> <output-dir>]
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
#include <sstream>

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

sluice::streaming_context create(const std::string& brokers, const std::string& group,
                                 const std::string& topics, const std::string& checkpoint,
                                 const std::string& output) {
  sluice::conf conf;
  conf.app_name("DirectKafkaWordCount");
  if (!conf.get("sluice.master"))
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

} // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::cerr << "usage: direct_kafka_word_count <brokers> <group> <topics> "
                 "[<checkpoint-dir> <output-dir>]\n";
    return 2;
  }
  std::string brokers = argv[1], group = argv[2], topics = argv[3];
  std::string checkpoint = argc == 6 ? argv[4] : "", output = argc == 6 ? argv[5] : "";
  try {
    if (!output.empty())
      fs::create_directories(output);
    auto ssc = checkpoint.empty()
                 ? create(brokers, group, topics, "", "")
                 : sluice::streaming_context::get_or_create(
                     checkpoint, [&] { return create(brokers, group, topics, checkpoint, output); });
    ssc.start();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
