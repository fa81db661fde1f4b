#define BOOST_TEST_MODULE runtime/simulated_clock
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <set>
#include <thread>

#include "fixtures/harness.hpp"

// sluice.streaming.clock=simulated: a manual clock, and every actor of the
// context on CAF's deterministic test coordinator, run by the thread that
// moves the clock (what sluice::testing's simulation runs on). A batch has
// run, outputs and listeners included, when advance() returns; nothing runs
// on another thread; what needs threads is refused by name.

using namespace sluice;

namespace {

conf simulated_conf(const std::string& master = "local[2]") {
  conf c;
  c.master(master).app_name("test").set("sluice.streaming.clock", "simulated");
  return c;
}

/// Threads of this process (Linux: one entry per thread in /proc/self/task).
size_t thread_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator{"/proc/self/task"})
    ++n;
  return n;
}

/// Where each listener callback ran.
struct thread_listener : streaming_listener {
  std::set<std::thread::id> threads;
  std::vector<int64_t> completed;
  void on_batch_completed(const batch_info& b) override {
    threads.insert(std::this_thread::get_id());
    completed.push_back(b.time.ms);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_batch_has_run_when_advance_returns_and_nothing_ran_on_another_thread) {
  fixtures::temp_dir dir{"simulated_clock"};
  auto before = thread_count();
  streaming_context ssc{simulated_conf(), seconds(1)};
  ssc.checkpoint(dir.str());  // the checkpoint writer and its SQLite commits too
  rdd_queue<std::string> queue;
  queue.push(std::vector<std::string>{"a", "b", "a"});
  queue.push(std::vector<std::string>{"b"});
  auto outputs = std::make_shared<std::vector<std::vector<std::pair<std::string, int>>>>();
  auto output_threads = std::make_shared<std::set<std::thread::id>>();
  ssc.queue_stream(queue)
    .map([](const std::string& w) { return std::make_pair(w, 1); })
    .update_state_by_key([](const std::vector<int>& xs, std::optional<int> s) {
      int n = s.value_or(0);
      for (int x : xs)
        n += x;
      return std::optional<int>{n};
    })
    .foreach_rdd([outputs, output_threads](const rdd<std::pair<std::string, int>>& r) {
      output_threads->insert(std::this_thread::get_id());
      auto v = r.collect();
      std::sort(v.begin(), v.end());
      outputs->push_back(std::move(v));
    });
  auto listener = std::make_shared<thread_listener>();
  ssc.add_listener(listener);
  ssc.start();
  using counts = std::vector<std::pair<std::string, int>>;
  ssc.manual_clock().advance(seconds(1));
  BOOST_REQUIRE_EQUAL(outputs->size(), 1u);  // no wait: it ran inside advance
  BOOST_TEST((outputs->at(0) == counts{{"a", 2}, {"b", 1}}));
  ssc.manual_clock().advance(seconds(1));
  BOOST_REQUIRE_EQUAL(outputs->size(), 2u);
  BOOST_TEST((outputs->at(1) == counts{{"a", 2}, {"b", 2}}));
  BOOST_TEST((listener->completed == std::vector<int64_t>{1000, 2000}));
  BOOST_TEST(thread_count() == before);  // no scheduler, detached or lifecycle thread
  ssc.stop();
  BOOST_TEST(thread_count() == before);
  auto self = std::this_thread::get_id();
  BOOST_TEST((*output_threads == std::set<std::thread::id>{self}));
  BOOST_TEST((listener->threads == std::set<std::thread::id>{self}));
}

BOOST_AUTO_TEST_CASE(await_termination_of_an_active_context_says_that_nothing_can_run) {
  streaming_context ssc{simulated_conf(), seconds(1)};
  rdd_queue<int> queue;
  ssc.queue_stream(queue).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  // Nothing but this thread could end it: no wait, an answer at once.
  BOOST_TEST(!ssc.await_termination_or_timeout(seconds(3600)));
  BOOST_CHECK_EXCEPTION(ssc.await_termination(), illegal_state, [](const illegal_state& e) {
    return std::string{e.what()}.find("move the clock or stop the context") != std::string::npos;
  });
  ssc.stop();
  ssc.await_termination();
  BOOST_TEST(ssc.await_termination_or_timeout(seconds(0)));
}

BOOST_AUTO_TEST_CASE(a_stop_from_an_output_and_a_failing_operator_end_the_context_inside_advance) {
  {
    streaming_context ssc{simulated_conf(), seconds(1)};
    auto* self = &ssc;
    int runs = 0;
    rdd_queue<int> empty;
    ssc.queue_stream(empty).foreach_rdd([self, &runs](const rdd<int>&) {
      if (++runs == 2)
        self->stop();
    });
    ssc.start();
    ssc.manual_clock().advance(seconds(1));
    BOOST_TEST(!ssc.await_termination_or_timeout(seconds(0)));
    ssc.manual_clock().advance(seconds(1));
    BOOST_TEST(runs == 2);
    BOOST_TEST(ssc.await_termination_or_timeout(seconds(0)));  // stopped when advance returned
  }
  streaming_context ssc{simulated_conf(), seconds(1)};
  rdd_queue<int> queue;
  queue.push(std::vector<int>{1, 2, 0});
  ssc.queue_stream(queue)
    .map([](int x) {
      if (x == 0)
        throw std::runtime_error("no zero here");
      return 10 / x;
    })
    .foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  BOOST_CHECK_EXCEPTION(ssc.await_termination_or_timeout(seconds(0)), error, [](const error& e) {
    return std::string{e.what()}.find("no zero here") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(what_needs_threads_is_refused_by_name) {
  BOOST_CHECK_EXCEPTION(streaming_context(simulated_conf("local-cluster[2,1]"), seconds(1)),
                        invalid_argument, [](const invalid_argument& e) {
                          return std::string{e.what()}
                                 == "sluice.streaming.clock=simulated runs every actor on one "
                                    "thread: it needs a local master, or local-cluster[W,C] "
                                    "inside sluice::testing's simulation, got local-cluster[2,1]";
                        });
  auto ui = simulated_conf();
  ui.set("sluice.ui.enabled", "true");
  BOOST_CHECK_EXCEPTION(streaming_context(ui, seconds(1)), invalid_argument,
                        [](const invalid_argument& e) {
                          return std::string{e.what()}.find("needs sluice.ui.enabled=false")
                                 != std::string::npos;
                        });
  streaming_context ssc{simulated_conf(), seconds(1)};
  ssc.socket_text_stream("127.0.0.1", 9).foreach_rdd([](const rdd<std::string>&) {});
  BOOST_CHECK_EXCEPTION(ssc.start(), invalid_argument, [](const invalid_argument& e) {
    std::string what = e.what();
    return what.find("receiver socket_text_stream") != std::string::npos
           && what.find("sluice.streaming.clock=simulated does not allow") != std::string::npos;
  });
  conf bad;
  BOOST_CHECK_EXCEPTION(bad.set("sluice.streaming.clock", "simulate"), invalid_argument,
                        [](const invalid_argument& e) {
                          return std::string{e.what()}
                                 == "invalid value 'simulate' for sluice.streaming.clock: expected "
                                    "system or manual or simulated";
                        });
}
