// Streaming word count over generated text: a generator thread pushes
// pseudo-random sentences into a queue_stream; every 1 s batch prints its
// top words (Spark's print layout). Runs until Ctrl-C or --seconds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "sluice/sluice.hpp"

namespace {

volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_sigint(int) { interrupted = 1; }

constexpr const char* vocabulary[] = {
  "the",    "stream", "batch",  "actor",   "spark",  "window", "river",  "sluice", "data",
  "flow",   "record", "time",   "key",     "value",  "count",  "word",   "event",  "queue",
  "state",  "join",   "map",    "reduce",  "filter", "output", "input",  "node",   "graph",
  "clock",  "second", "fast",   "slow",    "small",  "large",  "water",  "gate",   "channel",
  "source", "sink",   "lake",   "rain",    "cloud",  "storm",  "light",  "night",  "day",
  "green",  "blue",   "stone",  "bridge",  "boat",
};
constexpr size_t vocabulary_size = std::size(vocabulary);

/// Deterministic sentences of 4..12 words; low word indexes are more likely,
/// so a few words dominate every batch.
class sentence_generator {
 public:
  std::string next() {
    std::string line;
    int n = 4 + static_cast<int>(draw() % 9);
    for (int i = 0; i < n; ++i) {
      double u = static_cast<double>(draw() % 1'000'000) / 1'000'000.0;
      auto idx = static_cast<size_t>(u * u * static_cast<double>(vocabulary_size));
      if (i > 0)
        line += ' ';
      line += vocabulary[std::min(idx, vocabulary_size - 1)];
    }
    return line;
  }

 private:
  uint64_t draw() { // splitmix64: the same sequence on every platform
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_ = 42;
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t e = line.find(' ', i);
    if (e == std::string::npos)
      e = line.size();
    if (e > i)
      out.emplace_back(line, i, e - i);
    i = e + 1;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice word-count demo: top words of generated text, one batch a second"};
  int seconds = 0;
  std::string master = "local[2]";
  int rate = 2000;
  app.add_option("--seconds", seconds, "run time in seconds (0: until Ctrl-C)")
    ->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("--rate", rate, "generated lines per second")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, on_sigint);
  try {
    sluice::conf c;
    c.app_name("word_count_demo").master(master);
    sluice::streaming_context ssc{c, sluice::seconds(1)};

    using word_count = std::pair<std::string, long>;
    sluice::rdd_queue<std::string> queue;
    ssc.queue_stream(queue, false) // each batch takes all queued lines
      .flat_map([](const std::string& l) { return split(l); })
      .map([](std::string w) { return word_count{std::move(w), 1}; })
      .reduce_by_key(std::plus<long>{})
      .transform([](const sluice::rdd<word_count>& r) {
        auto v = r.collect();
        std::sort(v.begin(), v.end(), [](const word_count& a, const word_count& b) {
          return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        return sluice::rdd<word_count>{{std::move(v)}};
      })
      .print(10);

    // The generator pushes a slice of lines every 100 ms.
    std::atomic<bool> done{false};
    std::thread generator{[&] {
      sentence_generator gen;
      constexpr int ticks_per_second = 10;
      auto next = std::chrono::steady_clock::now();
      for (long tick = 0; !done; ++tick) {
        long first = tick * rate / ticks_per_second;
        long last = (tick + 1) * rate / ticks_per_second;
        std::vector<std::string> slice;
        slice.reserve(static_cast<size_t>(last - first));
        for (long i = first; i < last; ++i)
          slice.push_back(gen.next());
        queue.push(std::move(slice));
        next += std::chrono::milliseconds(1000 / ticks_per_second);
        std::this_thread::sleep_until(next);
      }
    }};

    ssc.start();
    auto started = std::chrono::steady_clock::now();
    bool stopped = false;
    while (!stopped) {
      stopped = ssc.await_termination_or_timeout(sluice::milliseconds(100));
      bool timed_out = seconds > 0
                       && std::chrono::steady_clock::now() - started
                            >= std::chrono::seconds(seconds);
      if (!stopped && (interrupted || timed_out)) {
        if (interrupted)
          std::cerr << "interrupted: stopping gracefully\n";
        ssc.stop(true);
        stopped = true;
      }
    }
    done = true;
    generator.join();
    ssc.await_termination();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
