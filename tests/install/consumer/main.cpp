// Install test: a program built against the installed package runs a
// queue_stream pipeline through a user's actor for 2 batches under the
// manual clock.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>

#include <sluice/actors.hpp>
#include <sluice/sluice.hpp>

namespace {

class waiter : public sluice::streaming_listener {
 public:
  void on_batch_completed(const sluice::batch_info&) override {
    std::lock_guard<std::mutex> guard{mtx_};
    ++completed_;
    cv_.notify_all();
  }
  bool wait_for(int n) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, std::chrono::seconds(20), [&] { return completed_ >= n; });
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int completed_ = 0;
};

} // namespace

int main() {
  sluice::conf c;
  c.app_name("consumer").master("local[2]").set("sluice.streaming.clock", "manual");
  sluice::streaming_context ssc{c, sluice::seconds(1)};
  std::mutex mtx;
  std::vector<long> sums;
  using doubler = caf::typed_actor<caf::replies_to<std::vector<int>>::with<std::vector<int>>>;
  doubler op = sluice::actor_system_of(ssc).spawn([]() -> doubler::behavior_type {
    return {[](std::vector<int>& xs) {
      for (auto& x : xs)
        x *= 2;
      return std::move(xs);
    }};
  });
  ssc.queue_stream<int>({{1, 2, 3}, {4, 5}})
    .via(op)
    .map([](int x) { return std::pair<int, long>{x % 2, x}; })
    .reduce_by_key(std::plus<long>{})
    .foreach_rdd([&](const sluice::rdd<std::pair<int, long>>& r) {
      long s = 0;
      for (auto& [k, v] : r.collect())
        s += v;
      std::lock_guard<std::mutex> guard{mtx};
      sums.push_back(s);
    });
  auto w = std::make_shared<waiter>();
  ssc.add_listener(w);
  ssc.start();
  for (int i = 1; i <= 2; ++i) {
    ssc.manual_clock().advance(sluice::seconds(1));
    if (!w->wait_for(i)) {
      std::fprintf(stderr, "timed out waiting for batch %d\n", i);
      return 1;
    }
  }
  ssc.stop();
  ssc.await_termination();
  std::lock_guard<std::mutex> guard{mtx};
  if (sums != std::vector<long>{12, 18}) {
    std::fprintf(stderr, "unexpected sums (%zu batches)\n", sums.size());
    return 1;
  }
  std::puts("ok: 2 batches, sums 12 and 18");
  return 0;
}
