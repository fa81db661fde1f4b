// Per-batch overhead of the engine under the system clock: many tiny batches
// (queue_stream -> count -> foreach_rdd), reporting scheduling delay and
// processing time from the listener's batch_info.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "sluice/sluice.hpp"

namespace {

class batch_collector : public sluice::streaming_listener {
 public:
  void on_batch_completed(const sluice::batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    infos_.push_back(b);
    cv_.notify_all();
  }
  bool wait_for(size_t n, std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, deadline, [&] { return infos_.size() >= n; });
  }
  std::vector<sluice::batch_info> infos() {
    std::lock_guard<std::mutex> guard{mtx_};
    return infos_;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<sluice::batch_info> infos_; // guarded by mtx_
};

struct stats {
  double mean = 0;
  int64_t p50 = 0;
  int64_t p99 = 0;
  int64_t max = 0;
};

stats summarize(std::vector<int64_t> v) {
  stats s;
  if (v.empty())
    return s;
  std::sort(v.begin(), v.end());
  s.mean = static_cast<double>(std::accumulate(v.begin(), v.end(), int64_t{0}))
           / static_cast<double>(v.size());
  auto at = [&](double q) {
    auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = v.back();
  return s;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice per-batch overhead benchmark (system clock)"};
  int batches = 2000;
  int interval_ms = 10;
  int records = 100;
  std::string master = "local[2]";
  app.add_option("--batches", batches, "batches to run")->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--interval-ms", interval_ms, "batch interval")->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--records", records, "ints per batch")->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_option("--master", master, "local[N]")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    sluice::conf c;
    c.app_name("bench-batch-overhead").master(master);
    sluice::streaming_context ssc{c, sluice::milliseconds(interval_ms)};

    std::vector<std::vector<int>> queue(static_cast<size_t>(batches));
    for (auto& b : queue) {
      b.resize(static_cast<size_t>(records));
      std::iota(b.begin(), b.end(), 0);
    }
    std::mutex mtx;
    int64_t counted = 0; // guarded by mtx
    ssc.queue_stream(std::move(queue), true).count().foreach_rdd(
      [&](const sluice::rdd<int64_t>& r) {
        int64_t n = 0;
        for (auto x : r.collect())
          n += x;
        std::lock_guard<std::mutex> guard{mtx};
        counted += n;
      });
    auto collector = std::make_shared<batch_collector>();
    ssc.add_listener(collector);
    ssc.start();
    auto deadline = std::chrono::milliseconds(int64_t{batches} * interval_ms * 4 + 60'000);
    bool ok = collector->wait_for(static_cast<size_t>(batches), deadline);
    ssc.stop(false);
    ssc.await_termination();
    if (!ok) {
      std::fprintf(stderr, "error: timed out: %zu of %d batches completed\n",
                   collector->infos().size(), batches);
      return 1;
    }

    auto infos = collector->infos();
    infos.resize(static_cast<size_t>(batches));
    std::vector<int64_t> sched, proc, total;
    for (auto& b : infos) {
      sched.push_back(b.scheduling_delay_us());
      proc.push_back(b.processing_delay_us());
      total.push_back(b.total_delay_us());
    }
    auto s = summarize(sched), p = summarize(proc), t = summarize(total);
    {
      std::lock_guard<std::mutex> guard{mtx};
      int64_t expected = int64_t{batches} * records;
      std::printf("records counted=%lld (expected %lld)\n", static_cast<long long>(counted),
                  static_cast<long long>(expected));
      if (counted < expected) {
        std::fprintf(stderr, "error: counted %lld records, expected %lld\n",
                     static_cast<long long>(counted), static_cast<long long>(expected));
        return 1;
      }
    }
    auto row = [](const char* name, const stats& x) {
      std::printf("%-16s mean=%9.1f us  p50=%7lld us  p99=%7lld us  max=%7lld us\n", name,
                  x.mean, static_cast<long long>(x.p50), static_cast<long long>(x.p99),
                  static_cast<long long>(x.max));
    };
    row("scheduling", s);
    row("processing", p);
    row("sched+proc", t);
    std::printf("batches=%d sched_p99_us=%lld proc_p99_us=%lld total_p99_us=%lld "
                "total_mean_us=%.0f\n",
                batches, static_cast<long long>(s.p99), static_cast<long long>(p.p99),
                static_cast<long long>(t.p99), t.mean);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
