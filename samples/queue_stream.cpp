// Spark's QueueStream example: push an rdd of 1..1000 into the queue once a
// second, count (x % 10) per batch and print it. Runs ~30 s (--seconds cuts
// it short).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "sluice/sluice.hpp"

int main(int argc, char** argv) {
  CLI::App app{"sluice QueueStream example"};
  int seconds = 30;
  std::string master = "local[2]";
  app.add_option("--seconds", seconds, "how many rdds to push, one a second (max 30)")
    ->capture_default_str()
    ->check(CLI::Range(0, 30));
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    sluice::conf c;
    c.app_name("QueueStream").master(master);
    sluice::streaming_context ssc{c, sluice::seconds(1)};

    // Create the queue through which rdds are pushed into the queue stream.
    sluice::rdd_queue<int> queue;
    ssc.queue_stream(queue)
      .map([](int x) { return std::pair<int, int>{x % 10, 1}; })
      .reduce_by_key(std::plus<int>{})
      .print();
    ssc.start();

    std::vector<int> one_to_thousand(1000);
    std::iota(one_to_thousand.begin(), one_to_thousand.end(), 1);
    auto next = std::chrono::steady_clock::now();
    for (int i = 0; i < seconds; ++i) {
      queue.push(ssc.make_rdd(one_to_thousand, 10));
      next += std::chrono::seconds(1);
      std::this_thread::sleep_until(next);
    }
    ssc.stop();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
