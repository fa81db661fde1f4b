#define BOOST_TEST_MODULE runtime/receiver
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <numeric>
#include <thread>

#include "fixtures/counting_receiver.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/stream_io.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/receiver_wal.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::counting_receiver;
using fixtures::manual_conf;
using fixtures::temp_dir;

namespace {

conf fast_conf() {
  auto c = manual_conf("local[2]");
  c.set("sluice.streaming.blockInterval", "20ms");
  c.set("sluice.streaming.receiverRestartDelay", "20ms");
  return c;
}

/// Attempt k (from 1) stores {10 k} reliably; the first `fail` attempts then
/// throw from on_start.
class flaky_receiver : public receiver<int> {
 public:
  explicit flaky_receiver(int fail, std::shared_ptr<std::atomic<int>> attempts)
      : fail_(fail), attempts_(std::move(attempts)) {}
  void on_start() override {
    int k = ++*attempts_;
    store(std::vector<int>{10 * k});
    if (k <= fail_)
      throw std::runtime_error("attempt " + std::to_string(k) + " failed");
  }
  void on_stop() override {}

 private:
  int fail_;
  std::shared_ptr<std::atomic<int>> attempts_;
};

struct run_state {
  streaming_context ssc;
  std::shared_ptr<batch_counter> counter = std::make_shared<batch_counter>();
  std::shared_ptr<fixtures::receiver_events> events = std::make_shared<fixtures::receiver_events>();
  fixtures::sink<int> out;
  int batches = 0;
  explicit run_state(conf c) : ssc(std::move(c), seconds(1)) {
    ssc.add_listener(counter);
    ssc.add_listener(events);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(every_stored_record_reaches_a_batch_exactly_once) {
  run_state r{fast_conf()};
  r.out.attach(r.ssc.receiver_stream(counting_receiver{20000}));
  r.ssc.start();
  fixtures::advance_until(r.ssc, *r.counter, r.out, 20000, r.batches);
  r.ssc.stop();
  auto got = r.out.records();
  BOOST_REQUIRE_EQUAL(got.size(), 20000u);
  std::vector<int> want(20000);
  std::iota(want.begin(), want.end(), 0);
  BOOST_TEST(got == want, boost::test_tools::per_element()); // one producer: in order
  BOOST_TEST(r.events->started().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_throwing_receiver_is_restarted_and_keeps_its_data) {
  auto attempts = std::make_shared<std::atomic<int>>(0);
  run_state r{fast_conf()};
  r.out.attach(r.ssc.receiver_stream(flaky_receiver{2, attempts}));
  r.ssc.start();
  fixtures::advance_until(r.ssc, *r.counter, r.out, 3, r.batches);
  r.ssc.stop();
  auto got = r.out.records();
  std::sort(got.begin(), got.end());
  BOOST_TEST(got == (std::vector<int>{10, 20, 30}), boost::test_tools::per_element());
  BOOST_TEST(attempts->load() == 3);
  auto errors = r.events->errors();
  BOOST_REQUIRE_GE(errors.size(), 2u);
  BOOST_TEST(errors[0].last_error == "on_start threw: attempt 1 failed");
  BOOST_TEST(errors[1].last_error == "on_start threw: attempt 2 failed");
  BOOST_TEST(r.events->started().size() == 1u);
}

BOOST_AUTO_TEST_CASE(past_the_restart_limit_the_receiver_stops_and_the_rest_runs) {
  auto c = fast_conf();
  c.set("sluice.streaming.receiver.maxRestarts", "2");
  c.set("sluice.streaming.receiver.stopContextAfterMaxRestarts", "false");
  auto attempts = std::make_shared<std::atomic<int>>(0);
  run_state r{c};
  r.ssc.receiver_stream(flaky_receiver{1000, attempts}).foreach_rdd([](const rdd<int>&) {});
  r.out.attach(r.ssc.queue_stream<int>({{1}, {2}, {3}}));
  r.ssc.start();
  BOOST_REQUIRE(r.events->wait_errors(4)); // 3 failed starts + the give-up report
  fixtures::advance_until(r.ssc, *r.counter, r.out, 3, r.batches);
  r.ssc.stop();
  BOOST_TEST(attempts->load() == 3);
  auto errors = r.events->errors();
  BOOST_TEST(errors.back().last_error.find("Receiver stream 0 (receiver_stream 0) stopped after 2 restarts") == 0u,
             errors.back().last_error);
  BOOST_TEST(r.events->stopped().size() >= 1u);
  BOOST_TEST(r.out.records() == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(max_rate_is_held_within_five_percent) {
  auto c = fast_conf();
  c.set("sluice.streaming.receiver.maxRate", "20000");
  struct timed_receiver : receiver<int> {
    std::shared_ptr<std::atomic<int64_t>> stored = std::make_shared<std::atomic<int64_t>>(0);
    std::shared_ptr<std::atomic<int64_t>> elapsed_us = std::make_shared<std::atomic<int64_t>>(0);
    std::shared_ptr<std::promise<void>> finished = std::make_shared<std::promise<void>>();
    std::thread t;
    void on_start() override {
      t = std::thread{[this] {
        auto t0 = std::chrono::steady_clock::now();
        auto end = t0 + std::chrono::milliseconds(1500);
        while (std::chrono::steady_clock::now() < end && !is_stopped()) {
          store(1);
          ++*stored;
        }
        *elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
        finished->set_value();
      }};
    }
    void on_stop() override {
      if (t.joinable())
        t.join();
    }
  };
  timed_receiver tr;
  auto stored = tr.stored;
  auto elapsed = tr.elapsed_us;
  auto finished = tr.finished->get_future();
  run_state r{c};
  r.out.attach(r.ssc.receiver_stream(std::move(tr)));
  r.ssc.start();
  // The receiver measures 1.5 s of its own time.
  BOOST_REQUIRE(finished.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  r.ssc.stop();
  double rate = static_cast<double>(stored->load()) * 1e6 / static_cast<double>(elapsed->load());
  BOOST_TEST_MESSAGE("measured rate " << rate << " records/s");
  BOOST_TEST(rate >= 20000 * 0.95);
  BOOST_TEST(rate <= 20000 * 1.05);
}

BOOST_AUTO_TEST_CASE(reliable_stores_are_in_the_write_ahead_log_when_they_return) {
  temp_dir dir{"rwal"};
  auto c = fast_conf();
  c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  struct reliable : receiver<std::string> {
    std::shared_ptr<std::atomic<int>> done = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::string> dir;
    std::shared_ptr<std::atomic<bool>> all_found = std::make_shared<std::atomic<bool>>(true);
    std::shared_ptr<std::promise<void>> finished = std::make_shared<std::promise<void>>();
    std::thread t;
    void on_start() override {
      t = std::thread{[this] {
        for (int b = 0; b < 20; ++b) {
          std::vector<std::string> block;
          for (int i = 0; i < 100; ++i)
            block.push_back("r" + std::to_string(b * 100 + i));
          store(block);
          // Acknowledged: the block must be in the WAL now.
          auto wal = receiver_wal::open(*dir);
          bool found = false;
          for (auto& wb : wal->read_blocks(0))
            found = found
                    || (wb.records.size() == 100
                        && sluice::decode_from_string<std::string>(wb.records[0]) == block[0]);
          if (!found)
            *all_found = false;
          ++*done;
        }
        finished->set_value();
      }};
    }
    void on_stop() override {
      if (t.joinable())
        t.join();
    }
  };
  reliable rr;
  rr.dir = std::make_shared<std::string>(dir.str());
  auto done = rr.done;
  auto all_found = rr.all_found;
  auto finished = rr.finished->get_future();
  streaming_context ssc{c, seconds(1)};
  ssc.checkpoint(dir.str());
  ssc.receiver_stream(std::move(rr)).foreach_rdd([](const rdd<std::string>&) {});
  ssc.start();
  BOOST_REQUIRE(finished.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  ssc.stop();
  BOOST_TEST(done->load() == 20);
  BOOST_TEST(all_found->load());
  auto wal = receiver_wal::open(dir.str());
  BOOST_TEST(wal->block_count() == 20u);
}

BOOST_AUTO_TEST_CASE(wal_without_checkpoint_directory_is_refused_at_start) {
  auto c = fast_conf();
  c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
  streaming_context ssc{c, seconds(1)};
  ssc.receiver_stream(counting_receiver{1}).print();
  try {
    ssc.start();
    BOOST_FAIL("expected illegal_state");
  } catch (const illegal_state& e) {
    BOOST_TEST(std::string{e.what()}.find("ssc.checkpoint(dir)") != std::string::npos);
  }
}

namespace {

/// Stores ten blocks of 100 ints (0..999 in order) from a thread of its own,
/// one store(vector) each, and counts the stores that returned.
struct blocks_receiver : receiver<int> {
  struct progress {
    std::mutex mtx;
    std::condition_variable cv;
    int stored = 0;
    /// Waits until more than `n` stores returned, at most `d`.
    bool more_than(int n, std::chrono::milliseconds d) {
      std::unique_lock<std::mutex> g{mtx};
      return cv.wait_for(g, d, [&] { return stored > n; });
    }
    int count() {
      std::lock_guard<std::mutex> g{mtx};
      return stored;
    }
  };
  std::shared_ptr<progress> p = std::make_shared<progress>();
  std::thread t;
  void on_start() override {
    t = std::thread{[this] {
      for (int b = 0; b < 10 && !is_stopped(); ++b) {
        std::vector<int> block(100);
        std::iota(block.begin(), block.end(), b * 100);
        store(std::move(block)); // blocks while maxBufferedBlocks are unprocessed
        std::lock_guard<std::mutex> g{p->mtx};
        ++p->stored;
        p->cv.notify_all();
      }
    }};
  }
  void on_stop() override {
    if (t.joinable())
      t.join();
  }
};

/// A running context whose blocks_receiver stored its first three blocks,
/// as many as maxBufferedBlocks=3 lets it before a batch runs.
struct three_blocks_stored {
  std::shared_ptr<blocks_receiver::progress> p;
  run_state r;
  three_blocks_stored() : r{conf_with_three_blocks()} {
    blocks_receiver br;
    p = br.p;
    r.out.attach(r.ssc.receiver_stream(std::move(br)));
    r.ssc.start();
    BOOST_REQUIRE(p->more_than(2, std::chrono::seconds(20)));
  }
  static conf conf_with_three_blocks() {
    auto c = fast_conf();
    c.set("sluice.streaming.receiver.maxBufferedBlocks", "3");
    return c;
  }
};

void expect_all_blocks(run_state& r) {
  fixtures::advance_until(r.ssc, *r.counter, r.out, 1000, r.batches);
  r.ssc.stop();
  auto got = r.out.records();
  std::sort(got.begin(), got.end());
  std::vector<int> want(1000);
  std::iota(want.begin(), want.end(), 0);
  BOOST_TEST(got == want, boost::test_tools::per_element()); // nothing lost
}

} // namespace

BOOST_AUTO_TEST_CASE(under_overload_the_producer_is_held_back_not_buffered) {
  three_blocks_stored run;
  // No batch has run: the fourth block must wait (checked over 300 ms).
  BOOST_TEST(!run.p->more_than(3, std::chrono::milliseconds(300)));
  BOOST_TEST(run.p->count() == 3);
  expect_all_blocks(run.r);
}

BOOST_AUTO_TEST_CASE(the_batch_that_took_the_blocks_makes_room_when_it_completes) {
  // The bound counts blocks not processed yet: the three blocks of batch 1
  // leave it when batch 1 completes, not a batch later (when Spark's
  // remember duration lets their metadata go).
  three_blocks_stored run;
  auto& r = run.r;
  r.ssc.manual_clock().advance(r.ssc.batch_interval());
  r.counter->wait_for(++r.batches);
  BOOST_TEST(r.out.records().size() == 300u);
  BOOST_TEST(run.p->more_than(5, std::chrono::seconds(20)));
  BOOST_TEST(!run.p->more_than(6, std::chrono::milliseconds(300)));
  BOOST_TEST(run.p->count() == 6);
  expect_all_blocks(r);
}

BOOST_AUTO_TEST_CASE(backpressure_brings_processing_under_the_batch_interval) {
  // A slow operator (about 50 us of CPU per record) behind a receiver that
  // could store 40 000 records/s: without backpressure a 200 ms batch would
  // need about 400 ms. The PID estimator lowers the rate until it fits.
  conf c;
  c.master("local[2]").app_name("backpressure");
  c.set("sluice.streaming.blockInterval", "50ms");
  c.set("sluice.streaming.backpressure.enabled", "true");
  c.set("sluice.streaming.backpressure.initialRate", "40000");
  struct flood : receiver<int> {
    std::thread t;
    void on_start() override {
      t = std::thread{[this] {
        while (!is_stopped())
          store(1);
      }};
    }
    void on_stop() override {
      if (t.joinable())
        t.join();
    }
  };
  auto counter = std::make_shared<batch_counter>();
  streaming_context ssc{c, milliseconds(200)};
  ssc.add_listener(counter);
  ssc.receiver_stream(flood{})
    .map([](int x) {
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      while (std::chrono::steady_clock::now() < until) {
      }
      return x;
    })
    .count()
    .foreach_rdd([](const rdd<int64_t>&) {});
  ssc.start();
  counter->wait_for(50, std::chrono::seconds(60));
  ssc.stop();
  auto infos = counter->infos();
  // The last 10 batches: processing fits in the interval (median) and the
  // scheduling delay is bounded instead of growing batch after batch.
  std::vector<int64_t> proc;
  int64_t last_sched = 0;
  for (size_t i = infos.size() - 10; i < infos.size(); ++i) {
    proc.push_back(infos[i].processing_delay_us());
    last_sched = std::max(last_sched, infos[i].scheduling_delay_us());
  }
  std::sort(proc.begin(), proc.end());
  int64_t recent = 0;
  for (size_t i = infos.size() - 10; i < infos.size(); ++i)
    recent += infos[i].num_records / 10;
  BOOST_TEST_MESSAGE("median processing of the last 10 batches " << proc[5]
                     << " us, worst scheduling delay " << last_sched
                     << " us, mean records per batch " << recent);
  // The PID controller settles processing at about the interval (Spark's
  // target; measured 170-225 ms here); without it a batch would take
  // ~400 ms and the scheduling delay would grow by ~200 ms per batch.
  BOOST_TEST(proc[5] < 300'000);
  // Bounded: the delay does not grow over the last batches. Unbounded it
  // grows by ~200 ms a batch (~2 s in 10); an absolute bound failed on a
  // loaded 2-core machine (1.1-3.2 s seen there, still not growing).
  auto median_sched = [&](size_t end) {
    std::vector<int64_t> v;
    for (size_t i = end - 5; i < end; ++i)
      v.push_back(infos[i].scheduling_delay_us());
    std::sort(v.begin(), v.end());
    return v[2];
  };
  auto late = median_sched(infos.size()), early = median_sched(infos.size() - 10);
  BOOST_TEST_MESSAGE("median scheduling delay 10 batches apart: " << early << " -> " << late
                                                                   << " us");
  BOOST_TEST(late - early < 600'000);
  BOOST_TEST(last_sched < 10'000'000);
  // The rate came down from the initial 8000 records per batch. Where it
  // settles depends on the CPU the flooding receiver thread leaves the two
  // map cores (about 3900 in the release build, 6008 once under ASan), so
  // the bound says only that it came down: unbounded, a batch holds far
  // more than 8000.
  BOOST_TEST(recent < 7000);
}

BOOST_AUTO_TEST_CASE(an_injected_store_fault_restarts_the_receiver_and_loses_nothing_stored) {
  // receiver.store throws at its 3rd hit (seeded, reproducible, armed from
  // conf); the receiver catches it and asks for a restart.
  auto c = fast_conf();
  c.set("sluice.fault.receiver.store", "throw,after=2,times=1");
  struct resilient : receiver<int> {
    std::shared_ptr<std::atomic<int>> next = std::make_shared<std::atomic<int>>(0);
    std::thread t;
    void on_start() override {
      t = std::thread{[this] {
        try {
          while (*next < 5 && !is_stopped()) {
            store(next->load()); // a value is counted only once store returned
            ++*next;
          }
        } catch (const std::exception& e) {
          restart(e.what(), milliseconds(10));
        }
      }};
    }
    void on_stop() override {
      if (t.joinable())
        t.join();
    }
  };
  run_state r{c};
  r.out.attach(r.ssc.receiver_stream(resilient{}));
  r.ssc.start();
  fixtures::advance_until(r.ssc, *r.counter, r.out, 5, r.batches);
  r.ssc.stop();
  sluice::fault_injector::global().disarm_all();
  BOOST_TEST(r.out.records() == (std::vector<int>{0, 1, 2, 3, 4}), boost::test_tools::per_element());
  auto errors = r.events->errors();
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].last_error == "sluice: injected fault at receiver.store");
}
