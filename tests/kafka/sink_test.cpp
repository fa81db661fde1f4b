// save_to_kafka against a mock cluster in this process, read back by kcat
// (a consumer no one here wrote), read_committed for the transactional sink.
#define BOOST_TEST_MODULE kafka/sink
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"
#include "fixtures/kafka_cluster.hpp"
#include "fixtures/kcat.hpp"
#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

using namespace sluice;
using fixtures::kafka_cluster;
using record = kafka::consumer_record<std::string, std::string>;
using strings = std::vector<std::string>;

namespace {

/// The values of `topic` partition 0 as kcat reads them (to the end).
strings kcat_values(const kafka_cluster& k, const std::string& topic, bool read_committed) {
  auto read = fixtures::kcat_consume(k, topic, read_committed ? "-p 0 " + fixtures::read_committed
                                                              : "-p 0");
  BOOST_REQUIRE(read.status == 0);
  return read.values;
}

kafka::producer_record upper(const std::string& v) {
  std::string u = v;
  for (auto& c : u)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {std::nullopt, u, -1};
}

} // namespace

BOOST_AUTO_TEST_CASE(each_batch_is_written_with_the_idempotent_producer) {
  kafka_cluster k;
  k.create_topic("out", 1);
  streaming_context ssc{fixtures::manual_conf(), seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  auto in = ssc.queue_stream<std::string>({{"a", "b"}, {"c"}});
  in.save_to_kafka("out", {{"bootstrap.servers", k.bootstrap()}, {"log_level", "3"}}, upper);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  BOOST_TEST((kcat_values(k, "out", false) == strings{"A", "B"})); // written when the batch ends
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(2);
  ssc.stop();
  ssc.await_termination();
  BOOST_TEST((kcat_values(k, "out", false) == strings{"A", "B", "C"}));
}

BOOST_AUTO_TEST_CASE(a_transactional_batch_re_run_after_a_crash_is_not_written_twice) {
  kafka_cluster k;
  k.create_topic("in", 1);
  k.create_topic("out", 1);
  k.create_topic("out.sluice-commits", 1);
  fixtures::temp_dir dir{"kafka-sink"};
  auto crash_at = std::make_shared<std::atomic<int64_t>>(2000);
  auto factory = [&] {
    streaming_context ssc{fixtures::manual_conf(), seconds(1)};
    ssc.checkpoint(dir.str());
    auto s = kafka::create_direct_stream<std::string, std::string>(
      ssc, kafka::prefer_consistent(),
      kafka::subscribe({"in"}, {{"bootstrap.servers", k.bootstrap()},
                                {"group.id", "g"},
                                {"auto.offset.reset", "earliest"},
                                {"log_level", "3"}}));
    auto values = s.map([](const record& r) { return r.value; });
    // The free function, as the member above.
    kafka::save_to_kafka(values, "out",
                         {{"bootstrap.servers", k.bootstrap()},
                          {"transactional.id", "sink-1"},
                          {"log_level", "3"}},
                         upper);
    // After the sink's transaction of batch 2000 committed, the program dies.
    values.foreach_rdd([crash_at](const rdd<std::string>&, batch_time t) {
      if (t.ms == crash_at->load())
        throw error("simulated crash after the sink");
    });
    return ssc;
  };
  k.produce_n("in", 0, 2, "a");
  {
    auto ssc = streaming_context::get_or_create(dir.str(), factory);
    auto counter = std::make_shared<fixtures::batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(1);
    k.produce_n("in", 0, 1, "b");
    ssc.manual_clock().advance(seconds(1));
    BOOST_CHECK_THROW(ssc.await_termination_or_timeout(seconds(20)), error);
  }
  BOOST_TEST((kcat_values(k, "out", true) == strings{"A0", "A1", "B0"}));
  crash_at->store(-1);
  auto ssc = streaming_context::get_or_create(dir.str(), factory);
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1)); // batch 2000 again: already committed
  counter->wait_for(1);
  k.produce_n("in", 0, 1, "c");
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(2);
  ssc.stop();
  ssc.await_termination();
  BOOST_TEST((kcat_values(k, "out", true) == strings{"A0", "A1", "B0", "C0"}));
  BOOST_TEST((kcat_values(k, "out.sluice-commits", true) == strings{"1000", "2000", "3000"}));
}
