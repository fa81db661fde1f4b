#define BOOST_TEST_MODULE runtime/queue_stream
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <thread>

#include "fixtures/harness.hpp"

// queue_stream over an rdd_queue (Spark's queueStream(Queue[RDD], oneAtATime,
// defaultRDD)): pushed before and after start, from any thread.

using namespace sluice;
using fixtures::manual_conf;

namespace {

/// Records each batch's partitions (glom) under the manual clock.
struct glom_run {
  streaming_context ssc{manual_conf("local[2]"), seconds(1)};
  std::shared_ptr<fixtures::batch_counter> counter = std::make_shared<fixtures::batch_counter>();
  std::shared_ptr<std::mutex> mtx = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::vector<std::vector<int>>>> batches =
    std::make_shared<std::vector<std::vector<std::vector<int>>>>();

  void record(const dstream<int>& s) {
    s.glom().foreach_rdd([mtx = mtx, out = batches](const rdd<std::vector<int>>& r) {
      std::lock_guard<std::mutex> guard{*mtx};
      out->push_back(r.collect());
    });
    ssc.add_listener(counter);
  }

  void step(int n) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(n);
  }

  using parts = std::vector<std::vector<int>>;
};

} // namespace

BOOST_AUTO_TEST_CASE(one_batch_per_interval_pushed_before_and_after_start) {
  glom_run run;
  rdd_queue<int> queue;
  queue.push(std::vector<int>{1, 2, 3, 4}); // sliced into local[2]'s 2 partitions
  run.record(run.ssc.queue_stream(queue));
  run.ssc.start();
  run.step(1);
  queue.push(run.ssc.make_rdd(std::vector<int>{5, 6, 7}, 3)); // keeps its 3 partitions
  run.step(2);
  run.step(3); // the queue ran dry: an empty batch
  run.ssc.stop();
  using parts = glom_run::parts;
  BOOST_TEST(run.batches->size() == 3u);
  BOOST_TEST((run.batches->at(0) == parts{{1, 2}, {3, 4}}));
  BOOST_TEST((run.batches->at(1) == parts{{5}, {6}, {7}}));
  BOOST_TEST((run.batches->at(2) == parts{{}, {}}));
  BOOST_TEST(queue.empty());
}

BOOST_AUTO_TEST_CASE(the_default_rdd_fills_batches_while_the_queue_is_empty) {
  glom_run run;
  rdd_queue<int> queue;
  run.record(run.ssc.queue_stream(queue, true, run.ssc.make_rdd(std::vector<int>{0}, 1)));
  run.ssc.start();
  run.step(1);
  queue.push(std::vector<int>{8, 9});
  run.step(2);
  run.step(3);
  run.ssc.stop();
  using parts = glom_run::parts;
  BOOST_TEST(run.batches->size() == 3u);
  BOOST_TEST((run.batches->at(0) == parts{{0}}));
  BOOST_TEST((run.batches->at(1) == parts{{8}, {9}}));
  BOOST_TEST((run.batches->at(2) == parts{{0}}));
}

BOOST_AUTO_TEST_CASE(without_one_at_a_time_a_batch_takes_everything_queued) {
  glom_run run;
  rdd_queue<int> queue;
  queue.push(std::vector<int>{1, 2});
  queue.push(std::vector<int>{3, 4});
  queue.push(run.ssc.make_rdd(std::vector<int>{5, 6, 7}, 1));
  BOOST_TEST(queue.size() == 3u);
  run.record(run.ssc.queue_stream(queue, false));
  run.ssc.start();
  run.step(1);
  run.ssc.stop();
  BOOST_TEST((run.batches->at(0) == glom_run::parts{{1, 2}, {3, 4}, {5, 6, 7}}));
}

BOOST_AUTO_TEST_CASE(pushes_from_another_thread_while_running_all_arrive) {
  streaming_context ssc{manual_conf("local[2]"), seconds(1)};
  rdd_queue<int> queue;
  auto total = std::make_shared<std::atomic<int64_t>>(0);
  ssc.queue_stream(queue, false).foreach_rdd([total](const rdd<int>& r) {
    for (int x : r.collect())
      *total += x;
  });
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  std::thread pusher{[&] {
    for (int i = 1; i <= 1000; ++i)
      queue.push(std::vector<int>{i});
  }};
  for (int b = 1; b <= 3; ++b) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(b);
  }
  pusher.join();
  ssc.manual_clock().advance(seconds(1)); // takes whatever was left
  counter->wait_for(4);
  ssc.stop();
  BOOST_TEST(total->load() == 500500);
}

// sluice.scheduler.policy picks CAF's scheduler (sharing by default, or work
// stealing); the batches are the same under both.
BOOST_AUTO_TEST_CASE(both_scheduler_policies_give_the_same_batches) {
  for (std::string policy : {"sharing", "stealing"}) {
    BOOST_TEST_CONTEXT("sluice.scheduler.policy=" << policy) {
      auto c = manual_conf("local[2]");
      c.set("sluice.scheduler.policy", policy);
      streaming_context ssc{c, seconds(1)};
      auto counter = std::make_shared<fixtures::batch_counter>();
      auto mtx = std::make_shared<std::mutex>();
      auto out = std::make_shared<std::vector<std::vector<std::pair<std::string, int64_t>>>>();
      rdd_queue<std::string> queue;
      queue.push(std::vector<std::string>{"a", "b", "a", "c", "a"});
      queue.push(std::vector<std::string>{"b", "b"});
      ssc.queue_stream(queue)
        .map([](const std::string& w) { return std::pair<std::string, int64_t>{w, 1}; })
        .reduce_by_key([](int64_t x, int64_t y) { return x + y; })
        .foreach_rdd([mtx, out](const rdd<std::pair<std::string, int64_t>>& r) {
          auto v = r.collect();
          std::sort(v.begin(), v.end());
          std::lock_guard<std::mutex> guard{*mtx};
          out->push_back(std::move(v));
        });
      ssc.add_listener(counter);
      ssc.start();
      for (int n = 1; n <= 2; ++n) {
        ssc.manual_clock().advance(seconds(1));
        counter->wait_for(n);
      }
      ssc.stop();
      using counts = std::vector<std::pair<std::string, int64_t>>;
      BOOST_TEST(out->size() == 2u);
      BOOST_TEST((out->at(0) == counts{{"a", 3}, {"b", 1}, {"c", 1}}));
      BOOST_TEST((out->at(1) == counts{{"b", 2}}));
    }
  }
}
