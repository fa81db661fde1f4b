// /metrics: exact Prometheus samples under the manual clock, Debian's
// promtool accepts the text, and a real prometheus server scrapes it.
#define BOOST_TEST_MODULE ui_metrics
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/shell.hpp"
#include "fixtures/stream_io.hpp"
#include "fixtures/ui_client.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::http_get;

namespace {

conf ui_conf() {
  auto c = fixtures::manual_conf();
  c.app_name("ui-metrics").set("sluice.ui.port", "0");
  return c;
}

const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
const char* bound_labels[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                              "1",     "2.5",  "5",     "10",   "30",  "60", "120"};

/// Starts, reports one error, and keeps running until stopped.
class complaining_receiver : public receiver<int> {
 public:
  void on_start() override { report_error("disk \"almost\" full"); }
  void on_stop() override {}
};

} // namespace

BOOST_AUTO_TEST_CASE(metrics_count_batches_records_and_delays_exactly) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.queue_stream<int>({{1, 2, 3}, {4, 5}, {}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  for (int i = 1; i <= 3; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  auto r = http_get(ssc.ui_url(), "/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  auto& m = r.body;
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_batches_completed_total") == "3");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_records_processed_total") == "5");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_batch_duration_seconds") == "1");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_batches_active{status=\"queued\"}") == "0");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_batches_active{status=\"processing\"}") == "0");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_last_completed_batch_time_seconds") == "3");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_last_completed_batch_records") == "0");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_output_operations_total{outcome=\"succeeded\"}") == "3");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_output_operations_total{outcome=\"failed\"}") == "0");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_info{app_id=\"") == "<absent>");
  BOOST_TEST(m.find("sluice_streaming_info{app_id=\"local-") != std::string::npos);
  BOOST_TEST(m.find("# TYPE sluice_streaming_total_delay_seconds histogram\n")
             != std::string::npos);
  // The histograms hold exactly the delays the listeners were given.
  auto infos = counter->infos();
  struct delay {
    const char* name;
    int64_t (batch_info::*of)() const;
  };
  for (auto d : {delay{"sluice_streaming_scheduling_delay_seconds", &batch_info::scheduling_delay_us},
                 delay{"sluice_streaming_processing_time_seconds", &batch_info::processing_delay_us},
                 delay{"sluice_streaming_total_delay_seconds", &batch_info::total_delay_us}}) {
    std::string name = d.name;
    for (size_t i = 0; i < std::size(bounds); ++i) {
      int n = 0;
      for (auto& b : infos)
        n += static_cast<double>((b.*d.of)()) / 1e6 <= bounds[i] ? 1 : 0;
      BOOST_TEST(fixtures::prometheus_sample(m, name + "_bucket{le=\"" + bound_labels[i] + "\"}") == std::to_string(n),
                 name << " le " << bounds[i]);
    }
    BOOST_TEST(fixtures::prometheus_sample(m, name + "_bucket{le=\"+Inf\"}") == "3");
    BOOST_TEST(fixtures::prometheus_sample(m, name + "_count") == "3");
    double sum = 0;
    for (auto& b : infos)
      sum += static_cast<double>((b.*d.of)()) / 1e6;
    BOOST_TEST(std::stod(fixtures::prometheus_sample(m, name + "_sum")) == sum, boost::test_tools::tolerance(1e-9));
  }
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(promtool_accepts_the_metrics_with_receivers) {
  fixtures::temp_dir dir{"ui-promtool"};
  streaming_context ssc{ui_conf(), seconds(1)};
  auto events = std::make_shared<fixtures::receiver_events>();
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(events);
  ssc.add_listener(counter);
  ssc.receiver_stream(complaining_receiver{}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_REQUIRE(events->wait_errors(1));
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  auto m = http_get(ssc.ui_url(), "/metrics").body;
  std::string labels = "{stream_id=\"0\",stream_name=\"receiver_stream 0\"}";
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_receiver_active" + labels) == "1");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_receiver_errors_total" + labels) == "1");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_receiver_restarts_total" + labels) == "0");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_streaming_receiver_records_total" + labels) == "0");
  BOOST_TEST(fixtures::prometheus_sample(m, "sluice_cluster_workers{state=\"active\"}") == "<absent>");  // local mode
  auto file = dir.path() / "metrics.txt";
  std::ofstream{file} << m;
  auto [status, out] =
    fixtures::shell("promtool check metrics < " + file.string(), fixtures::with_stderr::yes);
  BOOST_TEST(status == 0, out);
  BOOST_TEST(out == "", out);
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(a_prometheus_server_scrapes_the_metrics_and_answers_promql) {
  fixtures::temp_dir dir{"ui-prometheus"};
  streaming_context ssc{ui_conf(), seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.queue_stream<int>({{1, 2, 3}, {4, 5}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  for (int i = 1; i <= 2; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  auto target = ssc.ui_url().substr(std::string("http://").size());
  std::ofstream{dir.path() / "prometheus.yml"}
    << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sluice\n"
       "    static_configs:\n      - targets: ['" << target << "']\n";
  int port = 0;
  {
    fixtures::tcp_server probe{false};  // a free port, released for prometheus
    port = probe.port();
  }
  auto web = "127.0.0.1:" + std::to_string(port);
  fixtures::child_process prometheus{
    {"/bin/sh", "-c",
     "exec /usr/bin/prometheus --config.file=" + (dir.path() / "prometheus.yml").string()
       + " --storage.tsdb.path=" + (dir.path() / "data").string() + " --web.listen-address="
       + web + " 2>" + (dir.path() / "prometheus.log").string()}};
  prometheus.start();
  std::string answer;
  bool scraped = fixtures::eventually(
    [&] {
      try {
        auto r = http_get("http://" + web,
                          "/api/v1/query?query=sluice_streaming_records_processed_total");
        answer = r.body;
        auto j = r.json();
        return r.status == 200 && !j.at("data").at("result").empty();
      } catch (const std::exception&) {
        return false;
      }
    },
    std::chrono::seconds(60));
  BOOST_TEST_REQUIRE(scraped, answer);
  auto result = nlohmann::json::parse(answer).at("data").at("result").at(0);
  BOOST_TEST(result.at("metric").at("job") == "sluice");
  BOOST_TEST(result.at("metric").at("instance") == target);
  BOOST_TEST(result.at("value").at(1) == "5");
  prometheus.kill();
  ssc.stop();
}
