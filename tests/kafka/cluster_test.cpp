// The direct stream in cluster mode: at local-cluster[2,1] the records of a
// Kafka partition are read on the worker processes (the fused kafka_read
// step runs in the operator actors), against librdkafka's mock cluster in
// this process.
//
// local-cluster re-runs this program as the worker processes; each replays
// the test cases up to the context it serves, earlier contexts locally. One
// mock cluster serves the whole program: the driver (the first process)
// starts it and hands its address to its workers in SLUICE_KAFKA_TEST_BOOTSTRAP;
// workers start none and produce nothing. All records are produced before a
// context starts (the rate limit makes the batches), so a worker's replay
// of an earlier context reads what the driver's did.
#define BOOST_TEST_MODULE kafka/cluster
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>

#include "fixtures/cluster_mark.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/kafka_cluster.hpp"
#include "fixtures/kafka_print.hpp"
#include "fixtures/process_tree.hpp"
#include "sluice/kafka.hpp"
#include "sluice/sluice.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::children_of;
using fixtures::in_driver;
using fixtures::kafka_cluster;
using fixtures::temp_dir;
using kafka::offset_range;
using record = kafka::consumer_record<std::string, std::string>;
using kv = std::pair<std::string, int>;

namespace {

constexpr const char* bootstrap_env = "SLUICE_KAFKA_TEST_BOOTSTRAP";

/// The driver's mock cluster, for the whole run (workers: none).
std::unique_ptr<kafka_cluster>& broker() {
  static std::unique_ptr<kafka_cluster> k;
  return k;
}

struct broker_fixture {
  broker_fixture() {
    if (!in_driver())
      return;
    broker() = std::make_unique<kafka_cluster>();
    ::setenv(bootstrap_env, broker()->bootstrap().c_str(), 1);  // before any worker starts
  }
  ~broker_fixture() { broker().reset(); }
};
BOOST_TEST_GLOBAL_FIXTURE(broker_fixture);

std::string bootstrap() {
  const char* b = std::getenv(bootstrap_env);
  if (b == nullptr)
    throw std::runtime_error(std::string{bootstrap_env} + " is not set in this worker");
  return b;
}

/// Creates `topic` and produces `counts[p]` records "w<offset % 5>" to each
/// partition p (the driver only: workers find them there).
void produce(const std::string& topic, const std::vector<int>& counts) {
  if (!in_driver())
    return;
  broker()->create_topic(topic, static_cast<int>(counts.size()));
  for (size_t p = 0; p < counts.size(); ++p)
    for (int o = 0; o < counts[p]; ++o)
      broker()->send(topic, static_cast<int>(p), "w" + std::to_string(o % 5), {});
  broker()->flush();
}

conf kafka_conf(const std::string& master, int max_rate) {
  auto c = fixtures::manual_conf(master);
  c.set("sluice.ui.enabled", "false");
  c.set("sluice.streaming.kafka.maxRatePerPartition", std::to_string(max_rate));
  if (master.rfind("local-cluster", 0) == 0)
    c.set("sluice.cluster.heartbeatInterval", "100ms").set("sluice.cluster.workerTimeout", "2s");
  return c;
}

dstream<record> direct_stream(streaming_context& ssc, const std::string& topic,
                              const std::string& group) {
  return kafka::create_direct_stream<std::string, std::string>(
    ssc, kafka::prefer_consistent(),
    kafka::subscribe({topic}, {{"bootstrap.servers", bootstrap()},
                               {"group.id", group},
                               {"auto.offset.reset", "earliest"},
                               {"log_level", "3"}}));
}

/// One batch of the direct stream as its output saw it: the offset ranges
/// and each batch partition's record count.
struct seen_batch {
  std::vector<offset_range> ranges;
  std::vector<size_t> records;
  bool operator==(const seen_batch&) const = default;
};

std::ostream& operator<<(std::ostream& os, const seen_batch& b) {
  for (size_t i = 0; i < b.ranges.size(); ++i)
    os << ' ' << b.ranges[i] << ':' << (i < b.records.size() ? b.records[i] : size_t{0});
  return os;
}

/// "w0=6 w1=6 ..." (running counts, sorted by word).
std::string text(std::vector<kv> counts) {
  std::sort(counts.begin(), counts.end());
  std::string out;
  for (auto& [w, n] : counts)
    out += (out.empty() ? "" : " ") + w + '=' + std::to_string(n);
  return out;
}

/// What a run saw: per batch time, the newest output (a batch that runs
/// again after a lost worker outputs again).
struct run_result {
  std::map<int64_t, seen_batch> batches;
  std::map<int64_t, std::string> counts;  ///< running word counts, as text()
};

/// One line per batch time, "<t>:<what it saw>" (comparable, printable).
template <class T>
std::vector<std::string> lines(const std::map<int64_t, T>& m) {
  std::vector<std::string> out;
  for (auto& [t, x] : m) {
    std::ostringstream line;
    line << t << ':' << x;
    out.push_back(line.str());
  }
  return out;
}

/// Runs `n` batches of 1 s of the direct stream over `topic` at `c`, with a
/// running word count (update_state_by_key, state checkpoints every 2 s).
/// In the driver, before batch `at` is due and once batches 1..at-1
/// completed, calls fault(workers).
template <class Fault>
run_result run(conf c, const std::string& topic, const std::string& group, int n, int at,
               Fault fault) {
  temp_dir dir{"kafka-cluster"};
  streaming_context ssc{c, seconds(1)};
  ssc.checkpoint(dir.str());
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  auto mtx = std::make_shared<std::mutex>();
  auto cv = std::make_shared<std::condition_variable>();
  auto out = std::make_shared<run_result>();
  auto messages = direct_stream(ssc, topic, group);
  messages.foreach_rdd([=](const rdd<record>& r, batch_time t) {
    seen_batch b{kafka::offset_ranges(r), {}};
    for (auto& p : r.partitions())
      b.records.push_back(p.size());
    std::lock_guard<std::mutex> guard{*mtx};
    out->batches[t.ms] = std::move(b);
  });
  messages.map([](const record& r) { return kv{r.value, 1}; })
    .update_state_by_key([](const std::vector<int>& values, std::optional<int> state) {
      return std::optional<int>{state.value_or(0) + static_cast<int>(values.size())};
    })
    .checkpoint(seconds(2))
    .foreach_rdd([=](const rdd<kv>& r, batch_time t) {
      auto v = text(r.collect());
      std::lock_guard<std::mutex> guard{*mtx};
      out->counts[t.ms] = std::move(v);
      cv->notify_all();
    });
  ssc.start();
  auto workers = children_of(::getpid());
  for (int i = 1; i <= n; ++i) {
    if (i == at && in_driver()) {  // a worker replays this context locally
      counter->wait_for(at - 1);
      fault(workers);
    }
    ssc.manual_clock().advance(seconds(1));
  }
  auto last = int64_t{n} * 1000;
  bool all = false;
  {
    std::unique_lock<std::mutex> guard{*mtx};
    all = cv->wait_for(guard, std::chrono::seconds(60), [&] {
      return out->counts.count(last) > 0 && out->batches.count(last) > 0;
    });
  }
  ssc.stop();
  ssc.await_termination();  // throws what failed the context
  BOOST_REQUIRE_MESSAGE(all, "batch " << last << " did not complete within 60 s");
  std::lock_guard<std::mutex> guard{*mtx};
  return *out;
}

run_result run(conf c, const std::string& topic, const std::string& group, int n) {
  return run(std::move(c), topic, group, n, 0, [](const std::vector<pid_t>&) {});
}

offset_range range(const std::string& topic, int32_t p, int64_t from, int64_t until) {
  return {topic, p, from, until};
}

} // namespace

BOOST_AUTO_TEST_CASE(the_ranges_read_on_two_workers_equal_the_local_run) {
  // 0, 5 and 23 records; at most 10 per partition and batch.
  produce("spread", {0, 5, 23});
  auto local = run(kafka_conf("local[2]", 10), "spread", "g-spread", 4);
  auto cluster = run(kafka_conf("local-cluster[2,1]", 10), "spread", "g-spread", 4);
  auto b = [](int64_t f1, int64_t u1, int64_t f2, int64_t u2) {
    return seen_batch{{range("spread", 0, 0, 0), range("spread", 1, f1, u1),
                       range("spread", 2, f2, u2)},
                      {0, static_cast<size_t>(u1 - f1), static_cast<size_t>(u2 - f2)}};
  };
  std::map<int64_t, seen_batch> expected{
    {1000, b(0, 5, 0, 10)}, {2000, b(5, 5, 10, 20)}, {3000, b(5, 5, 20, 23)}, {4000, b(5, 5, 23, 23)}};
  BOOST_TEST(lines(local.batches) == lines(expected), boost::test_tools::per_element());
  BOOST_TEST(lines(cluster.batches) == lines(local.batches), boost::test_tools::per_element());
  // w<offset % 5> over offsets 0-4 of partition 1 and 0-22 of partition 2.
  BOOST_TEST(local.counts.at(4000) == "w0=6 w1=6 w2=6 w3=5 w4=5");
  BOOST_TEST(lines(cluster.counts) == lines(local.counts), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_killed_worker_s_partitions_are_read_by_the_other_worker_exactly_once) {
  // 240 records per partition, 30 per partition and batch: batch i reads
  // [30 (i - 1), 30 i) of each partition, 6 of each word per partition.
  produce("killed", {240, 240});
  std::map<int64_t, seen_batch> ranges;
  std::map<int64_t, std::string> counts;
  for (int64_t i = 1; i <= 8; ++i) {
    ranges[i * 1000] = {{range("killed", 0, 30 * (i - 1), 30 * i),
                         range("killed", 1, 30 * (i - 1), 30 * i)},
                        {30, 30}};
    auto c = std::to_string(12 * i);
    counts[i * 1000] = "w0=" + c + " w1=" + c + " w2=" + c + " w3=" + c + " w4=" + c;
  }
  for (int at : {4, 7}) {
    pid_t killed = 0;
    auto cluster = run(kafka_conf("local-cluster[2,1]", 30), "killed", "g-killed", 8, at,
                       [&](const std::vector<pid_t>& workers) {
                         BOOST_REQUIRE_EQUAL(workers.size(), 2u);
                         killed = workers[at % 2];
                         BOOST_TEST_MESSAGE("killing worker " << killed << " before batch " << at);
                         ::kill(killed, SIGKILL);
                       });
    if (!in_driver())
      continue;
    BOOST_TEST(killed != 0);
    BOOST_TEST(lines(cluster.batches) == lines(ranges), boost::test_tools::per_element());
    BOOST_TEST(lines(cluster.counts) == lines(counts), boost::test_tools::per_element());
  }
}
