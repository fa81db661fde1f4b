#define BOOST_TEST_MODULE runtime/cluster_peers
// Direct worker-to-worker links in cluster mode (DESIGN.md "Distribution"):
// local-cluster[2,1] re-runs this program as two workers per context; the
// workers connect to each other, so the shuffle buckets between them never
// reach the driver.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <unistd.h>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/process_tree.hpp"
#include "fixtures/tcp_links.hpp"
#include "fixtures/text_file.hpp"

using namespace sluice;
using fixtures::children_of;
using fixtures::manual_conf;

using kv = std::pair<std::string, int>;

namespace {

constexpr int batches = 4;
constexpr int keys = 4000;        // distinct keys a batch
constexpr size_t key_bytes = 200;  // each key's length

/// Batch b: `keys` distinct keys of `key_bytes` characters; every 100th
/// twice. Each key crosses the shuffle once (map-side combining cannot
/// shrink it), and only the 40 doubled ones reach the output.
std::vector<std::vector<std::string>> input() {
  std::vector<std::vector<std::string>> out(batches);
  for (int b = 0; b < batches; ++b)
    for (int i = 0; i < keys; ++i) {
      auto k = "b" + std::to_string(b) + "-k" + std::to_string(i) + "-";
      k.resize(key_bytes, 'x');
      out[static_cast<size_t>(b)].push_back(k);
      if (i % 100 == 0)
        out[static_cast<size_t>(b)].push_back(k);
    }
  return out;
}

struct observed {
  std::vector<fixtures::batch_output<kv>> out;
  int worker_links = -1;               ///< connections between the two workers
  unsigned long long driver_read = 0;  ///< TCP bytes the driver received
};

observed run(const std::string& master) {
  auto c = manual_conf(master);
  c.set("sluice.ui.enabled", "false");
  streaming_context ssc{c, seconds(1)};
  auto out = std::make_shared<std::vector<fixtures::batch_output<kv>>>();
  auto repeated = ssc.queue_stream(input())
                    .map([](std::string w) { return kv{std::move(w), 1}; })
                    .reduce_by_key(std::plus<int>{})
                    .filter([](const kv& p) { return p.second > 1; });
  fixtures::record_sorted(repeated, out);
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  observed seen;
  if (master.rfind("local-cluster", 0) == 0) {
    auto workers = children_of(::getpid());
    BOOST_REQUIRE_EQUAL(workers.size(), 2u);
    // The driver waits in start() for the workers' links; the kernel's
    // view is polled with a deadline all the same.
    fixtures::eventually(
      [&] { return fixtures::tcp_connections_between(workers[0], workers[1]) == 1; },
      std::chrono::seconds(10));
    seen.worker_links = fixtures::tcp_connections_between(workers[0], workers[1]);
  }
  auto before = fixtures::tcp_bytes_received_here();
  for (int i = 1; i <= batches; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  seen.driver_read = fixtures::tcp_bytes_received_here() - before;
  ssc.stop();
  ssc.await_termination();
  seen.out = *out;
  return seen;
}

} // namespace

// The word count's shuffle at local-cluster[2,1]: the two workers hold one
// TCP connection to each other, and the driver receives less than an eighth
// of the shuffled key bytes (through the driver it would receive about
// half: every bucket from one worker to the other), with local[2]'s results.
BOOST_AUTO_TEST_CASE(shuffle_buckets_go_worker_to_worker_not_through_the_driver) {
  auto cluster = run("local-cluster[2,1]");
  auto local = run("local[2]");
  BOOST_TEST(cluster.worker_links == 1);
  const unsigned long long shuffled = batches * keys * key_bytes;
  BOOST_TEST_MESSAGE("the driver received " << cluster.driver_read << " bytes over TCP");
  BOOST_TEST(cluster.driver_read < shuffled / 8,
             "the driver received " << cluster.driver_read << " bytes; the shuffle moved "
                                    << shuffled << " key bytes");
  BOOST_REQUIRE_EQUAL(local.out.size(), static_cast<size_t>(batches));
  for (auto& b : local.out)
    BOOST_TEST(b.records.size() == static_cast<size_t>(keys / 100));
  BOOST_TEST(cluster.out == local.out, boost::test_tools::per_element());
}

// A worker whose driver is not on loopback listens for its peers on every
// interface, or on SLUICE_WORKER_HOST: without a shared secret it exits with
// status 1 before it reaches the driver, naming the address. (Its master
// is on loopback: a master beyond it needs the secret already.)
BOOST_AUTO_TEST_CASE(a_worker_listening_beyond_loopback_needs_a_secret) {
  fixtures::temp_dir dir{"cluster-peers-bind"};
  auto attempt = [&](const std::string& env) {
    auto log = dir.path() / "worker.log";
    fixtures::child_process worker{
      {"/bin/sh", "-c",
       env + " SLUICE_CLUSTER_SECRET= SLUICE_WORKER=192.0.2.1:7077 exec " SLUICE_SAMPLES_DIR
             "/queue_stream --master sluice://127.0.0.1:7077 2>" + log.string()}};
    worker.start();
    int status = fixtures::reap_within(worker.pid(), std::chrono::seconds(20));
    BOOST_TEST((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1));
    return fixtures::text_of(log);
  };
  auto every = attempt("");
  BOOST_TEST(every.find("its peer endpoint would listen on 0.0.0.0, which is not a loopback "
                        "address: that needs a shared secret (set sluice.cluster.secret or "
                        "SLUICE_CLUSTER_SECRET)") != std::string::npos,
             every);
  auto named = attempt("SLUICE_WORKER_HOST=192.0.2.7");
  BOOST_TEST(named.find("its peer endpoint would listen on 192.0.2.7, which is not a loopback "
                        "address") != std::string::npos,
             named);
}
