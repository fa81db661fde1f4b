#define BOOST_TEST_MODULE runtime/cluster_kill
// Kill tests with real processes (issue 11): samples/recoverable_file_word_count
// runs at local-cluster[2,1]; at 10 seeded moments a worker is SIGKILLed
// mid-run, its share moves to the other worker, and the cumulative counts
// stay exact. Each round then SIGKILLs the driver: its last worker exits with
// status 1, and the next round's driver recovers from the checkpoint.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <sys/prctl.h>
#include <thread>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/process_tree.hpp"

namespace fs = std::filesystem;
using fixtures::child_process;
using fixtures::children_of;
using fixtures::eventually;
using fixtures::temp_dir;

namespace {

/// The newest counts file's batch time and content; -1 and "" for none.
std::pair<int64_t, std::string> newest_counts(const fs::path& dir) {
  int64_t best = -1;
  fs::path file;
  for (auto& e : fs::directory_iterator{dir}) {
    auto name = e.path().filename().string();
    if (name.rfind("counts-", 0) != 0)
      continue;
    auto t = std::stoll(name.substr(7));
    if (t > best) {
      best = t;
      file = e.path();
    }
  }
  if (best < 0)
    return {-1, {}};
  std::ifstream in{file};
  return {best, std::string{std::istreambuf_iterator<char>{in}, {}}};
}

std::string text_of(const fs::path& file) {
  std::ifstream in{file};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

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
  std::map<std::string, int64_t> expected;
  std::mt19937 rng{20261202};  // the kill moments are random but reproducible
  std::vector<std::string> vocabulary{"alpha", "beta", "gamma", "delta", "epsilon"};
  int files = 0;
  auto drop_file = [&] {
    std::ostringstream text;
    for (int l = 0; l < 4; ++l) {
      for (int w = 0; w < 5; ++w) {
        auto& word = vocabulary[rng() % vocabulary.size()];
        ++expected[word];
        text << word << ' ';
      }
      text << '\n';
    }
    auto name = "part-" + std::to_string(files++) + ".txt";
    std::ofstream{in.path() / ("." + name)} << text.str();
    fs::rename(in.path() / ("." + name), in.path() / name);
  };
  auto want = [&] {
    std::string s;
    for (auto& [w, n] : expected)
      s += w + " " + std::to_string(n) + "\n";
    return s;
  };
  for (int round = 0; round < 10; ++round) {
    auto before = newest_counts(out.path()).first;
    driver.start();
    // Until its workers run a batch: a new counts file (the first run's
    // stream starts with new files only, as Spark's newFilesOnly).
    BOOST_REQUIRE_MESSAGE(eventually([&] { return newest_counts(out.path()).first > before; },
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
    bool exact = eventually([&] { return newest_counts(out.path()).second == want(); },
                            std::chrono::seconds(60));
    BOOST_REQUIRE_MESSAGE(exact, "round " << round << ": newest counts:\n"
                                          << newest_counts(out.path()).second << "expected:\n"
                                          << want() << "log:\n"
                                          << text_of(log));
    auto survivors = children_of(driver.pid());
    BOOST_REQUIRE_EQUAL(survivors.size(), 1u);
    BOOST_REQUIRE(driver.kill());
    int status = fixtures::reap_within(survivors[0], std::chrono::seconds(10));
    BOOST_REQUIRE_MESSAGE(status != -1, "the last worker still runs 10 s after the driver died");
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
  }
  BOOST_TEST(files == 20);
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
