#define BOOST_TEST_MODULE runtime/cluster_receivers
// Receivers on workers (issue 11): at local-cluster[2,1] the driver places
// a custom receiver on a worker (the listener hears where), the counts
// equal local[2]'s, and SIGKILLing the worker hosting it loses no record
// it stored, with the receiver WAL off and on. This test program is re-run
// as the worker processes (each replays it up to the context it serves).
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "fixtures/harness.hpp"
#include "fixtures/process_tree.hpp"
#include "fixtures/child_process.hpp"
#include "fixtures/cluster_mark.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using fixtures::in_driver;
using fixtures::manual_conf;
using fixtures::worker_name;

using kv = std::pair<std::string, int>;

namespace {

/// A path the driver and its workers agree on (the driver's pid in it).
std::filesystem::path shared_path(const std::string& name) {
  return std::filesystem::temp_directory_path()
         / ("sluice-cluster-receivers-" + std::string{std::getenv("SLUICE_CLUSTER_TEST_DRIVER")}
            + "-" + name);
}

constexpr int chunks = 150;
constexpr int chunk_size = 20;

/// Stores "r<i>", i < chunks * chunk_size, chunk by chunk with the reliable
/// store(vector) (the block is on the driver when it returns), one chunk
/// every 10 ms. Its progress file, shared by every process, gets "try <k>"
/// before chunk k is stored and "ok <k>" after: a receiver started again
/// (on another worker) resumes after the last "ok", as a source that
/// replays what was not acknowledged.
struct chunk_receiver : receiver<std::string> {
  std::string progress;
  std::thread t;
  explicit chunk_receiver(std::string p) : progress(std::move(p)) {}
  chunk_receiver(const chunk_receiver& o) : receiver<std::string>(o), progress(o.progress) {}
  void on_start() override {
    int next = 0;
    std::ifstream in{progress};
    for (std::string word; in >> word;) {
      int k = 0;
      in >> k;
      if (word == "ok")
        next = k + 1;
    }
    t = std::thread{[this, next] {
      for (int k = next; k < chunks && !is_stopped(); ++k) {
        std::ofstream{progress, std::ios::app} << "try " << k << '\n';
        std::vector<std::string> xs;
        for (int i = 0; i < chunk_size; ++i)
          xs.push_back("r" + std::to_string(k * chunk_size + i));
        try {
          store(std::move(xs));
        } catch (const std::exception&) {
          return;  // stopping
        }
        std::ofstream{progress, std::ios::app} << "ok " << k << '\n';
        std::this_thread::sleep_for(10ms);  // the pace of the input, not a synchronisation
      }
    }};
  }
  void on_stop() override {
    if (t.joinable())
      t.join();
  }
};

/// How often each chunk was tried and whether the last one was stored.
struct progress_view {
  std::map<int, int> tries;
  int stored = 0;  ///< "ok" lines
  bool done = false;
};

progress_view read_progress(const std::filesystem::path& p) {
  progress_view v;
  std::ifstream in{p};
  for (std::string word; in >> word;) {
    int k = 0;
    in >> k;
    if (word == "try")
      ++v.tries[k];
    else if (word == "ok") {
      ++v.stored;
      v.done = v.done || k == chunks - 1;
    }
  }
  return v;
}

/// The receiver events' locations, in order, and the newest batch completed.
class receiver_places : public streaming_listener {
 public:
  void on_batch_completed(const batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    newest_ = std::max(newest_, b.time.ms);
    cv_.notify_all();
  }
  int64_t newest() {
    std::lock_guard<std::mutex> guard{mtx_};
    return newest_;
  }
  /// Waits until a batch after `t` completed (a batch run again after a
  /// worker loss is not one; throws after 60 s).
  void wait_after(int64_t t) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!cv_.wait_for(guard, 60s, [&] { return newest_ > t; }))
      throw std::runtime_error("no batch after " + std::to_string(t) + " ms completed");
  }
  void on_receiver_started(const receiver_info& r) override {
    std::lock_guard<std::mutex> guard{mtx_};
    places_.push_back(r.location);
    cv_.notify_all();
  }
  /// Waits until `n` starts were heard (throws after 30 s).
  std::vector<std::string> wait_for(size_t n) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!cv_.wait_for(guard, 30s, [&] { return places_.size() >= n; }))
      throw std::runtime_error("the receiver did not start " + std::to_string(n) + " time(s)");
    return places_;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::string> places_;
  int64_t newest_ = std::numeric_limits<int64_t>::min();
};

pid_t pid_of(const std::string& location) {
  return static_cast<pid_t>(std::stol(location.substr(location.rfind(':') + 1)));
}

struct outcome {
  std::map<std::string, int> counts;  ///< per word, over the batches (a re-run batch counted once)
  std::vector<std::string> places;    ///< where the receiver started
  progress_view progress;
};

/// The word count of chunk_receiver's records at `c`'s master. `fault`
/// (driver only) runs once the receiver stored 30 chunks and a batch took
/// them; it returns how many receiver starts to wait for afterwards.
template <class Fault>
outcome count_words(conf c, const std::string& name, Fault fault) {
  auto progress = shared_path(name + ".progress");
  if (in_driver())
    std::filesystem::remove(progress);
  c.set("sluice.ui.enabled", "false");
  streaming_context ssc{c, seconds(1)};
  if (c.get_bool("sluice.streaming.receiver.writeAheadLog.enable", false)) {
    auto dir = shared_path(name + ".cp");
    if (in_driver())
      std::filesystem::remove_all(dir);
    ssc.checkpoint(dir.string());
  }
  auto by_batch = std::make_shared<std::map<int64_t, std::vector<kv>>>();
  auto mtx = std::make_shared<std::mutex>();
  ssc.receiver_stream(chunk_receiver{progress.string()})
    .map([](std::string w) { return kv{std::move(w), 1}; })
    .reduce_by_key(std::plus<int>{})
    .foreach_rdd([by_batch, mtx](const rdd<kv>& r, batch_time t) {
      auto xs = r.collect();
      std::lock_guard<std::mutex> guard{*mtx};
      (*by_batch)[t.ms] = std::move(xs);  // a batch run again replaces its output
    });
  auto places = std::make_shared<receiver_places>();
  ssc.add_listener(places);
  ssc.start();  // a worker process never returns from the context it serves
  if (!in_driver()) {
    // A worker replaying an earlier context as a local one: the checks are
    // the driver's, and waiting here would only race the other worker's
    // replay over the same progress file.
    ssc.stop();
    return {};
  }
  auto batch = [&] {
    auto before = places->newest();
    ssc.manual_clock().advance(seconds(1));
    places->wait_after(before);
  };
  places->wait_for(1);
  BOOST_REQUIRE(fixtures::eventually([&] { return read_progress(progress).stored >= 30; }, 30s));
  batch();
  size_t starts = fault(places->wait_for(1));
  auto seen = places->wait_for(starts);
  BOOST_REQUIRE_MESSAGE(fixtures::eventually([&] { return read_progress(progress).done; }, 60s),
                        "the receiver did not store its last chunk within 60 s");
  batch();  // takes every block stored
  ssc.stop();
  outcome out;
  out.places = std::move(seen);
  out.progress = read_progress(progress);
  for (auto& [t, xs] : *by_batch)
    for (auto& [w, n] : xs)
      out.counts[w] += n;
  std::filesystem::remove(progress);
  return out;
}

conf cluster_conf() {
  auto c = manual_conf("local-cluster[2,1]");
  c.set("sluice.cluster.heartbeatInterval", "100ms").set("sluice.cluster.workerTimeout", "2s");
  return c;
}

/// Every record counted once, except those of a chunk stored twice (tried
/// again after a kill left it unacknowledged): once or twice.
void check_counts(const outcome& o) {
  std::vector<std::string> missing, extra;
  for (int k = 0; k < chunks; ++k)
    for (int i = 0; i < chunk_size; ++i) {
      auto w = "r" + std::to_string(k * chunk_size + i);
      auto at = o.counts.find(w);
      int n = at == o.counts.end() ? 0 : at->second;
      auto tried = o.progress.tries.count(k) ? o.progress.tries.at(k) : 0;
      if (n == 0)
        missing.push_back(w);
      else if (n > 1 && n > tried)
        extra.push_back(w);
    }
  BOOST_TEST(missing.empty(), missing.size() << " records never counted, first "
                                             << (missing.empty() ? "" : missing[0]));
  BOOST_TEST(extra.empty(), extra.size() << " records counted more often than stored, first "
                                         << (extra.empty() ? "" : extra[0]));
  BOOST_TEST(o.counts.size() == static_cast<size_t>(chunks * chunk_size));
}

} // namespace

BOOST_AUTO_TEST_CASE(the_receiver_runs_on_a_worker_and_counts_equal_local) {
  auto none = [](const std::vector<std::string>&) { return size_t{1}; };
  auto local = count_words(manual_conf("local[2]"), "local", none);
  auto cluster = count_words(cluster_conf(), "cluster", none);
  if (!in_driver())  // a worker replaying the contexts before its own
    return;
  BOOST_TEST(local.places == std::vector<std::string>{""}, boost::test_tools::per_element());
  BOOST_TEST(local.counts.size() == static_cast<size_t>(chunks * chunk_size));
  for (auto& [w, n] : local.counts)
    BOOST_TEST_REQUIRE(n == 1, w << " counted " << n << " times");
  BOOST_TEST(cluster.counts == local.counts);
  BOOST_REQUIRE_EQUAL(cluster.places.size(), 1u);
  BOOST_TEST(cluster.places[0] != "");
  BOOST_TEST(cluster.places[0] != worker_name(::getpid()), "the receiver ran on the driver");
}

BOOST_AUTO_TEST_CASE(killing_the_receiver_s_worker_loses_no_stored_record) {
  for (bool wal : {false, true}) {
    auto c = cluster_conf();
    c.set("sluice.streaming.receiver.writeAheadLog.enable", wal ? "true" : "false");
    pid_t killed = 0;
    auto o = count_words(c, wal ? "kill-wal" : "kill", [&](const std::vector<std::string>& ps) {
      auto workers = fixtures::children_of(::getpid());
      BOOST_REQUIRE_EQUAL(workers.size(), 2u);
      killed = pid_of(ps[0]);
      BOOST_REQUIRE(killed == workers[0] || killed == workers[1]);
      ::kill(killed, SIGKILL);
      return size_t{2};  // started again on the other worker
    });
    if (!in_driver())
      continue;
    BOOST_TEST_MESSAGE("WAL " << (wal ? "on" : "off") << ": killed " << killed << ", "
                              << o.progress.stored << " chunks stored");
    BOOST_REQUIRE_EQUAL(o.places.size(), 2u);
    BOOST_TEST(o.places[0] == worker_name(killed));
    BOOST_TEST(o.places[1] != o.places[0], "placed again on the killed worker");
    check_counts(o);
  }
}
