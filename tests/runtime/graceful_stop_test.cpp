#define BOOST_TEST_MODULE runtime/graceful_stop
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>
#include <future>
#include <numeric>
#include <thread>

#include "fixtures/harness.hpp"
#include "fixtures/stream_io.hpp"

using namespace sluice;

namespace {

/// Stores 0..n-1 one at a time, then signals `stored` and idles.
struct burst : receiver<int> {
  int n;
  std::shared_ptr<std::promise<void>> stored = std::make_shared<std::promise<void>>();
  std::thread t;
  explicit burst(int count) : n(count) {}
  burst(const burst& o) : receiver<int>(o), n(o.n), stored(o.stored) {}
  void on_start() override {
    t = std::thread{[this] {
      for (int i = 0; i < n; ++i)
        store(i);
      stored->set_value();
    }};
  }
  void on_stop() override {
    if (t.joinable())
      t.join();
  }
};

conf system_conf() {
  conf c;
  c.master("local[2]").app_name("graceful");
  c.set("sluice.streaming.blockInterval", "50ms");
  return c;
}

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_graceful_stop_processes_everything_received) {
  // 2 s batches: most records are still unprocessed when stop(true) comes.
  streaming_context ssc{system_conf(), seconds(2)};
  fixtures::sink<int> out;
  burst b{5000};
  auto stored = b.stored->get_future();
  out.attach(ssc.receiver_stream(b));
  ssc.start();
  BOOST_REQUIRE(stored.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  ssc.stop(true);
  auto got = out.records();
  std::sort(got.begin(), got.end());
  BOOST_TEST(got == iota_vec(5000), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sigterm_stops_gracefully_when_configured) {
  auto c = system_conf();
  c.set("sluice.streaming.stopGracefullyOnShutdown", "true");
  streaming_context ssc{c, milliseconds(500)};
  fixtures::sink<int> out;
  burst b{3000};
  auto stored = b.stored->get_future();
  out.attach(ssc.receiver_stream(b));
  ssc.start();
  BOOST_REQUIRE(stored.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  std::raise(SIGTERM);
  BOOST_REQUIRE(ssc.await_termination_or_timeout(seconds(20)));
  auto got = out.records();
  std::sort(got.begin(), got.end());
  BOOST_TEST(got == iota_vec(3000), boost::test_tools::per_element());
}
