// The streaming page in headless Chromium (Debian's chromium) while a
// pipeline runs: its tables and Chart.js timelines hold the live numbers;
// a screenshot goes to <build>/ui-page.png.
#define BOOST_TEST_MODULE ui_page
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

#include "fixtures/harness.hpp"
#include "fixtures/shell.hpp"
#include "fixtures/stream_io.hpp"
#include "fixtures/ui_client.hpp"

using namespace sluice;
using fixtures::batch_counter;

namespace {

/// Headless Chromium, run as root too (no sandbox), with its own profile;
/// `timeout` bounds it should it hang.
std::string chromium(const fixtures::temp_dir& profile, const std::string& args) {
  return "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
         "--no-first-run --user-data-dir=" + profile.str() + " " + args + " 2>/dev/null";
}

class complaining_receiver : public receiver<int> {
 public:
  void on_start() override { report_error("disk almost full"); }
  void on_stop() override {}
};

} // namespace

BOOST_AUTO_TEST_CASE(the_page_shows_the_live_numbers_in_tables_and_charts) {
  fixtures::temp_dir profile{"ui-chromium"};
  auto c = fixtures::manual_conf();
  c.app_name("ui-page").set("sluice.ui.port", "0");
  streaming_context ssc{c, seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  auto events = std::make_shared<fixtures::receiver_events>();
  ssc.add_listener(counter);
  ssc.add_listener(events);
  ssc.receiver_stream(complaining_receiver{}).foreach_rdd([](const rdd<int>&) {});
  ssc.queue_stream<int>({{1, 2, 3}, {4, 5}, {}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_REQUIRE(events->wait_errors(1));
  for (int i = 1; i <= 3; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  auto url = ssc.ui_url() + "/";
  // The script polls every second: a few seconds of virtual time see the
  // page refreshed with the numbers the API holds now.
  auto [status, dom] = fixtures::shell(chromium(profile, "--virtual-time-budget=4000 --dump-dom " + url));
  BOOST_TEST_REQUIRE(status == 0, dom);
  auto has = [&](const std::string& fragment) {
    BOOST_TEST(dom.find(fragment) != std::string::npos, fragment << "\nnot in:\n" << dom);
  };
  has("<span id=\"app\">ui-page (local-");
  has("<p id=\"error\"></p>");
  has("<td id=\"stat-numTotalCompletedBatches\">3</td>");
  has("<td id=\"stat-numProcessedRecords\">5</td>");
  has("<td id=\"stat-avgInputRate\">1.67</td>");
  has("<td id=\"stat-numActiveReceivers\">1</td>");
  has("<tr data-batch=\"1000\"><td>1970-01-01T00:00:01.000GMT</td><td>COMPLETED</td><td>3</td>");
  has("<tr data-batch=\"2000\"><td>1970-01-01T00:00:02.000GMT</td><td>COMPLETED</td><td>2</td>");
  has("<tr data-batch=\"3000\"><td>1970-01-01T00:00:03.000GMT</td><td>COMPLETED</td><td>0</td>");
  has("<tr data-stream=\"0\"><td>0</td><td>receiver_stream 0</td><td>true</td><td>0</td><td>1</td>"
      "<td>disk almost full</td>");
  // The receiver stored nothing: 0 records, 0 records/s over the 3 batches.
  has("<td>0</td><td>0.00</td></tr>");
  has("<tr data-executor=\"driver\"><td>driver</td><td>localhost</td><td>true</td><td></td>");
  // Chart.js (from the installed libjs-chart.js) drew every timeline with
  // the three batches, the input rate ending at batch 3000's 0 records/s.
  for (auto id : {"inputRate", "schedulingDelay", "processingTime", "totalDelay"})
    has(std::string("id=\"chart-") + id + "\" data-points=\"3\"");
  has("id=\"chart-inputRate\" data-points=\"3\" data-last=\"0\"");
  size_t charted = 0;
  for (auto at = dom.find("data-charted=\"3\""); at != std::string::npos;
       at = dom.find("data-charted=\"3\"", at + 1))
    ++charted;
  BOOST_TEST(charted == 4u);
  BOOST_TEST(fixtures::http_get(ssc.ui_url(), "/static/chart.min.js").body.find("Chart.js v3.9")
             != std::string::npos);

  std::filesystem::path shot = SLUICE_BUILD_DIR "/ui-page.png";
  std::filesystem::remove(shot);
  auto [shot_status, shot_out] = fixtures::shell(chromium(
    profile, "--virtual-time-budget=4000 --window-size=1280,1600 --screenshot=" + shot.string()
               + " " + url));
  BOOST_TEST(shot_status == 0, shot_out);
  BOOST_TEST_REQUIRE(std::filesystem::exists(shot));
  BOOST_TEST(std::filesystem::file_size(shot) > 20000u);
  ssc.stop();
}
