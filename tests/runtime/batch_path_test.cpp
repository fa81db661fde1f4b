#define BOOST_TEST_MODULE runtime/batch_path
// The batch path does not block on a receiver: the job scheduler asks each
// receiver stream's tracker for a batch's blocks and goes on, so a stream
// whose tracker stalls delays only the outputs that depend on it (and those
// after them in the batch), never an independent pipeline before it.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <numeric>

#include "fixtures/gate.hpp"
#include "fixtures/harness.hpp"
#include "sluice/fault_injector.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using fixtures::batch_counter;
using fixtures::gate;
using fixtures::manual_conf;

namespace {

/// A receiver that stopped producing: it stores nothing.
class silent_receiver : public receiver<int> {
 public:
  void on_start() override {}
  void on_stop() override {}
};

/// What the output operations saw, in order, with the batch time.
class outputs {
 public:
  void add(std::string what, batch_time t) {
    std::lock_guard<std::mutex> guard{mtx_};
    seen_.push_back(what + "@" + std::to_string(t.ms));
    cv_.notify_all();
  }
  /// Waits until `what` was seen or the deadline passed.
  bool wait_for(const std::string& what, std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, deadline, [&] {
      return std::find(seen_.begin(), seen_.end(), what) != seen_.end();
    });
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> guard{mtx_};
    return seen_;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::string> seen_;
};

/// The batch times the scheduler generated (on_batch_submitted), in order.
class submissions : public streaming_listener {
 public:
  void on_batch_submitted(const batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    times_.push_back(b.time.ms);
    cv_.notify_all();
  }
  bool wait_for(size_t n, std::chrono::milliseconds deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, deadline, [&] { return times_.size() >= n; });
  }
  std::vector<int64_t> times() {
    std::lock_guard<std::mutex> guard{mtx_};
    return times_;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<int64_t> times_;
};

/// A context that counts its batches and records their submissions, a gate,
/// what its outputs saw, and a queue of two batches: {7}, then {8, 9}.
struct two_batches {
  two_batches(conf c, duration interval) : ssc{std::move(c), interval} {
    ssc.add_listener(counter);
    ssc.add_listener(submitted);
    queue.push(std::vector<int>{7});
    queue.push(std::vector<int>{8, 9});
  }
  streaming_context ssc;
  std::shared_ptr<batch_counter> counter = std::make_shared<batch_counter>();
  std::shared_ptr<submissions> submitted = std::make_shared<submissions>();
  std::shared_ptr<gate> held = std::make_shared<gate>();
  std::shared_ptr<outputs> seen = std::make_shared<outputs>();
  rdd_queue<int> queue;
};

/// local[1]: batch 1's only task holds the pool's one thread at a gate; the
/// clock reaches batch 2's time meanwhile (`move_clock`). Batch 2 must be
/// generated while the task still runs (Spark's JobGenerator ticks on a
/// thread of its own), and both batches complete with their records once
/// the gate opens.
template <class MoveClock>
void next_batch_time_while_a_task_runs(conf c, duration interval, MoveClock move_clock) {
  two_batches run{c, interval};
  auto& [ssc, counter, submitted, held, seen, queue] = run;
  ssc.queue_stream(queue)
    .map([held](int x) {
      if (x == 7)
        held->pass();
      return x * 10;
    })
    .foreach_rdd([seen](const rdd<int>& r, batch_time t) {
      auto xs = r.collect();
      seen->add("sum " + std::to_string(std::accumulate(xs.begin(), xs.end(), 0)), t);
    });
  ssc.start();
  move_clock(ssc); // batch 1
  BOOST_REQUIRE(held->wait_entered(20s));
  move_clock(ssc); // batch 2
  bool generated = submitted->wait_for(2, 10s);
  held->open();
  BOOST_TEST(generated); // not only once the task ended
  counter->wait_for(2);
  auto times = submitted->times();
  BOOST_REQUIRE(times.size() >= 2);
  BOOST_TEST(times[1] == times[0] + interval.count());
  auto at = [](int64_t t) { return "@" + std::to_string(t); };
  auto seen_now = seen->seen();
  BOOST_REQUIRE(seen_now.size() >= 2);
  BOOST_TEST(seen_now[0] == "sum 70" + at(times[0]));
  BOOST_TEST(seen_now[1] == "sum 170" + at(times[1]));
  ssc.stop(false);
}

/// Batch 1's output operation holds a runner at a gate (its first run goes
/// to a runner: how long it takes is not known yet). With one job at a time,
/// batch 2 is still generated meanwhile (the scheduler's thread is free);
/// with two, batch 2 runs and its output completes before batch 1's.
void next_batch_while_an_output_runs(int concurrent_jobs) {
  auto c = manual_conf("local[2]");
  c.set("sluice.streaming.concurrentJobs", std::to_string(concurrent_jobs));
  two_batches run{c, seconds(1)};
  auto& [ssc, counter, submitted, held, seen, queue] = run;
  ssc.queue_stream(queue).foreach_rdd([held, seen](const rdd<int>& r, batch_time t) {
    auto xs = r.collect();
    int sum = std::accumulate(xs.begin(), xs.end(), 0);
    if (sum == 7)
      held->pass();
    seen->add("sum " + std::to_string(sum), t);
  });
  ssc.start();
  ssc.manual_clock().advance(seconds(1)); // batch 1
  BOOST_REQUIRE(held->wait_entered(20s));
  auto t1 = ssc.manual_clock().now().ms;
  auto at = [](int64_t t) { return "@" + std::to_string(t); };
  ssc.manual_clock().advance(seconds(1)); // batch 2
  bool generated = submitted->wait_for(2, 10s);
  bool second_done = concurrent_jobs > 1 && seen->wait_for("sum 17" + at(t1 + 1000), 10s);
  if (second_done) // its completion is reported once its output returned
    BOOST_CHECK_NO_THROW(counter->wait_for(1, 10s));
  int completed_while_held = counter->completed();
  held->open();
  BOOST_TEST(generated); // not only once the output ended
  if (concurrent_jobs > 1) {
    BOOST_TEST(second_done);
    BOOST_TEST(completed_while_held == 1);
  } else {
    BOOST_TEST(completed_while_held == 0);
  }
  counter->wait_for(2);
  auto order = concurrent_jobs > 1
                 ? std::vector<std::string>{"sum 17" + at(t1 + 1000), "sum 7" + at(t1)}
                 : std::vector<std::string>{"sum 7" + at(t1), "sum 17" + at(t1 + 1000)};
  BOOST_TEST(seen->seen() == order, boost::test_tools::per_element());
  ssc.stop(false);
}

struct disarm_faults {
  ~disarm_faults() { fault_injector::global().disarm_all(); }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_stalled_receiver_does_not_delay_an_independent_pipeline) {
  disarm_faults guard;
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  auto seen = std::make_shared<outputs>();
  rdd_queue<int> queue;
  queue.push(std::vector<int>{1, 2, 3});
  ssc.queue_stream(queue).foreach_rdd([seen](const rdd<int>& r, batch_time t) {
    auto xs = r.collect();
    seen->add("queue sum " + std::to_string(std::accumulate(xs.begin(), xs.end(), 0)), t);
  });
  ssc.receiver_stream(silent_receiver{}).foreach_rdd([seen](const rdd<int>& r, batch_time t) {
    seen->add("receiver count " + std::to_string(r.count()), t);
  });
  // The first allocation stalls for 4 s (the tracker is busy or slow).
  fault_injector::global().arm("tracker.allocate",
                               fault_spec{.action = fault_action::delay(4000ms), .times = 1});
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  auto t1 = std::to_string(ssc.manual_clock().now().ms);
  // The queue's output comes first in the batch and needs nothing from the
  // receiver: it runs while the allocation still stalls (a blocking
  // scheduler would hold it for the whole 4 s).
  BOOST_TEST_REQUIRE(seen->wait_for("queue sum 6@" + t1, 2500ms));
  BOOST_TEST((seen->seen() == std::vector<std::string>{"queue sum 6@" + t1}));
  // The receiver's output runs once its (empty) blocks arrive; the batch
  // then completes with both, in their order.
  counter->wait_for(1);
  BOOST_TEST((seen->seen()
              == std::vector<std::string>{"queue sum 6@" + t1, "receiver count 0@" + t1}));
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(outputs_after_a_stalled_receiver_keep_their_order) {
  disarm_faults guard;
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  auto seen = std::make_shared<outputs>();
  rdd_queue<int> queue;
  queue.push(std::vector<int>{4, 5});
  // Registered first, so the queue's output waits for it (Spark runs a
  // batch's jobs in the order of their output operations).
  ssc.receiver_stream(silent_receiver{}).foreach_rdd([seen](const rdd<int>& r, batch_time t) {
    seen->add("receiver count " + std::to_string(r.count()), t);
  });
  ssc.queue_stream(queue).foreach_rdd([seen](const rdd<int>& r, batch_time t) {
    auto xs = r.collect();
    seen->add("queue sum " + std::to_string(std::accumulate(xs.begin(), xs.end(), 0)), t);
  });
  fault_injector::global().arm("tracker.allocate",
                               fault_spec{.action = fault_action::delay(300ms), .times = 1});
  ssc.start();
  for (int i = 1; i <= 2; ++i)
    ssc.manual_clock().advance(seconds(1));
  counter->wait_for(2);
  auto t1 = ssc.manual_clock().now().ms - 1000;
  auto at = [](int64_t t) { return "@" + std::to_string(t); };
  BOOST_TEST((seen->seen()
              == std::vector<std::string>{"receiver count 0" + at(t1), "queue sum 9" + at(t1),
                                          "receiver count 0" + at(t1 + 1000),
                                          "queue sum 0" + at(t1 + 1000)}));
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(a_running_task_does_not_hold_back_the_next_batch_time_manual_clock) {
  next_batch_time_while_a_task_runs(manual_conf("local[1]"), seconds(1), [](auto& ssc) {
    ssc.manual_clock().advance(seconds(1));
  });
}

BOOST_AUTO_TEST_CASE(a_running_task_does_not_hold_back_the_next_batch_time_system_clock) {
  conf c;
  c.master("local[1]").app_name("test").set("sluice.streaming.clock", "system");
  // The system clock moves by itself: batch 2's time comes 200 ms after batch 1's.
  next_batch_time_while_a_task_runs(c, milliseconds(200), [](auto&) {});
}

BOOST_AUTO_TEST_CASE(a_running_output_does_not_hold_back_the_next_batch_time) {
  next_batch_while_an_output_runs(1);
}

BOOST_AUTO_TEST_CASE(a_running_output_does_not_hold_back_the_next_batch) {
  next_batch_while_an_output_runs(2);
}
