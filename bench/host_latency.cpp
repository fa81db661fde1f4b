// What the machine itself allows, as a baseline for batch_overhead's tails:
// how often a busy CPU stops running this process (a thread spinning on the
// monotonic clock sees the time jump: the kernel ran something else, or the
// hypervisor did not run the virtual CPU), and the round trip of 64 bytes
// between two processes over loopback TCP with an idle pause before each,
// as a batch's messages find their threads asleep.
//
// No sluice code runs here: the figures bound what any engine on this
// machine can reach (a local-cluster batch crosses loopback twice and wakes
// about ten threads in three processes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "spread.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double us_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

struct stalls {
  int over_100us = 0, over_1ms = 0, over_2500us = 0;
  double max_us = 0, lost_share = 0;
};

/// Spins for `seconds`, reading the clock; every jump of more than 100 us
/// is time this thread did not run although it never blocked.
stalls probe_stalls(double seconds) {
  stalls s;
  auto start = clock_type::now();
  auto last = start;
  double lost = 0;
  for (;;) {
    auto t = clock_type::now();
    double gap = us_between(last, t);
    last = t;
    if (gap > 100) {
      ++s.over_100us;
      s.over_1ms += gap > 1000;
      s.over_2500us += gap > 2500;
      s.max_us = std::max(s.max_us, gap);
      lost += gap;
    }
    if (us_between(start, t) > seconds * 1e6)
      break;
  }
  s.lost_share = lost / (seconds * 1e6);
  return s;
}

void check(bool ok, const char* what) {
  if (!ok)
    throw std::runtime_error(std::string{"host_latency: "} + what + " failed");
}

/// Writes `n` bytes of `buf` to `fd`, then reads `n` back into it.
void round_trip(int fd, char* buf, size_t n) {
  for (bool writing : {true, false})
    for (size_t done = 0; done < n;) {
      auto k = writing ? ::write(fd, buf + done, n - done) : ::read(fd, buf + done, n - done);
      check(k > 0, writing ? "write" : "read");
      done += static_cast<size_t>(k);
    }
}

/// Round trips of 64 bytes to a child process over loopback TCP (no Nagle),
/// each after `pause_us` idle; returns them in microseconds.
std::vector<double> loopback_round_trips(int n, int pause_us) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  check(ls >= 0, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  check(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "bind");
  check(::listen(ls, 1) == 0, "listen");
  check(::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) == 0, "getsockname");
  int one = 1;
  char buf[64] = {};
  pid_t child = ::fork();
  check(child >= 0, "fork");
  if (child == 0) {  // echoes until the parent closes
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      ::_exit(1);
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
      size_t got = 0;
      while (got < sizeof buf) {
        auto k = ::read(s, buf + got, sizeof buf - got);
        if (k <= 0)
          ::_exit(0);
        got += static_cast<size_t>(k);
      }
      if (::write(s, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf))
        ::_exit(1);
    }
  }
  int s = ::accept(ls, nullptr, nullptr);
  check(s >= 0, "accept");
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<double> rtt;
  rtt.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    auto t0 = clock_type::now();
    round_trip(s, buf, sizeof buf);
    rtt.push_back(us_between(t0, clock_type::now()));
  }
  ::close(s);
  ::close(ls);
  int status = 0;
  ::waitpid(child, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the echoing child");
  std::sort(rtt.begin(), rtt.end());
  return rtt;
}

double quantile(const std::vector<double>& sorted, double q) {
  auto i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"what this machine allows: CPU stalls and loopback round trips"};
  int runs = 3;
  double probe_s = 3;
  int trips = 1000;
  int pause_us = 10000;
  app.add_option("--runs", runs, "runs of each measurement; min/median/max printed")
    ->check(CLI::PositiveNumber);
  app.add_option("--probe-seconds", probe_s, "seconds each stall probe spins")
    ->check(CLI::PositiveNumber);
  app.add_option("--trips", trips, "loopback round trips per run")->check(CLI::PositiveNumber);
  app.add_option("--pause-us", pause_us, "idle microseconds before each round trip (a batch "
                                         "interval)")
    ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<double> per_s_1ms, max_stall, p50, p99, worst;
  for (int r = 1; r <= runs; ++r) {
    auto st = probe_stalls(probe_s);
    per_s_1ms.push_back(st.over_1ms / probe_s);
    max_stall.push_back(st.max_us);
    std::printf("run %d, stall probe (%.0f s spinning): %d stalls > 100 us, %d > 1 ms, %d > "
                "2.5 ms, longest %.0f us, %.2f %% of the time lost\n",
                r, probe_s, st.over_100us, st.over_1ms, st.over_2500us, st.max_us,
                100 * st.lost_share);
    std::vector<double> rtt;
    try {
      rtt = loopback_round_trips(trips, pause_us);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    p50.push_back(quantile(rtt, 0.5));
    p99.push_back(quantile(rtt, 0.99));
    worst.push_back(rtt.back());
    std::printf("run %d, loopback round trip after %d us idle (%d trips): p50=%.0f p99=%.0f "
                "max=%.0f us\n",
                r, pause_us, trips, p50.back(), p99.back(), rtt.back());
  }
  auto line = [](const char* what, const std::vector<double>& xs) {
    auto sp = bench::spread(xs);
    std::printf("%s over the runs: min=%.1f median=%.1f max=%.1f\n", what, sp.min, sp.median,
                sp.max);
  };
  line("stalls > 1 ms a second of a busy CPU", per_s_1ms);
  line("longest stall (us)", max_stall);
  line("loopback round trip p50 (us)", p50);
  line("loopback round trip p99 (us)", p99);
  line("loopback round trip max (us)", worst);
}
