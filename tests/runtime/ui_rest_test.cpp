// The REST API under /api/v1 against a running context under the manual
// clock: Spark's paths and field names, exact values, JSON errors.
#define BOOST_TEST_MODULE ui_rest
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <map>
#include <pwd.h>
#include <thread>
#include <unistd.h>

#include "fixtures/counting_receiver.hpp"
#include "fixtures/gate.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/stream_io.hpp"
#include "fixtures/ui_client.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::counting_receiver;
using fixtures::gate;
using fixtures::http_get;
using json = nlohmann::json;

namespace {

/// Spark's JSON dates: "1970-01-01T00:00:01.000GMT".
std::string date(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dGMT", buf, static_cast<int>(ms % 1000));
  return out;
}

/// Remembers when streaming started and every event, as the UI saw them
/// (registered after the UI's own listener, so it sees them later).
class recorder : public batch_counter {
 public:
  void on_streaming_started(int64_t t) override {
    std::lock_guard<std::mutex> guard{mtx_};
    started_us_ = t;
  }
  void on_batch_submitted(const batch_info& b) override { note(submitted_, b.time.ms); }
  void on_output_operation_started(const output_operation_info& op) override {
    note(ops_started_, op.batch.ms);
  }
  void on_output_operation_completed(const output_operation_info& op) override {
    std::lock_guard<std::mutex> guard{mtx_};
    ops_.push_back(op);
  }
  int64_t started_us() {
    std::lock_guard<std::mutex> guard{mtx_};
    return started_us_;
  }
  std::vector<output_operation_info> ops() {
    std::lock_guard<std::mutex> guard{mtx_};
    return ops_;
  }
  void wait_submitted(int64_t t) { wait(submitted_, t); }
  void wait_op_started(int64_t t) { wait(ops_started_, t); }

 private:
  void note(std::vector<int64_t>& v, int64_t t) {
    std::lock_guard<std::mutex> guard{mtx_};
    v.push_back(t);
    cv_.notify_all();
  }
  void wait(std::vector<int64_t>& v, int64_t t) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!cv_.wait_for(guard, std::chrono::seconds(20),
                      [&] { return std::find(v.begin(), v.end(), t) != v.end(); }))
      throw std::runtime_error("timed out waiting for an event of batch " + std::to_string(t));
  }
  std::mutex mtx_;
  std::condition_variable cv_;
  int64_t started_us_ = 0;
  std::vector<int64_t> submitted_, ops_started_;
  std::vector<output_operation_info> ops_;
};

conf ui_conf() {
  auto c = fixtures::manual_conf();
  c.app_name("ui-rest").set("sluice.ui.port", "0");
  return c;
}

std::string user() { return ::getpwuid(::geteuid())->pw_name; }

/// The app's streaming API prefix, read from /api/v1/applications.
std::string prefix(const std::string& url) {
  auto apps = http_get(url, "/api/v1/applications").json();
  return "/api/v1/applications/" + apps.at(0).at("id").get<std::string>() + "/streaming";
}

int64_t avg_ms(const std::vector<batch_info>& infos, int64_t (batch_info::*f)() const) {
  int64_t sum = 0;
  for (auto& b : infos)
    sum += (b.*f)() / 1000;
  return sum / static_cast<int64_t>(infos.size());
}

} // namespace

BOOST_AUTO_TEST_CASE(every_endpoint_reports_the_completed_batches_with_sparks_fields) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto rec = std::make_shared<recorder>();
  ssc.add_listener(rec);
  auto in = ssc.queue_stream<int>({{1, 2, 3}, {4, 5}, {}});
  in.foreach_rdd([](const rdd<int>&) {});
  in.map([](int x) { return x * 2; }).foreach_rdd([](const rdd<int>&) {});
  BOOST_TEST(ssc.ui_url() == "");
  ssc.start();
  auto url = ssc.ui_url();
  BOOST_TEST_REQUIRE(url.rfind("http://127.0.0.1:", 0) == 0u, url);
  for (int i = 1; i <= 3; ++i) {
    ssc.manual_clock().advance(seconds(1));
    rec->wait_for(i);
  }

  // -- applications
  auto apps = http_get(url, "/api/v1/applications");
  BOOST_TEST(apps.status == 200);
  BOOST_TEST(apps.content_type == "application/json");
  auto app = apps.json().at(0);
  auto id = app.at("id").get<std::string>();
  BOOST_TEST(id.rfind("local-", 0) == 0u);
  int64_t start_ms = std::stoll(id.substr(6));
  BOOST_TEST(app == (json{{"id", id},
                          {"name", "ui-rest"},
                          {"attempts", json::array({json{{"startTime", date(start_ms)},
                                                         {"endTime", "1969-12-31T23:59:59.999GMT"},
                                                         {"lastUpdated", date(start_ms)},
                                                         {"duration", 0},
                                                         {"sparkUser", user()},
                                                         {"completed", false},
                                                         {"appSparkVersion", "0.1.0"},
                                                         {"startTimeEpoch", start_ms},
                                                         {"endTimeEpoch", -1},
                                                         {"lastUpdatedEpoch", start_ms}}})}}),
             app.dump());
  BOOST_TEST(http_get(url, "/api/v1/applications/" + id).json() == app);
  auto p = prefix(url);

  // -- statistics: averages over the three batches, as the listener saw them
  auto infos = rec->infos();
  BOOST_TEST_REQUIRE(infos.size() == 3u);
  auto stats = http_get(url, p + "/statistics");
  BOOST_TEST(stats.status == 200);
  json expected_stats{
    {"startTime", date(rec->started_us() / 1000)},
    {"batchDuration", 1000},
    {"numReceivers", 0},
    {"numActiveReceivers", 0},
    {"numInactiveReceivers", 0},
    {"numTotalCompletedBatches", 3},
    {"numRetainedCompletedBatches", 3},
    {"numActiveBatches", 0},
    {"numProcessedRecords", 5},
    {"numReceivedRecords", 5},
    {"avgInputRate", 0.0},
    {"avgSchedulingDelay", avg_ms(infos, &batch_info::scheduling_delay_us)},
    {"avgProcessingTime", avg_ms(infos, &batch_info::processing_delay_us)},
    {"avgTotalDelay", avg_ms(infos, &batch_info::total_delay_us)}};
  expected_stats["avgInputRate"] = (3.0 * 1000.0 / 1000 + 2.0 * 1000.0 / 1000 + 0.0) / 3;
  BOOST_TEST(stats.json() == expected_stats, stats.body);

  // -- batches, newest first
  auto batch = [&](const batch_info& b) {
    return json{{"batchId", b.time.ms},
                {"batchTime", date(b.time.ms)},
                {"status", "COMPLETED"},
                {"batchDuration", 1000},
                {"inputSize", b.num_records},
                {"schedulingDelay", b.scheduling_delay_us() / 1000},
                {"processingTime", b.processing_delay_us() / 1000},
                {"totalDelay", b.total_delay_us() / 1000},
                {"numActiveOutputOps", 0},
                {"numCompletedOutputOps", 2},
                {"numFailedOutputOps", 0},
                {"numTotalOutputOps", 2}};
  };
  BOOST_TEST(infos[0].time.ms == 1000);
  BOOST_TEST(infos[0].num_records == 3);
  BOOST_TEST(infos[1].num_records == 2);
  json all = json::array({batch(infos[2]), batch(infos[1]), batch(infos[0])});
  auto batches = http_get(url, p + "/batches");
  BOOST_TEST(batches.status == 200);
  BOOST_TEST(batches.json() == all, batches.body);
  BOOST_TEST(http_get(url, p + "/batches?status=COMPLETED").json() == all);
  BOOST_TEST(http_get(url, p + "/batches?status=queued&status=completed").json() == all);
  BOOST_TEST(http_get(url, p + "/batches?status=processing").json() == json::array());
  BOOST_TEST(http_get(url, p + "/batches/2000").json() == batch(infos[1]));

  // -- output operations of a batch
  auto ops = rec->ops();
  auto op = [&](int64_t t, int id) {
    for (auto& o : ops)
      if (o.batch.ms == t && o.id == id)
        return json{{"outputOpId", id},
                    {"name", "foreach_rdd"},
                    {"description", "foreach_rdd"},
                    {"startTime", date(o.start_us / 1000)},
                    {"endTime", date(o.end_us / 1000)},
                    {"duration", (o.end_us - o.start_us) / 1000},
                    {"jobIds", json::array()}};
    throw std::runtime_error("no output operation " + std::to_string(id));
  };
  BOOST_TEST(http_get(url, p + "/batches/2000/operations").json()
             == json::array({op(2000, 0), op(2000, 1)}));
  BOOST_TEST(http_get(url, p + "/batches/3000/operations/1").json() == op(3000, 1));

  // -- receivers: none in this graph
  BOOST_TEST(http_get(url, p + "/receivers").json() == json::array());
  ssc.stop();
  BOOST_TEST(ssc.ui_url() == "");
}

BOOST_AUTO_TEST_CASE(unknown_ids_give_404_and_a_bad_status_400_in_json) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto rec = std::make_shared<recorder>();
  ssc.add_listener(rec);
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  rec->wait_for(1);
  auto url = ssc.ui_url();
  auto p = prefix(url);
  auto error = [&](const std::string& path, int status, const std::string& message) {
    auto r = http_get(url, path);
    BOOST_TEST(r.status == status, path);
    BOOST_TEST(r.content_type == "application/json", path);
    BOOST_TEST(r.json() == (json{{"status", status}, {"message", message}}), path << ": " << r.body);
  };
  error(p + "/batches/5000", 404, "unknown batch: 5000");
  error(p + "/batches/abc", 404, "unknown batch: abc");
  error(p + "/batches/99999999999999999999999", 404, "unknown batch: 99999999999999999999999");
  error(p + "/batches/1000/operations/7", 404, "unknown output operation: 7");
  error(p + "/batches/1000/operations/-1", 404, "unknown output operation: -1");
  error(p + "/batches/5000/operations", 404, "unknown batch: 5000");
  error(p + "/receivers/0", 404, "unknown receiver: 0");
  error(p + "/batches?status=DONE", 400,
        "invalid value 'DONE' for the query parameter status: expected COMPLETED, PROCESSING "
        "or QUEUED");
  error("/api/v1/applications/local-1/streaming/statistics", 404, "unknown app: local-1");
  error(p + "/nothing", 404, "unknown path: " + p + "/nothing");
  error("/api/v2/applications", 404, "unknown path: /api/v2/applications");
  error("/api", 404, "unknown path: /api");
  error("/no/such/page", 404, "Not Found");
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(only_the_retained_number_of_completed_batches_is_kept) {
  auto c = ui_conf();
  c.set("sluice.streaming.ui.retainedBatches", "2");
  streaming_context ssc{c, seconds(1)};
  auto rec = std::make_shared<recorder>();
  ssc.add_listener(rec);
  ssc.queue_stream<int>({{1}, {2, 3}, {4, 5, 6}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  for (int i = 1; i <= 3; ++i) {
    ssc.manual_clock().advance(seconds(1));
    rec->wait_for(i);
  }
  auto url = ssc.ui_url();
  auto p = prefix(url);
  auto stats = http_get(url, p + "/statistics").json();
  BOOST_TEST(stats.at("numTotalCompletedBatches") == 3);
  BOOST_TEST(stats.at("numRetainedCompletedBatches") == 2);
  BOOST_TEST(stats.at("numProcessedRecords") == 6);
  BOOST_TEST(stats.at("avgInputRate") == 2.5);  // (2 + 3) / 2, per second
  std::vector<int64_t> ids;
  for (auto& b : http_get(url, p + "/batches").json())
    ids.push_back(b.at("batchId"));
  BOOST_TEST(ids == (std::vector<int64_t>{3000, 2000}), boost::test_tools::per_element());
  BOOST_TEST(http_get(url, p + "/batches/1000").status == 404);
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(a_running_and_a_waiting_batch_show_as_processing_and_queued) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto rec = std::make_shared<recorder>();
  ssc.add_listener(rec);
  auto held = std::make_shared<gate>();
  // Batch 1000's map holds its operator: the batch is processing, and with
  // one concurrent job batch 2000 waits in the queue.
  ssc.queue_stream<int>({{1, 2}, {3}})
    .map([held](int x) {
      if (x == 1)
        held->pass();
      return x;
    })
    .foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto url = ssc.ui_url();
  auto p = prefix(url);
  ssc.manual_clock().advance(seconds(1));
  ssc.manual_clock().advance(seconds(1));
  rec->wait_submitted(2000);
  auto batches = http_get(url, p + "/batches").json();
  BOOST_TEST_REQUIRE(batches.size() == 2u, batches.dump());
  BOOST_TEST(batches[0] == (json{{"batchId", 2000},
                                 {"batchTime", date(2000)},
                                 {"status", "QUEUED"},
                                 {"batchDuration", 1000},
                                 {"inputSize", 0},
                                 {"numActiveOutputOps", 0},
                                 {"numCompletedOutputOps", 0},
                                 {"numFailedOutputOps", 0},
                                 {"numTotalOutputOps", 0}}),
             batches[0].dump());
  BOOST_TEST(batches[1].at("batchId") == 1000);
  BOOST_TEST(batches[1].at("status") == "PROCESSING");
  BOOST_TEST(batches[1].contains("schedulingDelay"));
  BOOST_TEST(!batches[1].contains("processingTime"));
  BOOST_TEST(!batches[1].contains("totalDelay"));
  BOOST_TEST(http_get(url, p + "/batches?status=processing").json() == json::array({batches[1]}));
  BOOST_TEST(http_get(url, p + "/batches?status=queued").json() == json::array({batches[0]}));
  auto stats = http_get(url, p + "/statistics").json();
  BOOST_TEST(stats.at("numActiveBatches") == 2);
  BOOST_TEST(stats.at("numTotalCompletedBatches") == 0);
  BOOST_TEST(stats.at("avgSchedulingDelay") == batches[1].at("schedulingDelay"));
  BOOST_TEST(!stats.contains("avgInputRate"));
  BOOST_TEST(!stats.contains("avgProcessingTime"));
  held->open();
  rec->wait_for(2);
  auto done = http_get(url, p + "/batches").json();
  BOOST_TEST(done[0].at("status") == "COMPLETED");
  BOOST_TEST(done[1].at("status") == "COMPLETED");
  BOOST_TEST(done[1].at("inputSize") == 2);
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(a_running_output_operation_has_a_start_and_no_end) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto rec = std::make_shared<recorder>();
  ssc.add_listener(rec);
  auto held = std::make_shared<gate>();
  ssc.queue_stream<int>({{1}}).foreach_rdd([held](const rdd<int>&) { held->pass(); });
  ssc.start();
  auto url = ssc.ui_url();
  auto p = prefix(url);
  ssc.manual_clock().advance(seconds(1));
  rec->wait_op_started(1000);
  auto batch = http_get(url, p + "/batches/1000").json();
  BOOST_TEST(batch.at("status") == "PROCESSING");
  BOOST_TEST(batch.at("numActiveOutputOps") == 1);
  BOOST_TEST(batch.at("numTotalOutputOps") == 1);
  auto op = http_get(url, p + "/batches/1000/operations/0").json();
  BOOST_TEST(op.at("name") == "foreach_rdd");
  BOOST_TEST(op.contains("startTime"));
  BOOST_TEST(!op.contains("endTime"));
  BOOST_TEST(!op.contains("duration"));
  held->open();
  rec->wait_for(1);
  BOOST_TEST(http_get(url, p + "/batches/1000/operations/0").json().contains("endTime"));
  ssc.stop();
}

namespace {

/// Starts, reports one error, and keeps running until stopped.
class complaining_receiver : public receiver<int> {
 public:
  void on_start() override { report_error("disk almost full"); }
  void on_stop() override {}
};

} // namespace

BOOST_AUTO_TEST_CASE(receivers_show_their_state_and_last_error) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto events = std::make_shared<fixtures::receiver_events>();
  ssc.add_listener(events);
  ssc.receiver_stream(complaining_receiver{}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_REQUIRE(events->wait_errors(1));
  auto err = events->errors().at(0);
  auto url = ssc.ui_url();
  auto p = prefix(url);
  json expected{{"streamId", 0},
                {"streamName", "receiver_stream 0"},
                {"isActive", true},
                {"executorId", "driver"},
                {"executorHost", "localhost"},
                {"lastErrorTime", date(err.last_error_us / 1000)},
                {"lastErrorMessage", "disk almost full"},
                {"lastError", "disk almost full"},
                {"eventRates", json::array()},
                {"numRecords", 0},
                {"restarts", 0},
                {"numErrors", 1},
                {"walBytes", 0}};
  auto all = http_get(url, p + "/receivers");
  BOOST_TEST(all.json() == json::array({expected}), all.body);
  BOOST_TEST(http_get(url, p + "/receivers/0").json() == expected);
  auto stats = http_get(url, p + "/statistics").json();
  BOOST_TEST(stats.at("numReceivers") == 1);
  BOOST_TEST(stats.at("numActiveReceivers") == 1);
  BOOST_TEST(stats.at("numInactiveReceivers") == 0);
  ssc.stop();
}

// Spark's eventRates: per retained completed batch, the stream's records
// per second; avgEventRate their mean. With one stream, each batch's rate is
// its inputSize per batch second, and the rates add up to every record.
BOOST_AUTO_TEST_CASE(receivers_report_their_records_per_batch_as_event_rates) {
  // Batches run as fast as the clock moves until the receiver's thread has
  // delivered all 250 records: on a loaded machine that took over 1000
  // batches, and the UI keeps only retainedBatches of them (default 1000).
  // The check below needs them all, so keep every batch the loop can run.
  auto c = ui_conf();
  c.set("sluice.streaming.ui.retainedBatches", "1000000");
  streaming_context ssc{c, seconds(2)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  fixtures::sink<int> out;
  out.attach(ssc.receiver_stream(counting_receiver{250}));
  ssc.start();
  int batches = 0;
  fixtures::advance_until(ssc, *counter, out, 250, batches);
  BOOST_REQUIRE_EQUAL(out.records().size(), 250u);
  auto url = ssc.ui_url();
  auto p = prefix(url);
  auto r = http_get(url, p + "/receivers/0").json();
  auto all = http_get(url, p + "/batches").json();
  BOOST_REQUIRE_EQUAL(all.size(), static_cast<size_t>(batches));
  std::map<int64_t, double> want;  // batch time -> records per second
  double sum = 0;
  for (auto& b : all) {
    double rate = b.at("inputSize").get<double>() / 2.0;
    want[b.at("batchId").get<int64_t>()] = rate;
    sum += rate;
  }
  std::map<int64_t, double> got;
  for (auto& e : r.at("eventRates"))
    got[e.at(0).get<int64_t>()] = e.at(1).get<double>();
  BOOST_TEST((got == want), r.dump());
  BOOST_TEST(sum * 2.0 == 250.0);
  BOOST_TEST(r.at("avgEventRate").get<double>() == sum / static_cast<double>(batches),
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r.at("numRecords") == 250);
  ssc.stop();
}

// The driver, then each worker of cluster mode; in local mode the driver only.
BOOST_AUTO_TEST_CASE(executors_list_the_driver_in_local_mode) {
  streaming_context ssc{ui_conf(), seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto url = ssc.ui_url();
  auto apps = http_get(url, "/api/v1/applications").json();
  auto app = apps.at(0);
  auto r = http_get(url, "/api/v1/applications/" + app.at("id").get<std::string>() + "/executors");
  BOOST_TEST(r.status == 200);
  json driver{{"id", "driver"},
              {"hostPort", "localhost"},
              {"isActive", true},
              {"addTime", app.at("attempts").at(0).at("startTime")}};
  BOOST_TEST(r.json() == json::array({driver}), r.body);
  ssc.stop();
}
