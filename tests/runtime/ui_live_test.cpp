// sluice's own monitoring beside Spark's: the planned operator graph, state
// keys and checkpoints per stateful operator, and the live view of the
// actors (mailboxes, restarts, WAL bytes), over REST and /metrics.
#define BOOST_TEST_MODULE ui_live
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <thread>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

#include "fixtures/counting_receiver.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/shell.hpp"
#include "fixtures/stream_io.hpp"
#include "fixtures/ui_client.hpp"
#include "fixtures/word_script.hpp"
#include "sluice/codec.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::http_get;
using json = nlohmann::json;
using kv = std::pair<std::string, int64_t>;

namespace {

conf live_conf() {
  auto c = fixtures::manual_conf();
  c.app_name("ui-live").set("sluice.ui.port", "0").set("sluice.ui.sampleInterval", "20ms");
  return c;
}

std::string prefix(const std::string& url) {
  auto apps = http_get(url, "/api/v1/applications").json();
  return "/api/v1/applications/" + apps.at(0).at("id").get<std::string>() + "/streaming";
}

} // namespace


/// A word count with state (update_state_by_key, state checkpoints every 2 s)
/// over 4 batches of 1 s: keys a, b, c after batch 1, d from batch 2 on.
struct stateful_job {
  fixtures::temp_dir cp{"ui-live"};
  streaming_context ssc{live_conf(), seconds(1)};
  std::shared_ptr<batch_counter> counter = std::make_shared<batch_counter>();
  std::string url, p;

  explicit stateful_job(std::function<std::string(std::string)> on_word = {}) {
    ssc.checkpoint(cp.str());
    ssc.add_listener(counter);
    ssc.queue_stream<std::string>({{"a b", "c"}, {"a d"}, {}, {"b"}})
      .flat_map(fixtures::split_words)
      .map([on_word](std::string w) { return kv{on_word ? on_word(std::move(w)) : w, 1}; })
      .update_state_by_key([](const std::vector<int64_t>& ns, std::optional<int64_t> total) {
        int64_t sum = total.value_or(0);
        for (auto n : ns)
          sum += n;
        return std::optional<int64_t>{sum};
      })
      .checkpoint(seconds(2))
      .foreach_rdd([](const rdd<kv>&) {});
    ssc.start();
    url = ssc.ui_url();
    p = prefix(url);
  }
  void run(int from, int to) {
    for (int i = from; i <= to; ++i) {
      ssc.manual_clock().advance(seconds(1));
      counter->wait_for(i);
    }
  }
};

// The planner fuses the source, flat_map and map into stage 0 (2 slots,
// shuffling into stage 1), update_state_by_key heads stage 1 and
// foreach_rdd is a gather. State checkpoints: at the first batch and every
// 2 s (1, 2 and 4 s) for each of 2 partitions; metadata checkpoints: two at
// start, then one at each batch's generation and one at its completion.
BOOST_AUTO_TEST_CASE(operators_show_the_fused_stages_state_keys_and_checkpoints) {
  stateful_job job;
  job.run(1, 4);
  auto ops = fixtures::wait_for_json(job.url, job.p + "/operators", [](const json& j) {
    return j.at("stateful").at(0).value("stateKeys", -1) == 4
           && j.at("stateful").at(0).at("checkpoints") == 6
           && j.at("metadataCheckpoints").at("checkpoints") == 10;
  });
  json drivers = json::array({"driver", "driver"});
  json stages = json::array(
    {{{"id", 0},
      {"slots", 2},
      {"input", "scatter"},
      {"nodes", json::array({{{"id", 0}, {"name", "queue_stream"}},
                             {{"id", 1}, {"name", "flat_map"}},
                             {{"id", 2}, {"name", "map"}}})},
      {"consumers", json::array({{{"kind", "shuffle"}, {"target", 1}}})},
      {"hosts", drivers}},
     {{"id", 1},
      {"slots", 2},
      {"input", "shuffle"},
      {"nodes", json::array({{{"id", 3}, {"name", "update_state_by_key"}}})},
      {"consumers", json::array({{{"kind", "gather"}, {"target", 0}}})},
      {"hosts", drivers}}});
  BOOST_TEST(ops.at("stages") == stages, ops.at("stages").dump());
  json gathers = json::array(
    {{{"id", 0},
      {"node", {{"id", 4}, {"name", "foreach_rdd"}}},
      {"stage", -1},
      {"gathers", json::array()},
      {"host", "driver"}}});
  BOOST_TEST(ops.at("gathers") == gathers, ops.at("gathers").dump());
  auto st = ops.at("stateful");
  BOOST_REQUIRE_EQUAL(st.size(), 1u);
  BOOST_TEST(st[0].at("operatorId") == 3);
  BOOST_TEST(st[0].at("name") == "update_state_by_key");
  BOOST_TEST(st[0].at("lastCheckpointBatchTime") == "1970-01-01T00:00:04.000GMT");
  BOOST_TEST(st[0].at("checkpointBytes").get<int64_t>() > 0);
  BOOST_TEST(st[0].at("lastCheckpointDurationMs").get<double>() > 0);
  BOOST_TEST(ops.at("metadataCheckpoints").at("lastCheckpointBatchTime")
             == "1970-01-01T00:00:04.000GMT");

  // The same numbers in /metrics, which promtool accepts.
  auto metrics = http_get(job.url, "/metrics").body;
  std::string op = R"(operator_id="3",operator="update_state_by_key")";
  BOOST_TEST(fixtures::prometheus_sample(metrics, "sluice_streaming_state_keys{" + op + "}") == "4");
  BOOST_TEST(fixtures::prometheus_sample(metrics, R"(sluice_streaming_checkpoint_duration_seconds_count{kind="state",)"
                               + op + "}")
             == "6");
  BOOST_TEST(fixtures::prometheus_sample(metrics, R"(sluice_streaming_checkpoint_duration_seconds_count{kind="metadata",operator_id="",operator=""})")
             == "10");
  BOOST_TEST(fixtures::prometheus_sample(metrics, R"(sluice_streaming_checkpoint_bytes_total{kind="state",)" + op + "}")
             == std::to_string(st[0].at("checkpointBytes").get<int64_t>()));
  BOOST_TEST(fixtures::prometheus_sample(metrics, R"(sluice_actor_mailbox_messages{actor="stage 1 slot 0",kind="sluice.operator"})")
             == "0");
  fixtures::temp_dir dir{"ui-live-promtool"};
  std::string file = dir.str() + "/metrics.txt";
  { std::ofstream{file} << metrics; }
  auto [status, out] =
    fixtures::shell("promtool check metrics < " + file, fixtures::with_stderr::yes);
  BOOST_TEST(status == 0, out);
  BOOST_TEST(out == "", out);
  job.ssc.stop();
}

// Every actor of the context, parented as it is spawned or supervised; the
// state keys of the update_state_by_key slots add up to the 4 words; all
// idle once the batches are done.
BOOST_AUTO_TEST_CASE(actors_list_every_actor_with_its_mailbox_and_state) {
  stateful_job job;
  job.run(1, 4);
  auto keys = [](const json& j) {
    int64_t n = 0;
    for (auto& a : j.at("actors"))
      n += a.value("operatorId", -1) == 3 ? a.at("stateKeys").get<int64_t>() : 0;
    return n;
  };
  // Idle once the last batch's completion checkpoint is stored, which may be
  // after the batch completed.
  auto idle = [](const json& j) {
    for (auto& a : j.at("actors"))
      if (a.at("mailbox") != 0)
        return false;
    return true;
  };
  auto j = fixtures::wait_for_json(job.url, job.p + "/actors",
                                   [&](const json& j) { return keys(j) == 4 && idle(j); });
  std::map<std::string, std::string> parents;
  for (auto& a : j.at("actors")) {
    parents[a.at("id")] = a.at("parent");
    BOOST_TEST(a.at("mailbox") == 0, a.dump());
    BOOST_TEST(a.at("answered") == true, a.dump());
    BOOST_TEST(a.at("host") == "driver", a.dump());
  }
  std::map<std::string, std::string> want{
    {"job_generator", "context"},   {"job_scheduler", "context"},  {"listener_bus", "context"},
    {"executor", "context"},        {"checkpoint_writer", "context"},
    {"stage 0 slot 0", "executor"}, {"stage 0 slot 1", "executor"},
    {"stage 1 slot 0", "executor"}, {"stage 1 slot 1", "executor"}, {"gather 0", "executor"},
    {"output runner 0", "job_scheduler"}};
  BOOST_TEST((parents == want), j.dump());
  BOOST_TEST(j.contains("sampledAt"));
  job.ssc.stop();
}

// An operator busy with a long batch cannot answer: it keeps its last
// report, marked, until it answers again.
BOOST_AUTO_TEST_CASE(a_busy_operator_keeps_its_last_report_marked_unanswered) {
  std::mutex mtx;
  std::condition_variable cv;
  bool release = false;
  stateful_job job{[&](std::string w) {
    if (w == "d") {  // batch 2
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait(guard, [&] { return release; });
    }
    return w;
  }};
  job.run(1, 1);
  auto busy = [](const json& j) {
    for (auto& a : j.at("actors"))
      if (a.at("answered") == false)
        return a.at("id").get<std::string>();
    return std::string{};
  };
  // After batch 1 every actor answers, the 3 keys of batch 1 in state.
  fixtures::wait_for_json(job.url, job.p + "/actors", [&](const json& j) {
    int64_t keys = 0;
    for (auto& a : j.at("actors"))
      keys += a.at("stateKeys").get<int64_t>();
    return busy(j).empty() && keys == 3;
  });
  job.ssc.manual_clock().advance(seconds(1));
  auto j = fixtures::wait_for_json(job.url, job.p + "/actors", [&](const json& j) { return !busy(j).empty(); });
  auto id = busy(j);
  BOOST_TEST((id == "stage 0 slot 0" || id == "stage 0 slot 1"), j.dump());
  {
    std::lock_guard<std::mutex> guard{mtx};
    release = true;
  }
  cv.notify_all();
  job.counter->wait_for(2);
  fixtures::wait_for_json(job.url, job.p + "/actors", [&](const json& j) { return busy(j).empty(); });
  job.ssc.stop();
}

// A receiver with the WAL on: its supervisor heads the block generator,
// block manager and tracker; the WAL bytes are the records' codec bytes.
// One restart of the receiver shows on its supervisor.
BOOST_AUTO_TEST_CASE(receivers_show_their_actors_restarts_and_wal_bytes) {
  fixtures::temp_dir cp{"ui-live-wal"};
  auto c = live_conf();
  c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  streaming_context ssc{c, seconds(1)};
  ssc.checkpoint(cp.str());
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  fixtures::sink<int> out;
  out.attach(ssc.receiver_stream(fixtures::counting_receiver{250, /*restart_first=*/true}));
  ssc.start();
  int batches = 0;
  fixtures::advance_until(ssc, *counter, out, 250, batches);
  BOOST_REQUIRE_EQUAL(out.records().size(), 250u);
  int64_t bytes = 0;
  for (int i = 0; i < 250; ++i) {
    std::string b;
    codec<int>::encode(i, b);
    bytes += static_cast<int64_t>(b.size());
  }
  auto url = ssc.ui_url();
  auto p = prefix(url);
  auto j = fixtures::wait_for_json(url, p + "/actors", [&](const json& j) {
    for (auto& a : j.at("actors"))
      if (a.at("id") == "receiver 0 block_manager")
        return a.value("walBytes", int64_t{-1}) == bytes;
    return false;
  });
  std::map<std::string, std::string> parents;
  for (auto& a : j.at("actors"))
    if (a.at("id").get<std::string>().rfind("receiver", 0) == 0) {
      parents[a.at("id")] = a.at("parent");
      if (a.at("id") == "receiver 0") {
        BOOST_TEST(a.at("restarts") == 1, a.dump());
        BOOST_TEST(a.at("streamId") == 0, a.dump());
      }
    }
  std::map<std::string, std::string> want{{"receiver 0", "context"},
                                          {"receiver 0 block_generator", "receiver 0"},
                                          {"receiver 0 block_manager", "receiver 0"},
                                          {"receiver 0 tracker", "receiver 0"}};
  BOOST_TEST((parents == want), j.dump());
  BOOST_TEST(http_get(url, p + "/receivers/0").json().at("walBytes") == bytes);
  // The input rate of the newest batch: its records per batch second.
  auto newest = http_get(url, p + "/batches").json().at(0);
  auto metrics = http_get(url, "/metrics").body;
  BOOST_TEST(fixtures::prometheus_sample(
               metrics, R"(sluice_streaming_receiver_input_rate{stream_id="0",stream_name="receiver_stream 0"})")
             == std::to_string(newest.at("inputSize").get<int64_t>()));
  BOOST_TEST(fixtures::prometheus_sample(metrics,
                    R"(sluice_streaming_receiver_wal_bytes_total{stream_id="0",stream_name="receiver_stream 0"})")
             == std::to_string(bytes));
  ssc.stop();
}

// A bad interval is refused at start, naming the value.
BOOST_AUTO_TEST_CASE(a_non_positive_sample_interval_is_refused) {
  auto c = live_conf();
  c.set("sluice.ui.sampleInterval", "0ms");
  streaming_context ssc{c, seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  BOOST_CHECK_EXCEPTION(ssc.start(), sluice::invalid_argument, [](const auto& e) {
    return std::string{e.what()}
           == "sluice.ui.sampleInterval must be a positive duration, got 0 ms";
  });
}
