// Word count at local-cluster[W,C] against local[N] in the same run: the
// corpus cut into batches (queue_stream under the manual clock) ->
// flat_map -> map -> reduce_by_key -> foreach_rdd. Prints both rates, their
// ratio per round (min/median/max), and the bytes sent over loopback while
// the cluster ran (/proc/net/dev: the source partitions to the workers, the
// shuffle buckets between them and the results back; the machine's other
// loopback traffic counts too, so it is an upper bound).
//
// The workers re-run this program up to their context, so a round's cluster
// run comes first: its workers replay the rounds before as local runs (not
// timed: the clock starts after start()).
//
// --warmup rounds (1 by default) run first and are printed but not counted:
// the first cluster run of a process also pays for growing the driver's
// heap, which the local run after it then finds grown.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_util.hpp"
#include "sluice/sluice.hpp"

namespace {

using bench::clock_type;
using bench::completion_waiter;
using bench::seconds_since;
using bench::words;

/// Bytes sent over the loopback interface so far (all processes).
long long loopback_bytes() {
  std::ifstream in{"/proc/net/dev"};
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos || line.substr(0, colon).find("lo") == std::string::npos
        || line.substr(0, colon).find_first_not_of(" lo") != std::string::npos)
      continue;
    std::istringstream fields{line.substr(colon + 1)};
    long long v = 0;
    for (int i = 0; i < 9; ++i)  // receive: 8 fields, then transmit bytes
      fields >> v;
    return v;
  }
  return 0;
}

struct result {
  long words = 0;
  size_t distinct = 0;
  double seconds = 0;
  long long loopback = 0;  ///< bytes sent over loopback during the timed part
};

result run(const std::vector<std::string>& lines, const std::string& master, int batches,
           int jobs) {
  sluice::conf c;
  c.app_name("bench-cluster-word-count").master(master);
  c.set("sluice.streaming.clock", "manual").set("sluice.ui.enabled", "false");
  c.set("sluice.streaming.concurrentJobs", std::to_string(jobs));
  sluice::streaming_context ssc{c, sluice::seconds(1)};
  std::vector<std::vector<std::string>> input(static_cast<size_t>(batches));
  for (size_t b = 0; b < input.size(); ++b)
    input[b].assign(lines.begin() + static_cast<ptrdiff_t>(b * lines.size() / input.size()),
                    lines.begin() + static_cast<ptrdiff_t>((b + 1) * lines.size() / input.size()));
  std::mutex mtx;
  std::unordered_map<std::string, long> totals;
  long total = 0;
  ssc.queue_stream(std::move(input), true)
    .flat_map([](std::string l) { return words{std::move(l)}; })
    .map([](std::string&& w) { return std::pair<std::string, long>{std::move(w), 1}; })
    .reduce_by_key(std::plus<long>{})
    .foreach_rdd([&](const sluice::rdd<std::pair<std::string, long>>& r) {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& p : r.partitions())
        for (auto& [w, n] : p) {
          totals[w] += n;
          total += n;
        }
    });
  auto waiter = std::make_shared<completion_waiter>();
  ssc.add_listener(waiter);
  ssc.start();
  long long before = loopback_bytes();
  auto t0 = clock_type::now();
  bench::run_in_flight(ssc, *waiter, batches, jobs, sluice::seconds(1));
  result out;
  out.seconds = seconds_since(t0);
  out.loopback = loopback_bytes() - before;
  ssc.stop(false);
  ssc.await_termination();
  out.words = total;
  out.distinct = totals.size();
  return out;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice word count: local-cluster[W,C] against local[N] in the same run"};
  std::string input;
  std::string cluster = "local-cluster[2,1]";
  std::string local = "local[2]";
  int batches = 10;
  int rounds = 3;
  int warmup = 1;
  // As bench/word_count: two batches in flight, so one batch's output (on
  // the driver) overlaps the next one's work on the workers.
  int jobs = 2;
  app.add_option("--input", input, "text file to count")->required();
  app.add_option("--cluster", cluster, "the cluster master")->capture_default_str();
  app.add_option("--local", local, "the one-process master")->capture_default_str();
  app.add_option("--batches", batches, "batches the file is cut into")->capture_default_str();
  app.add_option("--rounds", rounds, "rounds of (cluster, local)")->capture_default_str();
  app.add_option("--warmup", warmup, "rounds before those, printed but not counted")
    ->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_option("--concurrent-jobs", jobs, "batches in flight (sluice.streaming.concurrentJobs)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  auto read = bench::read_lines(input);
  if (!read) {
    std::cerr << "error: cannot open " << input << '\n';
    return 1;
  }
  std::vector<std::string> lines = std::move(*read);
  try {
    std::vector<double> ratios;
    for (int r = 1 - warmup; r <= rounds; ++r) {
      auto c = run(lines, cluster, batches, jobs);
      auto l = run(lines, local, batches, jobs);
      if (c.words != l.words || c.distinct != l.distinct) {
        std::fprintf(stderr, "error: %s counted words=%ld distinct=%zu, %s words=%ld "
                     "distinct=%zu\n", cluster.c_str(), c.words, c.distinct, local.c_str(),
                     l.words, l.distinct);
        return 1;
      }
      bool counted = r >= 1;
      std::printf("%s %d: %s %.0f words/s (%.3f s), %s %.0f words/s (%.3f s), ratio %.2f; "
                  "sent over loopback meanwhile: %.1f MiB (local: %.1f MiB)\n",
                  counted ? "round" : "warm-up round", counted ? r : r + warmup,
                  cluster.c_str(), c.words / c.seconds, c.seconds, local.c_str(),
                  l.words / l.seconds, l.seconds, l.seconds / c.seconds,
                  static_cast<double>(c.loopback) / (1 << 20),
                  static_cast<double>(l.loopback) / (1 << 20));
      if (counted)
        ratios.push_back(l.seconds / c.seconds);
      std::fflush(stdout);
    }
    auto s = bench::spread(ratios);
    std::printf("cluster/local rate ratio over %d rounds: min=%.2f median=%.2f max=%.2f "
                "(goal >= 0.7)\n", rounds, s.min, s.median, s.max);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
