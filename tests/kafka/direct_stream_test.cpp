// The Kafka direct stream against a mock cluster in this process (the Kafka
// protocol over real TCP): exact offset ranges per batch, rate limits, the
// three consumer strategies, commits, recovery, errors, and kcat as a
// producer no one here wrote.
#define BOOST_TEST_MODULE kafka/direct_stream
#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <mutex>

#include "fixtures/harness.hpp"
#include "fixtures/kafka_cluster.hpp"
#include "fixtures/kcat.hpp"
#include "fixtures/tcp_forwarder.hpp"
#include "fixtures/kafka_print.hpp"
#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

using namespace sluice;
using fixtures::kafka_cluster;
using fixtures::manual_conf;
using kafka::offset_range;
using record = kafka::consumer_record<std::string, std::string>;
using strings = std::vector<std::string>;

namespace {

/// What one batch's output saw: its ranges and each partition's values.
struct seen_batch {
  int64_t t;
  std::vector<offset_range> ranges;
  std::vector<strings> values;
};

struct recorder {
  std::mutex mtx;
  std::vector<seen_batch> batches;
  void attach(const dstream<record>& s) {
    s.foreach_rdd([this](const rdd<record>& r, batch_time t) {
      seen_batch b{t.ms, kafka::offset_ranges(r), {}};
      for (auto& p : r.partitions()) {
        b.values.emplace_back();
        for (auto& x : p)
          b.values.back().push_back(x.value);
      }
      std::lock_guard<std::mutex> guard{mtx};
      batches.push_back(std::move(b));
    });
  }
  seen_batch last() {
    std::lock_guard<std::mutex> guard{mtx};
    return batches.back();
  }
};

kafka::params params_for(const kafka_cluster& k, const std::string& group,
                         const std::string& reset = "earliest") {
  return {{"bootstrap.servers", k.bootstrap()},
          {"group.id", group},
          {"auto.offset.reset", reset},
          {"log_level", "3"}};
}

/// A context with one direct stream, stepped one batch at a time.
struct pipeline {
  streaming_context ssc;
  std::shared_ptr<fixtures::batch_counter> counter = std::make_shared<fixtures::batch_counter>();
  recorder out;
  int batches = 0;

  explicit pipeline(const kafka::consumer_strategy& cs, conf c = manual_conf())
      : ssc{std::move(c), seconds(1)} {
    out.attach(kafka::create_direct_stream<std::string, std::string>(
      ssc, kafka::prefer_consistent(), cs));
    ssc.add_listener(counter);
  }
  seen_batch step() {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(++batches);
    return out.last();
  }
  ~pipeline() {
    ssc.stop();
    try {
      ssc.await_termination();
    } catch (...) {
    }
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(each_batch_reads_the_offset_ranges_fixed_at_its_time) {
  kafka_cluster k;
  k.create_topic("t", 2);
  k.produce_n("t", 0, 3, "a");
  k.produce_n("t", 1, 1, "b");
  pipeline p{kafka::subscribe({"t"}, params_for(k, "g"))};
  p.ssc.start();
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 0, 0, 3}, {"t", 1, 0, 1}}));
  BOOST_TEST((b1.values == std::vector<strings>{{"a0", "a1", "a2"}, {"b0"}}));
  k.produce_n("t", 1, 2, "c");
  auto b2 = p.step();
  BOOST_TEST((b2.ranges == std::vector<offset_range>{{"t", 0, 3, 3}, {"t", 1, 1, 3}}));
  BOOST_TEST((b2.values == std::vector<strings>{{}, {"c0", "c1"}}));
  auto b3 = p.step(); // nothing new: empty ranges, offset_ranges still answers
  BOOST_TEST((b3.ranges == std::vector<offset_range>{{"t", 0, 3, 3}, {"t", 1, 3, 3}}));
  auto infos = p.counter->infos();
  BOOST_TEST(infos[0].num_records == 4); // input records: the ranges' sizes
  BOOST_TEST(infos[1].num_records == 2);
}

BOOST_AUTO_TEST_CASE(auto_offset_reset_latest_starts_after_what_was_there_at_start) {
  kafka_cluster k;
  k.create_topic("t", 1);
  k.produce_n("t", 0, 5, "old");
  pipeline p{kafka::subscribe({"t"}, params_for(k, "g", "latest"))};
  p.ssc.start();
  k.produce_n("t", 0, 2, "new");
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 0, 5, 7}}));
  BOOST_TEST((b1.values == std::vector<strings>{{"new0", "new1"}}));
}

BOOST_AUTO_TEST_CASE(max_rate_per_partition_limits_each_partition_per_batch) {
  kafka_cluster k;
  k.create_topic("t", 2);
  k.produce_n("t", 0, 5, "a");
  k.produce_n("t", 1, 1, "b");
  auto c = manual_conf();
  c.set("sluice.streaming.kafka.maxRatePerPartition", "2"); // x 1 s batches
  pipeline p{kafka::subscribe({"t"}, params_for(k, "g")), c};
  p.ssc.start();
  BOOST_TEST((p.step().ranges == std::vector<offset_range>{{"t", 0, 0, 2}, {"t", 1, 0, 1}}));
  BOOST_TEST((p.step().ranges == std::vector<offset_range>{{"t", 0, 2, 4}, {"t", 1, 1, 1}}));
  auto b3 = p.step();
  BOOST_TEST((b3.ranges == std::vector<offset_range>{{"t", 0, 4, 5}, {"t", 1, 1, 1}}));
  BOOST_TEST((b3.values == std::vector<strings>{{"a4"}, {}}));
}

BOOST_AUTO_TEST_CASE(min_rate_per_partition_is_the_floor_of_a_limited_batch) {
  kafka_cluster k;
  k.create_topic("t", 1);
  k.produce_n("t", 0, 7, "a");
  auto c = manual_conf();
  c.set("sluice.streaming.kafka.maxRatePerPartition", "1");
  c.set("sluice.streaming.kafka.minRatePerPartition", "3");
  pipeline p{kafka::subscribe({"t"}, params_for(k, "g")), c};
  p.ssc.start();
  BOOST_TEST((p.step().ranges == std::vector<offset_range>{{"t", 0, 0, 3}}));
  BOOST_TEST((p.step().ranges == std::vector<offset_range>{{"t", 0, 3, 6}}));
  BOOST_TEST((p.step().ranges == std::vector<offset_range>{{"t", 0, 6, 7}}));
}

BOOST_AUTO_TEST_CASE(backpressure_splits_the_rate_over_the_partitions_by_their_lag) {
  kafka_cluster k;
  k.create_topic("t", 2);
  k.produce_n("t", 0, 30, "a");
  k.produce_n("t", 1, 10, "b");
  auto c = manual_conf();
  c.set("sluice.streaming.backpressure.enabled", "true");
  c.set("sluice.streaming.backpressure.initialRate", "10"); // records/s for the stream
  pipeline p{kafka::subscribe({"t"}, params_for(k, "g")), c};
  p.ssc.start();
  // Spark's maxMessagesPerPartition: 10 x 30/40 = 7.5 -> 7, 10 x 10/40 = 2.5 -> 2
  BOOST_TEST((p.step().ranges == std::vector<offset_range>{{"t", 0, 0, 7}, {"t", 1, 0, 2}}));
}

BOOST_AUTO_TEST_CASE(subscribe_pattern_reads_every_matching_topic_including_new_ones) {
  kafka_cluster k;
  k.create_topic("ev-a", 1);
  k.create_topic("other", 1);
  k.produce("ev-a", 0, "x");
  k.produce("other", 0, "no");
  pipeline p{kafka::subscribe_pattern("ev-.*", params_for(k, "g"))};
  p.ssc.start();
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"ev-a", 0, 0, 1}}));
  k.create_topic("ev-b", 2);
  k.produce("ev-b", 1, "y");
  auto b2 = p.step(); // a topic created later joins from its first record
  BOOST_TEST((b2.ranges
              == std::vector<offset_range>{{"ev-a", 0, 1, 1}, {"ev-b", 0, 0, 0}, {"ev-b", 1, 0, 1}}));
  BOOST_TEST((b2.values == std::vector<strings>{{}, {}, {"y"}}));
}

BOOST_AUTO_TEST_CASE(subscribe_reads_the_partitions_a_topic_gains) {
  // librdkafka 2.0.2's mock cluster cannot add partitions to a topic
  // (CreatePartitions goes unanswered), so the topic grows by moving the
  // cluster: a (t: 1 partition) stops, and a forwarder on its port leads its
  // clients to b (t: 2 partitions), whose partition 0 holds the same
  // records as a's and one more.
  auto a = std::make_unique<kafka_cluster>();
  a->create_topic("t", 1);
  a->produce_n("t", 0, 3, "a");
  auto a_port = std::stoi(a->bootstrap().substr(a->bootstrap().rfind(':') + 1));
  auto params = params_for(*a, "g");
  params["log_level"] = "0";                  // the move is logged as broker errors
  params["reconnect.backoff.max.ms"] = "200"; // back soon after the move
  auto c = manual_conf();
  c.set("sluice.streaming.kafka.maxRetries", "5");
  pipeline p{kafka::subscribe({"t"}, params), c};
  p.ssc.start();
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 0, 0, 3}}));
  kafka_cluster b;
  b.create_topic("t", 2);
  b.produce_n("t", 0, 4, "a");
  b.produce_n("t", 1, 2, "n");
  a.reset();
  fixtures::tcp_forwarder forwarder{a_port, b.bootstrap()};
  auto b2 = p.step(); // the new partition joins from its first record (earliest)
  BOOST_TEST((b2.ranges == std::vector<offset_range>{{"t", 0, 3, 4}, {"t", 1, 0, 2}}));
  BOOST_TEST((b2.values == std::vector<strings>{{"a3"}, {"n0", "n1"}}));
  b.produce("t", 1, "n2");
  auto b3 = p.step();
  BOOST_TEST((b3.ranges == std::vector<offset_range>{{"t", 0, 4, 4}, {"t", 1, 2, 3}}));
  BOOST_TEST((b3.values == std::vector<strings>{{}, {"n2"}}));
}

BOOST_AUTO_TEST_CASE(assign_reads_only_its_partitions_from_the_given_offsets) {
  kafka_cluster k;
  k.create_topic("t", 3);
  k.produce_n("t", 0, 2, "a");
  k.produce_n("t", 1, 4, "b");
  k.produce_n("t", 2, 2, "c");
  pipeline p{kafka::assign({{"t", 1}, {"t", 2}}, params_for(k, "g"), {{{"t", 1}, 2}})};
  p.ssc.start();
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 1, 2, 4}, {"t", 2, 0, 2}}));
  BOOST_TEST((b1.values == std::vector<strings>{{"b2", "b3"}, {"c0", "c1"}}));
}

BOOST_AUTO_TEST_CASE(commit_async_stores_offsets_that_the_next_consumer_of_the_group_starts_at) {
  kafka_cluster k;
  k.create_topic("t", 2);
  k.produce_n("t", 0, 3, "a");
  k.produce_n("t", 1, 2, "b");
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::pair<std::map<kafka::topic_partition, int64_t>, std::string>> commits;
  {
    streaming_context ssc{manual_conf(), seconds(1)};
    auto counter = std::make_shared<fixtures::batch_counter>();
    ssc.add_listener(counter);
    auto s = kafka::create_direct_stream<std::string, std::string>(
      ssc, kafka::prefer_consistent(), kafka::subscribe({"t"}, params_for(k, "g1")));
    s.foreach_rdd([&](const rdd<record>& r) {
      kafka::commit_async(kafka::offset_ranges(r), [&](auto& offsets, auto& err) {
        std::lock_guard<std::mutex> guard{mtx};
        commits.emplace_back(offsets, err);
        cv.notify_all();
      });
    });
    ssc.start();
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(1);
    std::unique_lock<std::mutex> guard{mtx};
    BOOST_REQUIRE(cv.wait_for(guard, std::chrono::seconds(20), [&] { return !commits.empty(); }));
    ssc.stop();
    ssc.await_termination();
  }
  BOOST_TEST(commits.size() == 1u);
  BOOST_TEST(commits[0].second == "");
  BOOST_TEST((commits[0].first == std::map<kafka::topic_partition, int64_t>{{{"t", 0}, 3}, {{"t", 1}, 2}}));
  k.produce_n("t", 0, 1, "later");
  // A second stream of group g1 starts at the committed offsets, although
  // auto.offset.reset says earliest; a stream of group g2 reads from 0.
  pipeline again{kafka::subscribe({"t"}, params_for(k, "g1"))};
  again.ssc.start();
  BOOST_TEST((again.step().ranges == std::vector<offset_range>{{"t", 0, 3, 4}, {"t", 1, 2, 2}}));
  pipeline other{kafka::subscribe({"t"}, params_for(k, "g2"))};
  other.ssc.start();
  BOOST_TEST((other.step().ranges == std::vector<offset_range>{{"t", 0, 0, 4}, {"t", 1, 0, 2}}));
}

BOOST_AUTO_TEST_CASE(kcat_produced_lines_are_counted_by_the_direct_stream) {
  kafka_cluster k;
  k.create_topic("words", 1);
  BOOST_REQUIRE(fixtures::kcat_produce(k, "words", 0, "the cat\nthe dog\nthe end\n") == 0);
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  auto out = std::make_shared<std::vector<fixtures::batch_output<std::pair<std::string, int>>>>();
  auto words = kafka::create_direct_stream<std::string, std::string>(
                 ssc, kafka::prefer_consistent(), kafka::subscribe({"words"}, params_for(k, "wc")))
                 .flat_map([](const record& r) {
                   strings ws;
                   std::string w;
                   std::istringstream in{r.value};
                   while (in >> w)
                     ws.push_back(w);
                   return ws;
                 })
                 .map([](const std::string& w) { return std::pair{w, 1}; })
                 .reduce_by_key(std::plus<int>{});
  fixtures::record_sorted(words, out);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.stop();
  ssc.await_termination();
  using kv = std::pair<std::string, int>;
  BOOST_TEST((out->at(0).records == std::vector<kv>{{"cat", 1}, {"dog", 1}, {"end", 1}, {"the", 3}}));
}

BOOST_AUTO_TEST_CASE(bytes_keys_and_a_user_deserializer) {
  kafka_cluster k;
  k.create_topic("n", 1);
  k.produce("n", 0, "41", "k1");
  k.produce("n", 0, "x", "k2");
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  kafka::deserializer<int> as_int = [](std::optional<std::string_view> b) {
    size_t used = 0;
    int v = std::stoi(std::string{*b}, &used);
    return v + 1;
  };
  auto s = kafka::create_direct_stream<kafka::bytes, int>(
    ssc, kafka::prefer_consistent(), kafka::subscribe({"n"}, params_for(k, "g")),
    kafka::bytes_deserializer(), as_int);
  s.foreach_rdd([](const rdd<kafka::consumer_record<kafka::bytes, int>>&) {});
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  // "x" is no number: the batch fails with the record's place
  try {
    ssc.await_termination_or_timeout(seconds(20));
    BOOST_FAIL("expected the deserializer's failure");
  } catch (const error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("cannot deserialize the value of the record at topic 'n' partition 0 offset 1")
                 != std::string::npos,
               what);
    BOOST_TEST(what.find("stoi") != std::string::npos, what);
    // The same error reaches the listeners, once.
    auto reported = counter->wait_for_failure();
    BOOST_TEST_REQUIRE(reported.size() == 1u);
    BOOST_TEST(reported[0].message == what);
    BOOST_TEST(reported[0].type == "error");
  }
}

BOOST_AUTO_TEST_CASE(errors_name_the_brokers_the_topic_and_the_offsets) {
  kafka_cluster k;
  k.create_topic("t", 1);
  k.produce_n("t", 0, 2, "a");
  // Each error also reaches the listeners (on_streaming_failed), whether
  // start() throws it or the first batch fails with it.
  auto start_error = [](kafka::consumer_strategy cs) -> std::string {
    streaming_context ssc{manual_conf(), seconds(1)};
    auto counter = std::make_shared<fixtures::batch_counter>();
    ssc.add_listener(counter);
    kafka::create_direct_stream<std::string, std::string>(ssc, kafka::prefer_consistent(), cs)
      .foreach_rdd([](const rdd<record>&) {});
    try {
      ssc.start();
      ssc.manual_clock().advance(seconds(1));
      ssc.await_termination_or_timeout(seconds(20));
    } catch (const error& e) {
      auto reported = counter->wait_for_failure();
      BOOST_TEST(reported.size() == 1u);
      BOOST_TEST(reported[0].message == e.what());
      return e.what();
    }
    return "no error";
  };
  auto unknown = start_error(kafka::subscribe({"nope"}, params_for(k, "g")));
  BOOST_TEST(unknown.find("unknown topic 'nope'") != std::string::npos, unknown);
  auto p = params_for(k, "g");
  p["bootstrap.servers"] = "127.0.0.1:1";
  p["default.api.timeout.ms"] = "1000";
  auto unreachable = start_error(kafka::subscribe({"t"}, p));
  BOOST_TEST(unreachable.find("bootstrap.servers=127.0.0.1:1") != std::string::npos, unreachable);
  auto out_of_range =
    start_error(kafka::assign({{"t", 0}}, params_for(k, "g", "none"), {{{"t", 0}, 7}}));
  BOOST_TEST(out_of_range.find("offset out of range: topic 't' partition 0 offset 7") != std::string::npos,
             out_of_range);
  auto no_commit = start_error(kafka::subscribe({"t"}, params_for(k, "fresh", "none")));
  BOOST_TEST(no_commit.find("group 'fresh' has no committed offset for topic 't' partition 0")
               != std::string::npos,
             no_commit);
  streaming_context ssc{manual_conf(), seconds(1)};
  auto no_bootstrap = kafka::subscribe({"t"}, {{"group.id", "g"}});
  BOOST_CHECK_EXCEPTION((kafka::create_direct_stream<std::string, std::string>(
                          ssc, kafka::prefer_consistent(), no_bootstrap)),
                        invalid_argument, [](const invalid_argument& e) {
                          return std::string{e.what()}.find("bootstrap.servers") != std::string::npos;
                        });
}
