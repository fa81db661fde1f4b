// Kafka ingest: 100-byte records pre-produced into librdkafka's mock cluster
// (in this process) over 4 partitions, read (1) by a plain librdkafka
// consumer loop that only touches each record's length, (2) by the same
// loop keeping each record as the direct stream does (topic, partition,
// offset, timestamp, key and value copied into a consumer_record<string,
// string> in a vector: what a Kafka client hands its user), and (3) by the
// direct stream counting them in a foreach_rdd, in --batches batches (4 by
// default: maxRatePerPartition gives each batch its share, so the later
// batches read through the consumers the first created, as a running
// stream does; --batches 1 measures a cold start). Interleaved, in the same
// run over the same records. Prints the rates and ratios per round and
// their min/median/max.
//
// librdkafka 2.0.2's mock cluster keeps about 5 MiB per partition (older
// records are deleted: offset out of range), so a round holds at most ~45 k
// records per partition; the default is 40 k x 4.
//
// --only plain|direct runs one reader alone (for perf record; no ratios).
//
// Usage: kafka_ingest [--records N] [--rounds R] [--batches B] [--master local[K]] [--only R]
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bench_util.hpp"
#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

namespace {

using bench::clock_type;
using bench::seconds_since;
constexpr int partitions = 4;

void produce(const std::string& bootstrap, int64_t n) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
  rd_kafka_conf_set(conf, "batch.num.messages", "1000", err, sizeof err); // 100 KB sets: the mock serves sets whole
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  std::string value(100, 'x');
  for (int64_t i = 0; i < n; ++i) {
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("bench"),
                             RD_KAFKA_V_PARTITION(static_cast<int32_t>(i % partitions)),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END)
           == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 10);
  }
  rd_kafka_flush(rk, 120000);
  rd_kafka_destroy(rk);
}

using record = sluice::kafka::consumer_record<std::string, std::string>;

/// The plain consumer: all partitions assigned from 0, polled until n
/// records. With `keep`, each record is copied into a `record` in a vector,
/// as the direct stream's batch holds it.
double plain_consumer(const std::string& bootstrap, int64_t n, bool keep) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "plain", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  auto* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, "bench", p)->offset = 0;
  auto t0 = clock_type::now();
  rd_kafka_assign(rk, list);
  int64_t got = 0, bytes = 0;
  std::vector<record> kept;
  while (got < n) {
    auto* m = rd_kafka_consumer_poll(rk, 1000);
    if (!m)
      continue;
    if (!m->err) {
      ++got;
      bytes += static_cast<int64_t>(m->len); // touch the record as a user would
      if (keep) {
        record r;
        r.topic = rd_kafka_topic_name(m->rkt);
        r.partition = m->partition;
        r.offset = m->offset;
        r.timestamp = rd_kafka_message_timestamp(m, nullptr);
        if (m->key)
          r.key.assign(static_cast<const char*>(m->key), m->key_len);
        r.value.assign(static_cast<const char*>(m->payload), m->len);
        kept.push_back(std::move(r));
      }
    }
    rd_kafka_message_destroy(m);
  }
  double secs = seconds_since(t0);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  if (bytes != n * 100)
    std::fprintf(stderr, "plain consumer: unexpected bytes %lld\n", static_cast<long long>(bytes));
  return static_cast<double>(n) / secs;
}

/// The direct stream: `batches` batches read every record (each limited to
/// its share by maxRatePerPartition, so the later batches read through the
/// consumers the first one created, as a running stream does); time from
/// the first tick to the last batch's completion. Prints the first batch's
/// phases.
double direct_stream(const std::string& bootstrap, int64_t n, const std::string& master,
                     int round, int batches) {
  sluice::conf c;
  c.master(master).app_name("kafka_ingest").set("sluice.streaming.clock", "manual");
  c.set("sluice.ui.enabled", "false");
  int64_t per_partition = (n / partitions + batches - 1) / batches;
  c.set("sluice.streaming.kafka.maxRatePerPartition", std::to_string(per_partition));
  sluice::streaming_context ssc{c, sluice::seconds(1)};
  std::mutex mtx;
  std::condition_variable cv;
  int64_t counted = 0;
  int done = 0;
  namespace kafka = sluice::kafka;
  kafka::create_direct_stream<std::string, std::string>(
    ssc, kafka::prefer_consistent(),
    kafka::subscribe({"bench"}, {{"bootstrap.servers", bootstrap},
                                 {"group.id", "direct-" + std::to_string(round)},
                                 {"auto.offset.reset", "earliest"}}))
    .foreach_rdd([&](const sluice::rdd<kafka::consumer_record<std::string, std::string>>& r) {
      auto k = r.count();
      std::lock_guard<std::mutex> guard{mtx};
      counted += k;
      ++done;
      cv.notify_all();
    });
  struct phases : sluice::streaming_listener {
    std::mutex mtx;
    std::vector<sluice::batch_info> infos;
    void on_batch_completed(const sluice::batch_info& b) override {
      std::lock_guard<std::mutex> guard{mtx};
      infos.push_back(b);
    }
  };
  auto seen = std::make_shared<phases>();
  ssc.add_listener(seen);
  ssc.start();
  auto t0_us = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  auto t0 = clock_type::now();
  ssc.manual_clock().advance(sluice::seconds(batches));
  {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait_for(guard, std::chrono::minutes(5), [&] { return done >= batches; });
  }
  double secs = seconds_since(t0);
  ssc.stop();
  ssc.await_termination();
  {
    std::lock_guard<std::mutex> guard{seen->mtx};
    if (!seen->infos.empty()) {
      auto& b = seen->infos.front();
      std::printf("  direct stream, first of %d batches: tick to submitted %.1f ms, processing "
                  "%.1f ms; all batches %.1f ms\n",
                  batches, (b.submission_us - t0_us) / 1e3, b.processing_delay_us() / 1e3,
                  secs * 1e3);
    }
  }
  if (counted != n)
    std::fprintf(stderr, "direct stream: counted %lld of %lld\n", static_cast<long long>(counted),
                 static_cast<long long>(n));
  return static_cast<double>(n) / secs;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kafka ingest: the direct stream against a plain librdkafka consumer"};
  int64_t records = 160'000;
  int rounds = 5;
  std::string master = "local[2]";
  int batches = 4;
  app.add_option("--records", records, "records pre-produced (100 bytes each, at most 180000)")
    ->check(CLI::Range(int64_t{1}, int64_t{180'000}));
  app.add_option("--rounds", rounds, "rounds of (plain, direct)")->check(CLI::PositiveNumber);
  app.add_option("--master", master, "the direct stream's master");
  app.add_option("--batches", batches, "batches the direct stream reads the records in")
    ->check(CLI::Range(1, 100));
  std::string only;
  app.add_option("--only", only, "run one reader alone, to profile it (no ratios)")
    ->check(CLI::IsMember({"plain", "direct"}));
  CLI11_PARSE(app, argc, argv);

  char err[512];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  auto* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  auto* mc = rd_kafka_mock_cluster_new(host, 1);
  rd_kafka_mock_topic_create(mc, "bench", partitions, 1);
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  auto t0 = clock_type::now();
  produce(bootstrap, records);
  std::printf("produced %lld records of 100 bytes over %d partitions in %.1f s\n",
              static_cast<long long>(records), partitions, seconds_since(t0));
  std::vector<double> plains, keeps, directs, ratios, keep_ratios;
  for (int r = 0; r < rounds; ++r) {
    double plain = only == "direct" ? 0 : plain_consumer(bootstrap, records, false);
    double keep = only == "direct" ? 0 : plain_consumer(bootstrap, records, true);
    double direct = only == "plain" ? 0 : direct_stream(bootstrap, records, master, r, batches);
    std::printf("round %d: plain consumer %.2f M records/s, keeping records %.2f M/s, direct "
                "stream %.2f M/s; ratio to plain %.2f, to keeping %.2f\n",
                r + 1, plain / 1e6, keep / 1e6, direct / 1e6, direct / plain, direct / keep);
    std::fflush(stdout);
    plains.push_back(plain / 1e6);
    keeps.push_back(keep / 1e6);
    directs.push_back(direct / 1e6);
    ratios.push_back(direct / plain);
    keep_ratios.push_back(direct / keep);
  }
  auto show = [](const char* what, const std::vector<double>& xs) {
    auto s = bench::spread(xs);
    std::printf("%s min/median/max %.2f/%.2f/%.2f\n", what, s.min, s.median, s.max);
  };
  show("plain consumer M records/s:", plains);
  show("keeping records M records/s:", keeps);
  show("direct stream M records/s:", directs);
  show("ratio direct/plain:", ratios);
  show("ratio direct/keeping:", keep_ratios);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(host);
}
