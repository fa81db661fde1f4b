// Copies one Kafka topic into another with the transactional sink: a direct
// stream read in 1 s batches, written by save_to_kafka as one Kafka
// transaction per batch (transactional.id), with a checkpoint directory. Kill
// it at any moment and start it again: the batches pending at the kill run
// again on the offset ranges they had (fixed in the metadata checkpoint
// before a batch starts), and a batch whose transaction committed before the
// kill is not written again.
//
// Usage: kafka_transactional_copy [--master M] <brokers> <in-topic> <out-topic>
//                                 <transactional-id> <checkpoint-dir>
// Each record of <in-topic> becomes one record of <out-topic>, in the same
// partition, valued "<batch ms> <partition> <offset> <value>": which batch
// copied it, and from where.
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>

#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

namespace kafka = sluice::kafka;
using record = kafka::consumer_record<std::string, std::string>;

namespace {

struct options {
  std::optional<std::string> master;
  std::string brokers, in, out, txid, checkpoint;
};

sluice::streaming_context create(const options& o) {
  sluice::conf conf;
  conf.app_name("KafkaTransactionalCopy");
  if (o.master)
    conf.master(*o.master); // a bad master throws, naming it
  else if (!conf.get("sluice.master"))
    conf.master("local[2]");
  sluice::streaming_context ssc{conf, sluice::seconds(1)};
  ssc.checkpoint(o.checkpoint);
  kafka::params in{{"bootstrap.servers", o.brokers},
                   {"group.id", o.txid + "-reader"},
                   {"auto.offset.reset", "earliest"},
                   {"log_level", "3"}};
  auto records = kafka::create_direct_stream<std::string, std::string>(
    ssc, kafka::prefer_consistent(), kafka::subscribe({o.in}, in));
  // A line per batch on stderr: what it read ("topic-partition [from, until)")
  // and how many records.
  records.foreach_rdd([](const sluice::rdd<record>& r, sluice::batch_time t) {
    std::string line = "batch " + std::to_string(t.ms) + ":";
    for (auto& range : kafka::offset_ranges(r))
      line += " " + range.topic + "-" + std::to_string(range.partition) + " ["
              + std::to_string(range.from_offset) + ", " + std::to_string(range.until_offset) + ")";
    std::cerr << line + " " + std::to_string(r.count()) + " records\n";
  });
  using copied = std::pair<int32_t, std::string>; // partition, value
  auto tagged = records.transform([](const sluice::rdd<record>& r, sluice::batch_time t) {
    return r.map([t](const record& x) {
      return copied{x.partition, std::to_string(t.ms) + ' ' + std::to_string(x.partition) + ' '
                                   + std::to_string(x.offset) + ' ' + x.value};
    });
  });
  tagged.save_to_kafka(o.out,
                       {{"bootstrap.servers", o.brokers},
                        {"transactional.id", o.txid},
                        {"log_level", "3"}},
                       [](const copied& c) {
                         return kafka::producer_record{std::nullopt, c.second, c.first};
                       });
  return ssc;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Copies a Kafka topic into another, one transaction per batch"};
  options o;
  std::string master;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT");
  app.add_option("brokers", o.brokers, "bootstrap servers, e.g. 127.0.0.1:9092")->required();
  app.add_option("in-topic", o.in, "the topic read")->required();
  app.add_option("out-topic", o.out, "the topic written")->required();
  app.add_option("transactional-id", o.txid, "the producer's transactional.id")->required();
  app.add_option("checkpoint-dir", o.checkpoint, "where the checkpoints go")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0)
      return app.exit(e); // --help
    std::cerr << "error: " << e.what() << '\n'
              << "usage: kafka_transactional_copy [--master M] <brokers> <in-topic> <out-topic> "
                 "<transactional-id> <checkpoint-dir>\n";
    return 2;
  }
  if (app.count("--master") > 0)
    o.master = master;
  try {
    auto ssc = sluice::streaming_context::get_or_create(o.checkpoint, [&] { return create(o); });
    ssc.start();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
