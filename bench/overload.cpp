// Overload: a TCP producer offers lines at a fixed rate (125 k lines/s by
// default) to socket_text_stream, into a pipeline whose processing is
// limited to about a tenth of that (12.5 k records/s) by CPU work per
// record: a calibrated busy loop (no sleep) in a `map`, which runs on the
// engine's worker threads (local[n]: n threads, so each record costs n /
// capacity seconds of CPU). Runs with backpressure off, then on (without
// initialRate or maxRate), each mode in a child process of its own so that
// its peak RSS is its own.
//
// Figures per mode:
// - delay_<T>s_ms: how late batches started, as a monitor would have seen
//   it T seconds after start(): the larger of (start - batch time) of the
//   last batch started by T and the age at T of the next batch time (the
//   batch that should have started and has not). Measured from the batch
//   time, not from batch_info.submission_us: a batch is generated when the
//   job scheduler gets to its tick, which is late when the worker threads
//   are busy, and that lateness is delay too;
// - rss_mb: the child's peak resident set (VmHWM) over the measured run;
// - lost: lines the producer wrote minus records counted by the pipeline.
//   After the measured run the per-record cost is switched off and the
//   producer stops; the bench waits (up to --drain-seconds) until every
//   written line is counted, so lost is exact, not an estimate.
//
// --rounds runs (3 by default) alternate the modes, each run a child; then
// each mode's delay at the end, peak RSS and lost lines as min/median/max.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "child.hpp"
#include "spread.hpp"

#include "sluice/sluice.hpp"

namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// CPU work that the compiler cannot drop: `n` rounds of a 64-bit LCG.
uint64_t spin(uint64_t n, uint64_t x) {
  for (uint64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(x));
  }
  return x;
}

/// Rounds of `spin` per microsecond of this thread's CPU time (best of 5,
/// so that a loaded machine does not make the work look cheaper).
double spin_rounds_per_us() {
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    constexpr uint64_t n = 1 << 23;
    auto t0 = thread_cpu_ns();
    spin(n, static_cast<uint64_t>(i));
    auto t1 = thread_cpu_ns();
    best = std::max(best, static_cast<double>(n) * 1000.0 / static_cast<double>(t1 - t0));
  }
  return best;
}

/// kB from a "Name:   1234 kB" line of /proc/self/status.
int64_t proc_status_kb(const char* name) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  auto len = std::strlen(name);
  while (std::getline(in, line))
    if (line.compare(0, len, name) == 0)
      return std::stoll(line.substr(len + 1));
  return -1;
}

struct options {
  int seconds = 60;
  int batch_ms = 1000;
  int block_ms = 200;
  int64_t rate = 125'000;
  int64_t capacity = 12'500;
  int drain_seconds = 300;
  int rounds = 3;
  std::string mode = "both";
  std::string master = "local[2]";
  bool show_batches = false;
};

/// Listens on 127.0.0.1 (ephemeral port), accepts one connection and writes
/// numbered lines at `rate` lines/s, in 1 ms steps. When the reader is slow
/// the writes block (TCP flow control) and the producer falls behind its
/// schedule; it catches up at most 10 ms of lines per write, as a shipper
/// with a small buffer would. `sent` counts lines of completely written
/// chunks only, so a stop never leaves half a line on the wire.
class producer {
 public:
  explicit producer(int64_t rate) : rate_(rate) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
        || ::listen(listen_fd_, 1) != 0)
      throw std::runtime_error(std::string{"producer: cannot listen: "} + std::strerror(errno));
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread{[this] { run(); }};
  }
  ~producer() {
    stop();
    if (listen_fd_ >= 0)
      ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  int64_t sent() const { return sent_; }

  /// Finishes the chunk being written, closes the connection, joins.
  void stop() {
    stopping_ = true;
    if (thread_.joinable())
      thread_.join();
  }

 private:
  void run() {
    pollfd p{listen_fd_, POLLIN, 0};
    while (!stopping_ && ::poll(&p, 1, 100) == 0) {
    }
    if (stopping_)
      return;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0)
      return;
    auto t0 = std::chrono::steady_clock::now();
    int64_t seq = 0;
    std::string chunk;
    char line[64];
    while (!stopping_) {
      auto elapsed = std::chrono::steady_clock::now() - t0;
      auto due = rate_ * std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
                 / 1'000'000;
      auto n = std::min<int64_t>(due - seq, std::max<int64_t>(rate_ / 100, 1));
      if (n <= 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      chunk.clear();
      for (int64_t i = 0; i < n; ++i) {
        int k = std::snprintf(line, sizeof(line), "record %012lld payload-payload\n",
                              static_cast<long long>(seq + i));
        chunk.append(line, static_cast<size_t>(k));
      }
      if (!write_all(fd, chunk))
        break;
      seq += n;
      sent_ = seq;
    }
    ::close(fd);
  }

  /// Blocks until the whole chunk is written (or the reader is gone).
  static bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      auto w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return false;
      }
      off += static_cast<size_t>(w);
    }
    return true;
  }

  int64_t rate_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> sent_{0};
};

/// Batch starts and sizes, from the listener bus.
class batches : public sluice::streaming_listener {
 public:
  struct entry {
    int64_t time_ms = 0;
    int64_t started_us = 0;
    int64_t records = -1;  ///< -1: not completed yet
  };
  void on_batch_started(const sluice::batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    entries_.push_back({b.time.ms, b.processing_start_us, -1});
  }
  void on_batch_completed(const sluice::batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& e : entries_)
      if (e.time_ms == b.time.ms)
        e.records = b.num_records;
  }
  std::vector<entry> snapshot() {
    std::lock_guard<std::mutex> guard{mtx_};
    return entries_;
  }

 private:
  std::mutex mtx_;
  std::vector<entry> entries_;  ///< guarded by mtx_, in start order
};

/// How late batches were at wall time `at_us` (see the header). Batches
/// start in batch-time order (concurrentJobs = 1).
int64_t delay_at_us(const std::vector<batches::entry>& es, int64_t at_us, int64_t interval_ms) {
  const batches::entry* last = nullptr;
  for (auto& e : es)
    if (e.started_us <= at_us)
      last = &e;
  if (!last)
    return 0;
  int64_t late = last->started_us - last->time_ms * 1000;
  int64_t next_due_us = (last->time_ms + interval_ms) * 1000;
  return std::max(late, at_us - next_due_us);
}

/// What one mode's run ends with (for the parent's spread).
struct figures {
  long long delay_ms = 0, rss_mb = 0, lost = 0;
};

/// One mode's run: prints its figures and returns those of its end.
figures run(const options& o, bool backpressure, double rounds_per_us) {
  producer prod{o.rate};
  sluice::conf c;
  c.app_name("bench-overload").master(o.master);
  c.set("sluice.streaming.blockInterval", std::to_string(o.block_ms) + "ms");
  c.set("sluice.streaming.backpressure.enabled", backpressure ? "true" : "false");
  sluice::streaming_context ssc{c, sluice::milliseconds(o.batch_ms)};
  auto rounds = static_cast<uint64_t>(rounds_per_us * 1e6 * ssc.parallelism()
                                      / static_cast<double>(o.capacity));
  auto counted = std::make_shared<std::atomic<int64_t>>(0);
  auto cheap = std::make_shared<std::atomic<bool>>(false);  // drain phase: no per-record cost
  auto sink = std::make_shared<std::atomic<uint64_t>>(0);
  ssc.socket_text_stream("127.0.0.1", prod.port())
    .map([=](const std::string& line) {
      uint64_t x = line.size();
      if (!cheap->load(std::memory_order_relaxed))
        x = spin(rounds, x);
      return x;
    })
    .foreach_rdd([=](const sluice::rdd<uint64_t>& r) {
      uint64_t x = 0;
      for (auto& p : r.partitions())
        for (auto v : p)
          x += v;
      *sink += x;
      *counted += r.count();
    });
  auto listener = std::make_shared<batches>();
  ssc.add_listener(listener);
  ssc.start();
  int64_t t0 = now_us();
  int64_t end = t0 + int64_t{o.seconds} * 1'000'000;
  while (now_us() < end)
    std::this_thread::sleep_for(
      std::chrono::microseconds(std::min<int64_t>(end - now_us(), 200'000)));
  auto es = listener->snapshot();
  int64_t rss_kb = proc_status_kb("VmHWM");
  // Drain: every written line must be counted before the context stops.
  cheap->store(true);
  prod.stop();
  int64_t sent = prod.sent();
  int64_t drain_end = now_us() + int64_t{o.drain_seconds} * 1'000'000;
  while (counted->load() < sent && now_us() < drain_end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int64_t got = counted->load();
  ssc.stop(false);
  ssc.await_termination();

  std::vector<int> marks;
  for (int m : {10, 20, 30, 60})
    if (m < o.seconds)
      marks.push_back(m);
  marks.push_back(o.seconds);
  std::string delays;
  for (int m : marks)
    delays += " delay_" + std::to_string(m) + "s_ms="
              + std::to_string(delay_at_us(es, t0 + int64_t{m} * 1'000'000, o.batch_ms) / 1000);
  int64_t max_records = 0;
  for (auto& e : es) {
    max_records = std::max(max_records, e.records);
    if (o.show_batches)
      std::printf("  batch %lld: started +%.1f s, %lld ms late, %lld records\n",
                  static_cast<long long>(e.time_ms),
                  static_cast<double>(e.started_us - t0) / 1e6,
                  static_cast<long long>(e.started_us / 1000 - e.time_ms),
                  static_cast<long long>(e.records));
  }
  const char* bp = backpressure ? "on" : "off";
  std::printf("backpressure=%s: %lld lines written in %d s (%.0f/s), %zu batches, largest %lld "
              "records, counted %lld%s\n",
              bp, static_cast<long long>(sent), o.seconds,
              static_cast<double>(sent) / o.seconds, es.size(),
              static_cast<long long>(max_records), static_cast<long long>(got),
              got < sent ? " (drain deadline passed)" : "");
  std::printf("backpressure=%s batch_ms=%d%s rss_mb=%lld lost=%lld\n", bp, o.batch_ms,
              delays.c_str(), static_cast<long long>(rss_kb / 1024),
              static_cast<long long>(sent - got));
  std::fflush(stdout);
  return {delay_at_us(es, t0 + int64_t{o.seconds} * 1'000'000, o.batch_ms) / 1000,
          rss_kb / 1024, sent - got};
}

} // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"sluice overload benchmark: scheduling delay under a 10x producer, "
               "backpressure off and on"};
  app.add_option("--seconds", o.seconds, "measured seconds per mode")->check(CLI::Range(1, 3600));
  app.add_option("--batch-ms", o.batch_ms, "batch interval (ms)")->check(CLI::Range(10, 60000));
  app.add_option("--block-ms", o.block_ms, "block interval (ms)")->check(CLI::Range(1, 60000));
  app.add_option("--rate", o.rate, "offered lines per second")->check(CLI::PositiveNumber);
  app.add_option("--capacity", o.capacity, "records per second the pipeline can process")
    ->check(CLI::PositiveNumber);
  app.add_option("--drain-seconds", o.drain_seconds,
                 "how long to wait for the backlog after the run")
    ->check(CLI::Range(1, 36000));
  app.add_option("--mode", o.mode, "backpressure off, on or both (off first)")
    ->check(CLI::IsMember({"off", "on", "both"}));
  app.add_option("--master", o.master, "local[n]");
  app.add_flag("--show-batches", o.show_batches, "print every batch");
  app.add_option("--rounds", o.rounds, "runs of each mode, alternating (min/median/max printed)")
    ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  double rounds_per_us = spin_rounds_per_us();
  std::printf("overload: %lld lines/s offered over TCP to socket_text_stream, processing "
              "capacity ~%lld records/s (a CPU busy loop per record in a map, %.0f rounds/us), "
              "batch %d ms, block %d ms, %d s per mode, %s\n",
              static_cast<long long>(o.rate), static_cast<long long>(o.capacity), rounds_per_us,
              o.batch_ms, o.block_ms, o.seconds, o.master.c_str());
  std::fflush(stdout);
  std::vector<bool> modes;
  if (o.mode != "on")
    modes.push_back(false);
  if (o.mode != "off")
    modes.push_back(true);
  int failed = 0;
  std::vector<std::vector<double>> delay(2), rss(2), lost(2);  // [backpressure]
  for (int r = 1; r <= o.rounds; ++r) {
    if (o.rounds > 1)
      std::printf("round %d:\n", r);
    for (bool bp : modes) {
      // A child per run: fresh RSS and no leftovers of the other mode. No
      // thread exists yet in this process, so fork is safe.
      long long d = 0, m = 0, l = 0;
      try {
        auto out = bench::in_child([&] {
          auto f = run(o, bp, rounds_per_us);
          return std::to_string(f.delay_ms) + " " + std::to_string(f.rss_mb) + " "
                 + std::to_string(f.lost);
        });
        if (std::sscanf(out.c_str(), "%lld %lld %lld", &d, &m, &l) != 3)
          throw std::runtime_error("unreadable figures: '" + out + "'");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "overload: %s\n", e.what());
        ++failed;
        continue;
      }
      failed += l != 0;  // a lost line fails the run, and is shown in the spread
      delay[bp].push_back(static_cast<double>(d));
      rss[bp].push_back(static_cast<double>(m));
      lost[bp].push_back(static_cast<double>(l));
    }
  }
  for (bool bp : modes) {
    if (delay[bp].empty())
      continue;
    auto d = bench::spread(delay[bp]), m = bench::spread(rss[bp]), l = bench::spread(lost[bp]);
    std::printf("backpressure=%s over %zu runs, min/median/max: delay at %d s = %.0f/%.0f/%.0f "
                "ms, peak rss = %.0f/%.0f/%.0f MB, lost = %.0f/%.0f/%.0f\n",
                bp ? "on" : "off", delay[bp].size(), o.seconds, d.min, d.median, d.max, m.min,
                m.median, m.max, l.min, l.median, l.max);
  }
  return failed == 0 ? 0 : 1;
}
