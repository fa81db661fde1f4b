// The direct stream while the mock cluster fails: request errors on the
// driver's offset queries (sluice.streaming.kafka.maxRetries), fetch errors
// while reading, a leader change and a broker down and back. Every record is
// read once, in order.
#define BOOST_TEST_MODULE kafka/broker_faults
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"
#include "fixtures/kafka_cluster.hpp"
#include "fixtures/kafka_print.hpp"
#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

using namespace sluice;
using fixtures::kafka_cluster;
using kafka::offset_range;
using record = kafka::consumer_record<std::string, std::string>;
using strings = std::vector<std::string>;

namespace {

constexpr int16_t fetch_api = 1, list_offsets_api = 2; // Kafka protocol ApiKeys

struct seen_batch {
  std::vector<offset_range> ranges;
  strings values;
};

struct pipeline {
  streaming_context ssc;
  std::shared_ptr<fixtures::batch_counter> counter = std::make_shared<fixtures::batch_counter>();
  std::mutex mtx;
  std::vector<seen_batch> out;
  int batches = 0;

  pipeline(const kafka_cluster& k, conf c = fixtures::manual_conf()) : ssc{std::move(c), seconds(1)} {
    kafka::create_direct_stream<std::string, std::string>(
      ssc, kafka::prefer_consistent(),
      kafka::subscribe({"t"}, {{"bootstrap.servers", k.bootstrap()},
                               {"group.id", "g"},
                               {"auto.offset.reset", "earliest"},
                               {"default.api.timeout.ms", "20000"},
                               {"log_level", "0"}}))
      .foreach_rdd([this](const rdd<record>& r) {
        seen_batch b{kafka::offset_ranges(r), {}};
        for (auto& x : r.collect())
          b.values.push_back(x.value);
        std::lock_guard<std::mutex> guard{mtx};
        out.push_back(std::move(b));
      });
    ssc.add_listener(counter);
  }
  seen_batch step() {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(++batches);
    std::lock_guard<std::mutex> guard{mtx};
    return out.back();
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

BOOST_AUTO_TEST_CASE(offset_queries_are_retried_up_to_max_retries) {
  kafka_cluster k;
  k.create_topic("t", 1);
  k.produce_n("t", 0, 3, "a");
  auto c = fixtures::manual_conf();
  c.set("sluice.streaming.kafka.maxRetries", "2");
  pipeline p{k, c};
  p.ssc.start();
  // An offset query is two ListOffsets requests (earliest, latest): four
  // errors fail two attempts, the third answers.
  auto fail_list_offsets = [&](size_t n) {
    std::vector<rd_kafka_resp_err_t> errs(n, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    rd_kafka_mock_push_request_errors_array(k.mock(), list_offsets_api, n, errs.data());
  };
  fail_list_offsets(4);
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 0, 0, 3}}));
  BOOST_TEST((b1.values == strings{"a0", "a1", "a2"}));
  fail_list_offsets(6); // three failed attempts: the batch fails
  p.ssc.manual_clock().advance(seconds(1));
  try {
    p.ssc.await_termination_or_timeout(seconds(30));
    BOOST_FAIL("expected the batch to fail after 3 attempts; batches completed: "
               << p.counter->completed());
  } catch (const error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("cannot read the offsets of topic 't' partition 0") != std::string::npos,
               what);
    auto reported = p.counter->wait_for_failure();
    BOOST_TEST_REQUIRE(reported.size() == 1u);
    BOOST_TEST(reported[0].message == what);
  }
}

BOOST_AUTO_TEST_CASE(fetch_errors_while_reading_lose_and_double_nothing) {
  kafka_cluster k;
  k.create_topic("t", 1);
  k.produce_n("t", 0, 4, "a");
  pipeline p{k};
  p.ssc.start();
  rd_kafka_mock_push_request_errors(k.mock(), fetch_api, 3,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR__TRANSPORT,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 0, 0, 4}}));
  BOOST_TEST((b1.values == strings{"a0", "a1", "a2", "a3"}));
}

BOOST_AUTO_TEST_CASE(a_leader_change_and_a_broker_down_and_back_lose_and_double_nothing) {
  kafka_cluster k{3};
  k.create_topic("t", 1);
  rd_kafka_mock_partition_set_leader(k.mock(), "t", 0, 1);
  k.produce_n("t", 0, 3, "a");
  pipeline p{k};
  p.ssc.start();
  auto b1 = p.step();
  BOOST_TEST((b1.ranges == std::vector<offset_range>{{"t", 0, 0, 3}}));
  // The leader's broker goes down; broker 2 takes the partition over.
  rd_kafka_mock_broker_set_down(k.mock(), 1);
  rd_kafka_mock_partition_set_leader(k.mock(), "t", 0, 2);
  k.produce_n("t", 0, 2, "b");
  auto b2 = p.step();
  BOOST_TEST((b2.ranges == std::vector<offset_range>{{"t", 0, 3, 5}}));
  BOOST_TEST((b2.values == strings{"b0", "b1"}));
  // Broker 1 is back and leads again.
  rd_kafka_mock_broker_set_up(k.mock(), 1);
  rd_kafka_mock_partition_set_leader(k.mock(), "t", 0, 1);
  k.produce_n("t", 0, 1, "c");
  auto b3 = p.step();
  BOOST_TEST((b3.ranges == std::vector<offset_range>{{"t", 0, 5, 6}}));
  BOOST_TEST((b3.values == strings{"c0"}));
}
