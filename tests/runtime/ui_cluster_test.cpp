// The web UI of a cluster driver (local-cluster[2,1], real worker
// processes): which worker hosts each operator slot, and the live reports of
// the slots on the workers, which answer the driver over the middleman.
// One context only: a local-cluster worker re-runs this program up to the
// context it serves, and start() never returns in a worker.
#define BOOST_TEST_MODULE ui_cluster
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <map>

#include "fixtures/counting_receiver.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/stream_io.hpp"
#include "fixtures/ui_client.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::http_get;
using json = nlohmann::json;
using kv = std::pair<std::string, int>;

BOOST_AUTO_TEST_CASE(the_driver_shows_the_workers_hosting_each_slot_and_their_reports) {
  fixtures::temp_dir cp{"ui-cluster"};
  auto c = fixtures::manual_conf("local-cluster[2,1]");
  c.app_name("ui-cluster").set("sluice.ui.port", "0").set("sluice.ui.sampleInterval", "20ms");
  c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  streaming_context ssc{c, seconds(1)};
  ssc.checkpoint(cp.str());
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.queue_stream<std::string>({{"a", "b", "a"}, {"c", "d"}})
    .map([](std::string w) { return kv{std::move(w), 1}; })
    .update_state_by_key([](const std::vector<int>& ns, std::optional<int> s) {
      return std::optional<int>{s.value_or(0) + static_cast<int>(ns.size())};
    })
    .foreach_rdd([](const rdd<kv>&) {});
  fixtures::sink<int> out;
  out.attach(ssc.receiver_stream(fixtures::counting_receiver{100}));
  ssc.start();  // a worker never returns from here
  for (int i = 1; i <= 2; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  auto url = ssc.ui_url();
  auto apps = http_get(url, "/api/v1/applications").json();
  auto app = "/api/v1/applications/" + apps.at(0).at("id").get<std::string>();
  // The workers, in the order they were placed on: slot i on worker i mod 2.
  auto executors = http_get(url, app + "/executors").json();
  BOOST_REQUIRE_EQUAL(executors.size(), 3u);
  BOOST_TEST(executors.at(0).at("id") == "driver");
  std::vector<std::string> workers{executors.at(1).at("id"), executors.at(2).at("id")};
  // State keys a, b, c, d live on the workers; the driver adds them up.
  auto ops = fixtures::wait_for_json(url, app + "/streaming/operators", [](const json& j) {
    return j.at("stateful").at(0).value("stateKeys", -1) == 4;
  });
  for (auto& stage : ops.at("stages")) {
    BOOST_REQUIRE_EQUAL(stage.at("hosts").size(), 2u);
    std::vector<std::string> hosts{stage.at("hosts").at(0), stage.at("hosts").at(1)};
    BOOST_TEST((hosts == workers || hosts == std::vector<std::string>{workers[1], workers[0]}),
               ops.dump());
    BOOST_TEST(hosts[0] != hosts[1]);
  }
  auto actors = http_get(url, app + "/streaming/actors").json();
  std::map<std::string, std::string> hosts;
  for (auto& a : actors.at("actors")) {
    hosts[a.at("id")] = a.at("host");
    BOOST_TEST(a.at("answered") == true, a.dump());
  }
  auto slot_hosts = ops.at("stages").at(0).at("hosts");
  for (int s = 0; s < 2; ++s)
    for (int i = 0; i < 2; ++i)
      BOOST_TEST(hosts.at("stage " + std::to_string(s) + " slot " + std::to_string(i))
                 == slot_hosts.at(i).get<std::string>());
  BOOST_TEST(hosts.at("gather 0") == "driver");
  // The receiver runs on a worker, named as the executors endpoint names it.
  auto receivers = fixtures::wait_for_json(url, app + "/streaming/receivers", [](const json& j) {
    return j.size() == 1 && j.at(0).at("executorId") != "driver";
  });
  auto executor = receivers.at(0).at("executorId").get<std::string>();
  BOOST_TEST((executor == workers[0] || executor == workers[1]), receivers.dump());
  BOOST_TEST(receivers.at(0).at("executorHost") == executor.substr(0, executor.rfind(':')));
  BOOST_TEST(executor.substr(0, executor.rfind(':')) != executor);
  BOOST_TEST(hosts.at("job_scheduler") == "driver");
  // The driver writes the hosted receiver's WAL (each block before the
  // worker's store returns): its WAL bytes are the records' codec bytes, as
  // in one process.
  int batches = 2;
  fixtures::advance_until(ssc, *counter, out, 100, batches);
  BOOST_REQUIRE_EQUAL(out.records().size(), 100u);
  int64_t bytes = 0;
  for (int i = 0; i < 100; ++i) {
    std::string b;
    codec<int>::encode(i, b);
    bytes += static_cast<int64_t>(b.size());
  }
  auto wal = fixtures::wait_for_json(url, app + "/streaming/receivers", [&](const json& j) {
    return j.size() == 1 && j.at(0).value("walBytes", int64_t{-1}) == bytes;
  });
  BOOST_TEST(wal.at(0).at("numRecords") == 100, wal.dump());
  ssc.stop();
}
