// The streaming page in headless Chromium (Debian's chromium) while a
// pipeline runs: its tables, Chart.js timelines and histograms hold the live
// numbers; a screenshot goes to <build>/ui-page.png.
#define BOOST_TEST_MODULE ui_page
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>
#include <sys/wait.h>

#include "fixtures/child_process.hpp"
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

/// The page's histogram binning (page_charts.cpp, histogram()), in doubles
/// as JavaScript's numbers: 10 equal bins from min to max, the max in the
/// last, all in the first when every value is the same. "c0,c1,...,c9".
std::string bins(const std::vector<double>& values) {
  std::vector<int> counts(10, 0);
  if (!values.empty()) {
    auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    double min = *lo, max = *hi;
    double width = max > min ? (max - min) / 10 : 1;
    for (double v : values)
      ++counts[std::min(9, static_cast<int>(std::floor((v - min) / width)))];
  }
  std::string out;
  for (int c : counts)
    out += (out.empty() ? "" : ",") + std::to_string(c);
  return out;
}

/// Where the element that opens at `at` (its "<tag") closes in `dom`: just
/// past its matching "</tag>", counting the same tags nested in it; npos if
/// it never closes.
size_t element_end(const std::string& dom, size_t at, const std::string& tag) {
  const std::string open = "<" + tag, close = "</" + tag + ">";
  int depth = 0;
  for (size_t i = at; i < dom.size();) {
    if (dom.compare(i, close.size(), close) == 0) {
      i += close.size();
      if (--depth == 0)
        return i;
    } else if (dom.compare(i, open.size(), open) == 0 && i + open.size() < dom.size()
               && (dom[i + open.size()] == ' ' || dom[i + open.size()] == '>')) {
      ++depth;
      i += open.size();
    } else {
      ++i;
    }
  }
  return std::string::npos;
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
  // The numbers also feed a stateful operator (odd and even: 2 state keys
  // after the first batch) for the operator graph and the supervision tree.
  fixtures::temp_dir checkpoints{"ui-page-checkpoints"};
  ssc.checkpoint(checkpoints.str());
  auto numbers = ssc.queue_stream<int>({{1, 2, 3}, {4, 5}, {}});
  numbers.foreach_rdd([](const rdd<int>&) {});
  numbers.count().foreach_rdd([](const rdd<int64_t>&) {});  // a gather feeding a gather
  numbers.map([](int x) { return std::pair<int, int>{x % 2, x}; })
    .update_state_by_key([](const std::vector<int>& xs, std::optional<int> sum) {
      int s = sum.value_or(0);
      for (int x : xs)
        s += x;
      return std::optional<int>{s};
    })
    .foreach_rdd([](const rdd<std::pair<int, int>>&) {});
  ssc.start();
  BOOST_REQUIRE(events->wait_errors(1));
  for (int i = 1; i <= 3; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  auto url = ssc.ui_url() + "/";
  auto get = [&](const std::string& path) { return fixtures::http_get(ssc.ui_url(), path).json(); };
  auto app = get("/api/v1/applications")[0]["id"].get<std::string>();
  auto streaming = "/api/v1/applications/" + app + "/streaming/";
  // The actor sampler reports once a second (sluice.ui.sampleInterval):
  // before the page loads, wait for a sample with the job scheduler and
  // every slot of every stage, and for the stateful operator's 2 keys.
  nlohmann::json operators, actors;
  auto sampled = [&] {
    operators = get(streaming + "operators");
    actors = get(streaming + "actors");
    if (!actors.contains("sampledAt"))
      return false;
    std::set<std::string> ids;
    for (auto& a : actors["actors"])
      ids.insert(a["id"].get<std::string>());
    if (!ids.count("job_scheduler"))
      return false;
    for (auto& st : operators["stages"])
      for (int i = 0; i < st["slots"].get<int>(); ++i)
        if (!ids.count("stage " + std::to_string(st["id"].get<int>()) + " slot " + std::to_string(i)))
          return false;
    for (auto& op : operators["stateful"])
      if (op["stateKeys"] != 2)
        return false;
    return !operators["stateful"].empty();
  };
  BOOST_REQUIRE_MESSAGE(fixtures::eventually(sampled, std::chrono::seconds(20)),
                        "operators: " << operators.dump() << "\nactors: " << actors.dump());
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
  // Next to each timeline its histogram, binned in the page from the same
  // batches: as many batches as the API retains, in the bins the API's
  // values give. The clock stands still, so the API answers now what the
  // page read.
  auto stats = fixtures::http_get(ssc.ui_url(), streaming + "statistics").json();
  auto batches = fixtures::http_get(ssc.ui_url(), streaming + "batches?status=COMPLETED").json();
  auto retained = stats["numRetainedCompletedBatches"].get<int64_t>();
  BOOST_TEST(retained == 3);
  BOOST_TEST(batches.size() == 3u);
  std::map<std::string, std::vector<double>> values;
  for (auto& b : batches) {
    values["inputRate"].push_back(b["inputSize"].get<double>() * 1000
                                  / b["batchDuration"].get<double>());
    for (auto key : {"schedulingDelay", "processingTime", "totalDelay"})
      values[key].push_back(b[key].get<double>());
  }
  for (auto& [key, v] : values) {
    has("id=\"hist-" + key + "\" data-bins=\"" + bins(v) + "\" data-total=\""
        + std::to_string(retained) + "\"");
    has("<p id=\"hist-" + key + "-summary\">" + std::to_string(retained) + " batches, ");
  }
  // Input rates 3, 2 and 0 records/s: bins of 0.3 from 0, 2 in the 7th.
  has("id=\"hist-inputRate\" data-bins=\"1,0,0,0,0,0,1,0,0,1\" data-total=\"3\"");
  has("<p id=\"hist-inputRate-summary\">3 batches, 0 to 3 in 10 bins</p>");
  size_t drawn = 0;
  for (auto at = dom.find("data-drawn=\"3\""); at != std::string::npos;
       at = dom.find("data-drawn=\"3\"", at + 1))
    ++drawn;
  BOOST_TEST(drawn == 4u);

  // The operator graph names every operator the planner placed, in its
  // stage (with the host of each slot) or gather, as the API reports them.
  has("<p id=\"operators-error\" class=\"section-error\"></p>");
  std::multiset<std::string> names;
  auto node = [&](const nlohmann::json& n, const std::string& card) {
    names.insert(n["name"].get<std::string>());
    BOOST_TEST(card.find("<li data-node=\"" + std::to_string(n["id"].get<int>())
                         + "\"><span class=\"node-name\">" + n["name"].get<std::string>()
                         + "</span>") != std::string::npos,
               n.dump() << " not in " << card);
  };
  auto card = [&](const std::string& attr) {
    auto at = dom.find("<div class=\"" + attr);
    BOOST_TEST_REQUIRE(at != std::string::npos, attr << " not in:\n" << dom);
    return dom.substr(at, element_end(dom, at, "div") - at);
  };
  for (auto& st : operators["stages"]) {
    auto id = std::to_string(st["id"].get<int>());
    auto stage = card("stage\" data-stage=\"" + id + "\"");
    for (auto& n : st["nodes"])
      node(n, stage);
    for (size_t i = 0; i < st["hosts"].size(); ++i)
      BOOST_TEST(stage.find("<tr data-slot=\"" + std::to_string(i) + "\"><td>slot "
                            + std::to_string(i) + "</td><td>" + st["hosts"][i].get<std::string>()
                            + "</td></tr>") != std::string::npos, stage);
  }
  for (auto& g : operators["gathers"]) {
    auto gather = card("gather\" data-gather=\"" + std::to_string(g["id"].get<int>()) + "\"");
    node(g["node"], gather);
    // count sends to its foreach_rdd itself: the card says which gather.
    if (g["node"]["name"] == "count") {
      BOOST_TEST_REQUIRE(g["gathers"].size() == 1u);
      BOOST_TEST(g["stage"] == -1);
      BOOST_TEST(gather.find("on driver, \u2192 gather " + std::to_string(g["gathers"][0].get<int>())
                             + "</div>") != std::string::npos, gather);
    }
  }
  // The receiver's stage, the queue stream's (it heads the stage it
  // scatters into and, forwarded, the one of its map branch, fused with the
  // map), the stateful stage after the shuffle, count's gather, and a gather
  // per foreach_rdd.
  BOOST_TEST((names == std::multiset<std::string>{"receiver_stream", "foreach_rdd",
                                                  "queue_stream", "foreach_rdd", "count",
                                                  "foreach_rdd",
                                                  "queue_stream", "map", "update_state_by_key",
                                                  "foreach_rdd"}),
             [&] {
    std::string all;
    for (auto& n : names)
      all += n + " ";
    return all;
  }());
  // The stateful operator's keys: 2 (odd and even), in its node and its row.
  BOOST_TEST_REQUIRE(operators["stateful"].size() == 1u);
  auto& state = operators["stateful"][0];
  auto op_id = std::to_string(state["operatorId"].get<int>());
  BOOST_TEST(state["name"] == "update_state_by_key");
  BOOST_TEST(state["stateKeys"] == 2);
  has("<li data-node=\"" + op_id + "\"><span class=\"node-name\">update_state_by_key</span> "
      "<span class=\"state-keys\" data-state-keys=\"2\">2 state keys</span>");
  has("<tr data-operator=\"" + op_id + "\"><td>" + op_id + "</td><td>update_state_by_key</td><td>2</td>");

  // The supervision tree: every actor of the sample, named, nested in its
  // parent's item (the context's children at the top), among them the job
  // scheduler and every stage slot.
  has("<p id=\"actors-error\" class=\"section-error\"></p>");
  has("<p id=\"actors-sampled\">sampled at ");
  std::map<std::string, std::pair<size_t, size_t>> items;  // id -> its <li>'s extent
  for (auto& a : actors["actors"]) {
    auto id = a["id"].get<std::string>();
    auto at = dom.find("<li data-actor=\"" + id + "\"");
    BOOST_TEST_REQUIRE(at != std::string::npos, id << " not in:\n" << dom);
    items[id] = {at, element_end(dom, at, "li")};
    auto name = "<span class=\"actor-id\">" + id + "</span> (<span class=\"actor-name\">"
                + a["name"].get<std::string>() + "</span>)";
    BOOST_TEST(dom.compare(dom.find('>', at) + 1, name.size(), name) == 0, id << ": " << name);
  }
  for (auto& a : actors["actors"]) {
    auto at = items[a["id"].get<std::string>()].first;
    std::string innermost = "context";
    size_t innermost_at = 0;
    for (auto& [id, extent] : items)
      if (extent.first < at && at < extent.second && extent.first >= innermost_at) {
        innermost = id;
        innermost_at = extent.first;
      }
    BOOST_TEST(innermost == a["parent"].get<std::string>(), a.dump());
  }
  BOOST_TEST(items.count("job_scheduler") == 1u);
  for (auto& st : operators["stages"])
    for (int i = 0; i < st["slots"].get<int>(); ++i)
      BOOST_TEST(items.count("stage " + std::to_string(st["id"].get<int>()) + " slot "
                             + std::to_string(i)) == 1u);

  BOOST_TEST(fixtures::http_get(ssc.ui_url(), "/static/chart.min.js").body.find("Chart.js v3.9")
             != std::string::npos);

  std::filesystem::path shot = SLUICE_BUILD_DIR "/ui-page.png";
  std::filesystem::remove(shot);
  auto [shot_status, shot_out] = fixtures::shell(chromium(
    profile, "--virtual-time-budget=4000 --window-size=1280,3000 --screenshot=" + shot.string()
               + " " + url));
  BOOST_TEST(shot_status == 0, shot_out);
  BOOST_TEST_REQUIRE(std::filesystem::exists(shot));
  BOOST_TEST(std::filesystem::file_size(shot) > 20000u);
  ssc.stop();
}
