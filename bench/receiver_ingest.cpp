// Receiver ingest rate: a custom receiver stores 100-byte records as fast as
// it can from one thread (store(T) one at a time, or store(std::vector<T>)
// blocks), under the system clock; each batch is counted in a foreach_rdd.
// Runs with the receiver write-ahead log off, then on.
//
// records/s comes from the listener: after a warm-up, the sum of
// batch_info.num_records of the batches completed in the measurement window
// over its length. The window's ends are snapped to batch completions (the
// first completion after the warm-up, the last before the deadline) so that
// it holds whole batches only.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "sluice/sluice.hpp"
#include "bench_util.hpp"

namespace {

namespace fs = std::filesystem;
using bench::temp_dir;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Stores copies of one pre-built 100-byte record from a thread of its own
/// until stopped: one store(T) per record, or store(vector) of `batch`.
class ingest_receiver : public sluice::receiver<std::string> {
 public:
  ingest_receiver(bool batched, size_t batch) : batched_(batched), batch_(batch) {}
  ingest_receiver(const ingest_receiver& o)
      : sluice::receiver<std::string>(o), batched_(o.batched_), batch_(o.batch_) {}

  void on_start() override {
    if (thread_.joinable())
      thread_.join();
    thread_ = std::thread{[this] { produce(); }};
  }

  void on_stop() override {
    if (thread_.joinable())
      thread_.join();
  }

 private:
  void produce() {
    const std::string record(100, 'x');
    try {
      if (batched_) {
        while (!is_stopped()) {
          std::vector<std::string> block(batch_, record);
          store(std::move(block));
        }
      } else {
        while (!is_stopped())
          store(std::string{record});
      }
    } catch (const std::exception& e) {
      if (!is_stopped())
        report_error(std::string{"ingest: "} + e.what());
    }
  }

  bool batched_;
  size_t batch_;
  std::thread thread_;
};

/// Batch completions (completion time, records), from the listener bus.
class completions : public sluice::streaming_listener {
 public:
  void on_batch_completed(const sluice::batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    done_.push_back({b.processing_end_us, b.num_records});
  }
  std::vector<std::pair<int64_t, int64_t>> snapshot() {
    std::lock_guard<std::mutex> guard{mtx_};
    return done_;
  }

 private:
  std::mutex mtx_;
  std::vector<std::pair<int64_t, int64_t>> done_; ///< guarded by mtx_
};

struct options {
  std::string mode = "batch";
  std::string master = "local[2]";
  int seconds = 5;
  int warmup_ms = 1000;
  int batch_interval_ms = 500;
  int block_interval_ms = 200;
  size_t batch_records = 10000;
  bool show_batches = false;
};

struct result {
  double records_per_s = 0;
  int64_t records = 0;
  size_t batches = 0;
  double window_s = 0;
  int64_t counted = 0; ///< records counted by foreach_rdd over the whole run
  int64_t reported = 0; ///< num_records of all completed batches
};

result run(const options& o, const std::string& mode, bool wal) {
  sluice::conf c;
  c.app_name("bench-receiver-ingest").master(o.master);
  c.set("sluice.streaming.blockInterval", std::to_string(o.block_interval_ms) + "ms");
  std::optional<temp_dir> dir;
  if (wal) {
    dir.emplace("sluice-receiver-ingest");
    c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  }
  sluice::streaming_context ssc{c, sluice::milliseconds(o.batch_interval_ms)};
  if (dir)
    ssc.checkpoint(dir->str());
  auto counted = std::make_shared<std::atomic<int64_t>>(0);
  ssc.receiver_stream(ingest_receiver{mode == "batch", o.batch_records})
    .foreach_rdd([counted](const sluice::rdd<std::string>& r) {
      *counted += static_cast<int64_t>(r.count());
    });
  auto listener = std::make_shared<completions>();
  ssc.add_listener(listener);
  ssc.start();
  int64_t t_start = now_us();
  int64_t t0 = t_start + int64_t{o.warmup_ms} * 1000;
  int64_t t1 = t0 + int64_t{o.seconds} * 1'000'000;
  std::this_thread::sleep_for(std::chrono::microseconds(t1 - now_us()));
  auto done = listener->snapshot();
  ssc.stop(false);
  ssc.await_termination();
  if (o.show_batches)
    std::printf("  stopped in %.3f s\n", static_cast<double>(now_us() - t1) / 1e6);

  result r;
  r.counted = counted->load();
  for (auto& [end, n] : done)
    r.reported += n;
  // Whole batches between the first completion after t0 and the last before t1.
  std::vector<std::pair<int64_t, int64_t>> in;
  for (auto& d : done)
    if (d.first >= t0 && d.first <= t1)
      in.push_back(d);
  std::sort(in.begin(), in.end());
  if (o.show_batches)
    for (auto& [end, n] : done)
      std::printf("  batch completed at +%.3f s: %ld records%s\n",
                  static_cast<double>(end - t_start) / 1e6, static_cast<long>(n),
                  end >= t0 && end <= t1 ? "" : " (outside the window)");
  if (in.size() < 2)
    throw std::runtime_error("fewer than two batches completed in the measurement window");
  for (size_t i = 1; i < in.size(); ++i)
    r.records += in[i].second;
  r.batches = in.size() - 1;
  r.window_s = static_cast<double>(in.back().first - in.front().first) / 1e6;
  r.records_per_s = static_cast<double>(r.records) / r.window_s;
  return r;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice receiver ingest: 100-byte records from one thread, WAL off then on"};
  options o;
  app.add_option("--mode", o.mode, "single: store(T) per record; batch: store(vector<T>) blocks")
    ->capture_default_str()
    ->check(CLI::IsMember({"single", "batch"}));
  app.add_option("--seconds", o.seconds, "measurement window after the warm-up")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--warmup-ms", o.warmup_ms, "warm-up before the window")
    ->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_option("--master", o.master, "local[N]")->capture_default_str();
  app.add_option("--batch-interval-ms", o.batch_interval_ms, "batch interval (system clock)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--block-interval-ms", o.block_interval_ms,
                 "sluice.streaming.blockInterval: block size for store(T)")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  app.add_option("--batch-records", o.batch_records,
                 "records per store(vector): one block, one fsync with the WAL on")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  std::string wal = "both";
  app.add_option("--wal", wal, "off, on or both")
    ->capture_default_str()
    ->check(CLI::IsMember({"off", "on", "both"}));
  app.add_flag("--show-batches", o.show_batches, "print every completed batch");
  int runs = 3;
  app.add_option("--runs", runs, "runs of each WAL setting; min/median/max printed")
    ->capture_default_str()
    ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  try {
    double off = -1, on = -1;
    for (bool w : {false, true}) {
      if ((w && wal == "off") || (!w && wal == "on"))
        continue;
      std::vector<double> rates;
      for (int k = 1; k <= runs; ++k) {
        result r = run(o, o.mode, w);
        std::printf("run %d: wal=%s records_per_s=%.0f (mode=%s records=%ld batches=%zu "
                    "window_s=%.3f block=%s counted=%ld reported=%ld)\n",
                    k, w ? "on" : "off", r.records_per_s, o.mode.c_str(),
                    static_cast<long>(r.records), r.batches, r.window_s,
                    o.mode == "batch" ? (std::to_string(o.batch_records) + "records").c_str()
                                      : (std::to_string(o.block_interval_ms) + "ms").c_str(),
                    static_cast<long>(r.counted), static_cast<long>(r.reported));
        if (r.counted < r.reported) {
          std::fprintf(stderr, "error: foreach_rdd counted %ld records, the batches report %ld\n",
                       static_cast<long>(r.counted), static_cast<long>(r.reported));
          return 1;
        }
        rates.push_back(r.records_per_s);
      }
      auto s = bench::spread(rates);
      std::printf("wal=%s records_per_s over %d runs: min=%.0f median=%.0f max=%.0f (goal >= %s)\n",
                  w ? "on" : "off", runs, s.min, s.median, s.max, w ? "2 M" : "5 M");
      (w ? on : off) = s.median;
    }
    std::printf("records_per_s_wal_off=%.0f records_per_s_wal_on=%.0f (medians)\n", off, on);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
