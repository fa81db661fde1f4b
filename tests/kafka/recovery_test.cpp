// The direct stream's offset ranges in the metadata checkpoint: a batch that
// was pending at the crash re-runs on exactly the ranges it had, in this
// process (a failed batch) and with the sample killed by SIGKILL while a
// producer writes.
#define BOOST_TEST_MODULE kafka/recovery
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/kafka_cluster.hpp"
#include "fixtures/kafka_print.hpp"
#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

using namespace sluice;
using fixtures::kafka_cluster;
using kafka::offset_range;
using record = kafka::consumer_record<std::string, std::string>;
namespace fs = std::filesystem;

namespace {

/// Holds the first record read after arm() until release().
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool armed = false, entered = false, open = false;
  void pass() {
    std::unique_lock<std::mutex> guard{mtx};
    if (!armed)
      return;
    armed = false;
    entered = true;
    cv.notify_all();
    cv.wait_for(guard, std::chrono::seconds(30), [&] { return open; });
  }
  void wait_entered() {
    std::unique_lock<std::mutex> guard{mtx};
    if (!cv.wait_for(guard, std::chrono::seconds(20), [&] { return entered; }))
      throw std::runtime_error("the gate was never reached");
  }
  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    open = true;
    cv.notify_all();
  }
};

struct submitted : streaming_listener {
  std::mutex mtx;
  std::condition_variable cv;
  int n = 0;
  void on_batch_submitted(const batch_info&) override {
    std::lock_guard<std::mutex> guard{mtx};
    ++n;
    cv.notify_all();
  }
  void wait_for(int k) {
    std::unique_lock<std::mutex> guard{mtx};
    if (!cv.wait_for(guard, std::chrono::seconds(20), [&] { return n >= k; }))
      throw std::runtime_error("batch " + std::to_string(k) + " was not submitted");
  }
};

struct seen {
  int64_t t;
  std::vector<offset_range> ranges;
  std::vector<std::string> values;
  bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const seen& s) {
  os << s.t << ':';
  for (auto& r : s.ranges)
    os << ' ' << r;
  for (auto& v : s.values)
    os << ' ' << v;
  return os;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_batch_pending_at_a_crash_re_runs_on_the_same_ranges) {
  kafka_cluster k;
  k.create_topic("t", 1);
  k.produce_n("t", 0, 2, "a");
  fixtures::temp_dir dir{"kafka-recovery"};
  auto g = std::make_shared<gate>();
  auto out = std::make_shared<std::vector<seen>>();
  auto mtx = std::make_shared<std::mutex>();
  auto crash_at = std::make_shared<std::atomic<int64_t>>(2000);
  auto factory = [&] {
    streaming_context ssc{fixtures::manual_conf(), seconds(1)};
    ssc.checkpoint(dir.str());
    kafka::deserializer<std::string> value = [g](std::optional<std::string_view> b) {
      g->pass();
      return std::string{*b};
    };
    kafka::create_direct_stream<std::string, std::string>(
      ssc, kafka::prefer_consistent(),
      kafka::subscribe({"t"}, {{"bootstrap.servers", k.bootstrap()},
                               {"group.id", "g"},
                               {"auto.offset.reset", "earliest"},
                               {"log_level", "3"}}),
      kafka::string_deserializer(), value)
      .foreach_rdd([=](const rdd<record>& r, batch_time t) {
        seen s{t.ms, kafka::offset_ranges(r), {}};
        for (auto& x : r.collect())
          s.values.push_back(x.value);
        {
          std::lock_guard<std::mutex> guard{*mtx};
          out->push_back(s);
        }
        if (t.ms == crash_at->load())
          throw error("simulated crash");
      });
    return ssc;
  };
  {
    auto ssc = streaming_context::get_or_create(dir.str(), factory);
    auto subs = std::make_shared<submitted>();
    ssc.add_listener(subs);
    ssc.start();
    g->armed = true;
    ssc.manual_clock().advance(seconds(1)); // batch 1000 reads [0, 2) and waits at the gate
    g->wait_entered();
    k.produce_n("t", 0, 3, "b");
    ssc.manual_clock().advance(seconds(1)); // batch 2000 is fixed now: [2, 5)
    subs->wait_for(2);
    k.produce_n("t", 0, 4, "c");            // after batch 2000's time: not in it
    g->release();
    BOOST_CHECK_THROW(ssc.await_termination_or_timeout(seconds(20)), error);
  }
  BOOST_TEST(out->size() == 2u);
  BOOST_TEST((out->at(1) == seen{2000, {{"t", 0, 2, 5}}, {"b0", "b1", "b2"}}));
  out->clear();
  crash_at->store(-1);
  auto ssc = streaming_context::get_or_create(dir.str(), factory);
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(2);
  ssc.stop();
  ssc.await_termination();
  BOOST_TEST(out->size() == 2u);
  BOOST_TEST((out->at(0) == seen{2000, {{"t", 0, 2, 5}}, {"b0", "b1", "b2"}}));
  BOOST_TEST((out->at(1) == seen{3000, {{"t", 0, 5, 9}}, {"c0", "c1", "c2", "c3"}}));
}

namespace {

/// Per partition, the ranges the batch files name, sorted; and whether each
/// file's record count equals its ranges' sizes.
std::map<int, std::vector<std::pair<int64_t, int64_t>>> read_batches(const fs::path& dir,
                                                                    int64_t& bad_counts) {
  std::map<int, std::vector<std::pair<int64_t, int64_t>>> out;
  bad_counts = 0;
  for (auto& e : fs::directory_iterator{dir}) {
    auto name = e.path().filename().string();
    if (name.rfind("batch-", 0) != 0)
      continue;
    std::ifstream in{e.path()};
    std::string topic;
    int p;
    int64_t from, until, n;
    while (in >> topic >> p >> from >> until >> n) {
      if (until - from != n)
        ++bad_counts;
      if (until > from)
        out[p].emplace_back(from, until);
    }
  }
  for (auto& [p, v] : out)
    std::sort(v.begin(), v.end());
  return out;
}

/// True when the ranges tile [0, end) exactly: no gap, no overlap.
bool tiles(const std::vector<std::pair<int64_t, int64_t>>& v, int64_t end) {
  int64_t at = 0;
  for (auto& [from, until] : v) {
    if (from != at)
      return false;
    at = until;
  }
  return at == end;
}

} // namespace

BOOST_AUTO_TEST_CASE(sigkilled_at_seeded_moments_the_batches_tile_the_partitions_exactly) {
  kafka_cluster k;
  k.create_topic("words", 2);
  fixtures::temp_dir ckpt{"kafka-kill-ckpt"}, outdir{"kafka-kill-out"};
  // The producer writes for about as long as the 10 kills take (~15 s):
  // 50 chunks of 20 records per partition, 250 ms apart.
  constexpr int per_partition = 1000;
  std::thread producer{[&] {
    for (int i = 0; i < per_partition; i += 20) {
      for (int p = 0; p < 2; ++p)
        for (int j = 0; j < 20; ++j)
          k.send("words", p, "w" + std::to_string(i + j), {});
      k.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(250)); // pacing, not synchronisation
    }
  }};
  fixtures::child_process app{{SLUICE_SAMPLES_DIR "/direct_kafka_word_count", k.bootstrap(), "kill",
                               "words", ckpt.str(), outdir.str()}};
  std::mt19937 rng{12};  // the seed fixes the kill moments
  std::uniform_int_distribution<int> after_ms{700, 2200};
  int kills = 0;
  constexpr int moments = 10;
  for (int i = 0; i < moments; ++i) {
    app.start();
    // The kill moment (not a synchronisation): somewhere in a batch's life.
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms(rng)));
    kills += app.kill() ? 1 : 0;
  }
  producer.join();
  app.start();
  int64_t bad = 0;
  bool done = fixtures::eventually(
    [&] {
      auto b = read_batches(outdir.path(), bad);
      return tiles(b[0], per_partition) && tiles(b[1], per_partition);
    },
    std::chrono::seconds(60));
  app.kill();
  auto b = read_batches(outdir.path(), bad);
  BOOST_TEST(kills == moments);
  BOOST_TEST(done, "the batches' ranges do not tile [0, " << per_partition << ") of each partition");
  BOOST_TEST(tiles(b[0], per_partition));
  BOOST_TEST(tiles(b[1], per_partition));
  BOOST_TEST(bad == 0, bad << " batch files read a different number of records than their ranges");
}
