#define BOOST_TEST_MODULE runtime/cluster_kill
// Kill tests with real processes (issue 11) on samples/recoverable_file_word_count:
// at local-cluster[2,1], a worker is SIGKILLed at 10 seeded moments mid-run,
// its share moves to the other worker, and the cumulative counts stay exact;
// each round then SIGKILLs the driver: its last worker exits with status 1,
// and the next round's driver recovers from the checkpoint. At
// sluice://HOST:PORT, a worker started later joins the running cluster, and
// (where network namespaces can be made) a worker behind a cut link is lost.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <random>
#include <sstream>
#include <sys/prctl.h>
#include <thread>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/process_tree.hpp"
#include "fixtures/shell.hpp"
#include "fixtures/text_file.hpp"
#include "fixtures/word_files.hpp"

namespace fs = std::filesystem;
using fixtures::child_process;
using fixtures::children_of;
using fixtures::count_of;
using fixtures::eventually;
using fixtures::newest_counts;
using fixtures::temp_dir;
using fixtures::text_of;
using fixtures::word_files;

BOOST_AUTO_TEST_CASE(a_worker_killed_at_ten_seeded_moments_loses_no_count) {
  // Orphaned workers become our children, so their exit status is ours to read.
  BOOST_REQUIRE_EQUAL(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  temp_dir in{"cluster-kill-in"}, cp{"cluster-kill-cp"}, out{"cluster-kill-out"};
  temp_dir etc{"cluster-kill-conf"};
  auto conf_file = etc.path() / "cluster.conf";
  std::ofstream{conf_file} << "sluice.cluster.heartbeatInterval=200ms\n"
                              "sluice.cluster.workerTimeout=2s\n";
  auto log = etc.path() / "driver.log";
  child_process driver{{"/bin/sh", "-c",
                        "SLUICE_CONF_FILE=" + conf_file.string() + " exec " SLUICE_SAMPLES_DIR
                        "/recoverable_file_word_count --master 'local-cluster[2,1]' "
                          + in.str() + " " + cp.str() + " " + out.str() + " 2>>" + log.string()}};
  word_files words{in.path()};
  std::mt19937 rng{20261202};  // the kill moments are random but reproducible
  auto drop_file = [&] { words.drop_random(rng, 4, 5); };
  for (int round = 0; round < 10; ++round) {
    auto before = newest_counts(out.path()).time;
    driver.start();
    // Until its workers run a batch: a new counts file (the first run's
    // stream starts with new files only, as Spark's newFilesOnly).
    BOOST_REQUIRE_MESSAGE(eventually([&] { return newest_counts(out.path()).time > before; },
                                     std::chrono::seconds(60)),
                          "round " << round << ": no batch within 60 s; log:\n"
                                   << text_of(log));
    auto workers = children_of(driver.pid());
    BOOST_REQUIRE_EQUAL(workers.size(), 2u);
    drop_file();
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1500));  // a seeded moment
    pid_t victim = workers[rng() % 2];
    ::kill(victim, SIGKILL);
    drop_file();  // read by the surviving worker's batches
    bool exact = eventually([&] { return newest_counts(out.path()).text == words.counts_text(); },
                            std::chrono::seconds(60));
    BOOST_REQUIRE_MESSAGE(exact, "round " << round << ": newest counts:\n"
                                          << newest_counts(out.path()).text << "expected:\n"
                                          << words.counts_text() << "log:\n"
                                          << text_of(log));
    auto survivors = children_of(driver.pid());
    BOOST_REQUIRE_EQUAL(survivors.size(), 1u);
    BOOST_REQUIRE(driver.kill());
    int status = fixtures::reap_within(survivors[0], std::chrono::seconds(10));
    BOOST_REQUIRE_MESSAGE(status != -1, "the last worker still runs 10 s after the driver died");
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
  }
  BOOST_TEST(words.files == 20);
  // Every kill was survived by placing the graph again (not by the driver
  // restarting): one such log line per round.
  std::istringstream lines{text_of(log)};
  int replaced = 0;
  for (std::string line; std::getline(lines, line);)
    if (line.find("cluster: placed again on 1 worker(s)") != std::string::npos) {
      ++replaced;
      BOOST_TEST_MESSAGE(line);
    }
  BOOST_TEST(replaced == 10);
}

namespace {

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// samples/recoverable_file_word_count as a cluster started by hand at
/// sluice://: its directories, a conf file (2 workers, 200 ms heartbeats,
/// a 2 s worker timeout), one log for all its processes, the files dropped.
struct standalone_cluster {
  temp_dir in, cp, out, etc;
  fs::path conf_file = etc.path() / "cluster.conf";
  fs::path log = etc.path() / "cluster.log";
  word_files words{in.path()};

  explicit standalone_cluster(const std::string& tag)
    : in{tag + "-in"}, cp{tag + "-cp"}, out{tag + "-out"}, etc{tag + "-conf"} {
    std::ofstream{conf_file} << "sluice.cluster.workers=2\n"
                                "sluice.cluster.heartbeatInterval=200ms\n"
                                "sluice.cluster.workerTimeout=2s\n";
  }

  /// The sample with its driver at `master` (sluice://HOST:PORT), run by
  /// `launcher` (e.g. ip netns exec NS) with `env` (e.g. SLUICE_WORKER=...).
  child_process program(const std::string& master, const std::string& env,
                        std::vector<std::string> launcher = {}) const {
    launcher.insert(launcher.end(),
                    {"/bin/sh", "-c",
                     env + " SLUICE_CONF_FILE=" + conf_file.string() + " exec "
                       SLUICE_SAMPLES_DIR "/recoverable_file_word_count --master " + master + " "
                       + in.str() + " " + cp.str() + " " + out.str() + " 2>>" + log.string()});
    return child_process{std::move(launcher)};
  }

  /// True once a first batch wrote its counts (within 60 s).
  bool first_batch() const {
    return eventually([&] { return newest_counts(out.path()).time >= 0; },
                      std::chrono::seconds(60));
  }

  /// True once the newest counts file holds exactly the counts of every
  /// file dropped (within 60 s).
  bool counted() const {
    return eventually([&] { return newest_counts(out.path()).text == words.counts_text(); },
                      std::chrono::seconds(60));
  }

  /// What the cluster logged so far, with the newest counts.
  std::string report() const {
    return "newest counts:\n" + newest_counts(out.path()).text + "log:\n" + text_of(log);
  }
};

} // namespace

// sluice://HOST:PORT with workers started by hand: a worker started after
// one was lost joins the running cluster and gets a share of the slots
// (slot i on worker i mod 2), then carries everything when the last
// original worker is killed too.
BOOST_AUTO_TEST_CASE(a_worker_started_later_joins_the_running_cluster_and_gets_work) {
  standalone_cluster cluster{"cluster-join"};
  auto address = "127.0.0.1:" + std::to_string(free_port());
  auto driver = cluster.program("sluice://" + address, "");
  auto worker = [&] { return cluster.program("sluice://" + address, "SLUICE_WORKER=" + address); };
  auto a = worker(), b = worker(), c = worker();
  auto& log = cluster.log;
  auto drop_file = [&](const std::string& text) { cluster.words.drop(text); };
  auto exact = [&] { return cluster.counted(); };
  auto logged = [&](const std::string& line, size_t times) {
    return eventually([&] { return count_of(text_of(log), line) >= times; },
                      std::chrono::seconds(60));
  };
  driver.start();
  a.start();
  b.start();
  BOOST_REQUIRE_MESSAGE(cluster.first_batch(), "no batch within 60 s; " << cluster.report());
  drop_file("red green red");
  BOOST_REQUIRE_MESSAGE(exact(), "log:\n" << text_of(log));
  BOOST_REQUIRE(a.kill());
  BOOST_REQUIRE_MESSAGE(logged("cluster: placed again on 1 worker(s)", 1), text_of(log));
  drop_file("blue red");
  BOOST_REQUIRE_MESSAGE(exact(), "log:\n" << text_of(log));
  c.start();
  BOOST_REQUIRE_MESSAGE(logged("joined the running cluster; placing the operators on 2 workers",
                               1),
                        text_of(log));
  BOOST_REQUIRE_MESSAGE(logged("cluster: placed again on 2 worker(s)", 1), text_of(log));
  drop_file("green blue blue");  // counted by slots on b and c
  BOOST_REQUIRE_MESSAGE(exact(), "log:\n" << text_of(log));
  BOOST_REQUIRE(b.kill());
  BOOST_REQUIRE_MESSAGE(logged("cluster: placed again on 1 worker(s)", 2), text_of(log));
  drop_file("red");
  BOOST_TEST(exact(), cluster.report());
  BOOST_TEST(driver.kill());
  int status = fixtures::reap_within(c.pid(), std::chrono::seconds(10));
  BOOST_TEST(status != -1);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 1));
}

namespace {

/// Three network namespaces: the driver's (D) linked to two workers' (A, B)
/// by veth pairs, 10.213.1.0/24 to A and 10.213.2.0/24 to B. Removed with
/// the object. `ok` is false (with `why`) where namespaces cannot be made.
struct three_namespaces {
  std::string tag = std::to_string(::getpid());
  std::string d = "sl" + tag + "d", a = "sl" + tag + "a", b = "sl" + tag + "b";
  std::string link_a = "v" + tag + "da", link_b = "v" + tag + "db";
  bool ok = false;
  std::string why;
  three_namespaces() {
    auto [status, out] = fixtures::shell(
      "set -e; for n in " + d + " " + a + " " + b + "; do ip netns add $n; "
      "ip -n $n link set lo up; done; "
      "ip link add " + link_a + " type veth peer name " + link_a + "w; "
      "ip link add " + link_b + " type veth peer name " + link_b + "w; "
      "ip link set " + link_a + " netns " + d + "; ip link set " + link_a + "w netns " + a + "; "
      "ip link set " + link_b + " netns " + d + "; ip link set " + link_b + "w netns " + b + "; "
      "ip -n " + d + " addr add 10.213.1.1/24 dev " + link_a + "; "
      "ip -n " + a + " addr add 10.213.1.2/24 dev " + link_a + "w; "
      "ip -n " + d + " addr add 10.213.2.1/24 dev " + link_b + "; "
      "ip -n " + b + " addr add 10.213.2.2/24 dev " + link_b + "w; "
      "ip -n " + d + " link set " + link_a + " up; ip -n " + a + " link set " + link_a + "w up; "
      "ip -n " + d + " link set " + link_b + " up; ip -n " + b + " link set " + link_b + "w up",
      fixtures::with_stderr::yes);
    ok = status == 0;
    why = out;
  }
  ~three_namespaces() {
    fixtures::shell("ip netns del " + d + "; ip netns del " + a + "; ip netns del " + b,
                    fixtures::with_stderr::yes);
  }
};

} // namespace

// Issue 11: where the machine allows network namespaces (root and `ip
// netns`), the driver and two workers run in three namespaces linked by
// veth pairs; cutting one worker's link mid-run (ip link set down) makes it
// silent: it is declared lost after the timeout, its share moves to the
// other worker, the counts stay exact, and it exits with status 1 itself
// when its driver stops answering.
BOOST_AUTO_TEST_CASE(a_worker_behind_a_cut_link_is_lost_and_its_share_moves) {
  three_namespaces net;
  if (!net.ok) {
    BOOST_TEST_MESSAGE("skipped: network namespaces are not available here (needs root and "
                       "`ip netns`): " << net.why);
    return;
  }
  standalone_cluster cluster{"cluster-netns"};
  auto& log = cluster.log;
  // Beyond loopback the driver needs a shared secret.
  auto program = [&](const std::string& ns, const std::string& env) {
    return cluster.program("sluice://0.0.0.0:7077", env + " SLUICE_CLUSTER_SECRET=netns-test",
                           {"/bin/ip", "netns", "exec", ns});
  };
  auto driver = program(net.d, "");
  auto a = program(net.a, "SLUICE_WORKER=10.213.1.1:7077");
  auto b = program(net.b, "SLUICE_WORKER=10.213.2.1:7077");
  auto drop_file = [&](const std::string& text) { cluster.words.drop(text); };
  auto exact = [&] { return cluster.counted(); };
  driver.start();
  a.start();
  b.start();
  BOOST_REQUIRE_MESSAGE(cluster.first_batch(), "no batch within 60 s; " << cluster.report());
  drop_file("north south north");
  BOOST_REQUIRE_MESSAGE(exact(), "log:\n" << text_of(log));
  auto [status, cut] = fixtures::shell("ip -n " + net.d + " link set " + net.link_a + " down",
                                       fixtures::with_stderr::yes);
  BOOST_REQUIRE_MESSAGE(status == 0, cut);
  drop_file("east north");
  BOOST_TEST(exact(), cluster.report());
  auto lines = text_of(log);
  BOOST_TEST(lines.find("lost: no heartbeat answer within 2000 ms") != std::string::npos, lines);
  BOOST_TEST(count_of(lines, "cluster: placed again on 1 worker(s)") == 1u, lines);
  // The cut-off worker stops hearing its driver and ends itself.
  int a_status = fixtures::reap_within(a.pid(), std::chrono::seconds(20));
  BOOST_TEST(a_status != -1);
  BOOST_TEST((WIFEXITED(a_status) && WEXITSTATUS(a_status) == 1));
  BOOST_TEST(driver.kill());
  int b_status = fixtures::reap_within(b.pid(), std::chrono::seconds(20));
  BOOST_TEST((b_status != -1 && WIFEXITED(b_status) && WEXITSTATUS(b_status) == 1));
}
