#define BOOST_TEST_MODULE runtime/replay
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "fixtures/harness.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/error.hpp"

// Recovery re-runs the batches after the newest state checkpoint (at most
// one checkpoint interval): replayable sources give those batches exactly the
// input they had before, so the results equal an uninterrupted run's.

using namespace sluice;
using fixtures::batch_output;
using fixtures::manual_conf;
using fixtures::run_batches;
using fixtures::temp_dir;

namespace {

using kv = std::pair<std::string, int>;
using outputs = std::vector<batch_output<kv>>;

/// Cumulative word counts of the files arriving in `in`, with Spark's
/// default state checkpoint interval (10 s: only the first batch of a run
/// is checkpointed in these short runs).
auto program(const temp_dir& cp, const temp_dir& in, std::shared_ptr<outputs> out) {
  return [&cp, &in, out] {
    streaming_context ssc{manual_conf(), seconds(1)};
    ssc.checkpoint(cp.str());
    fixtures::record_sorted(
      ssc.text_file_stream(in.str())
        .map([](std::string w) { return kv{std::move(w), 1}; })
        .update_state_by_key([](const std::vector<int>& vs, std::optional<int> s) {
          return std::optional<int>{s.value_or(0) + static_cast<int>(vs.size())};
        }),
      out);
    return ssc;
  };
}

void drop(const temp_dir& in, const std::string& name, const std::string& text) {
  auto tmp = in.path() / ("." + name);
  std::ofstream{tmp} << text;
  std::filesystem::rename(tmp, in.path() / name);
}

} // namespace

BOOST_AUTO_TEST_CASE(re_run_file_batches_read_the_files_they_read_before) {
  temp_dir cp{"replay-cp"};
  temp_dir in{"replay-in"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(cp.str(), program(cp, in, first));
    run_batches(ssc, 4, [&](int i) { drop(in, "f" + std::to_string(i), "a\nb" + std::to_string(i) + "\n"); });
  }
  BOOST_REQUIRE(first->size() == 4u);
  BOOST_TEST((first->back().records == std::vector<kv>{{"a", 4}, {"b1", 1}, {"b2", 1}, {"b3", 1}, {"b4", 1}}));
  // Arrives while the program is down; read after the re-run batches.
  drop(in, "g", "a\nc\n");
  auto second = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(cp.str(), program(cp, in, second));
    run_batches(ssc, 4);
  }
  // The state of 1 s is the newest checkpoint: 2 s .. 4 s run again, on f2 .. f4.
  BOOST_REQUIRE(second->size() == 4u);
  for (size_t i = 0; i < 3; ++i)
    BOOST_TEST((*second)[i] == (*first)[i + 1]);
  BOOST_TEST((*second)[3].t == 5000);
  BOOST_TEST(((*second)[3].records
              == std::vector<kv>{{"a", 5}, {"b1", 1}, {"b2", 1}, {"b3", 1}, {"b4", 1}, {"c", 1}}));
}

BOOST_AUTO_TEST_CASE(a_file_gone_before_its_batch_is_replayed_stops_the_context_naming_it) {
  temp_dir cp{"replay-gone-cp"};
  temp_dir in{"replay-gone-in"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(cp.str(), program(cp, in, first));
    run_batches(ssc, 2, [&](int i) { drop(in, "f" + std::to_string(i), "x\n"); });
  }
  std::filesystem::remove(in.path() / "f2");
  auto second = std::make_shared<outputs>();
  auto ssc = streaming_context::get_or_create(cp.str(), program(cp, in, second));
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  try {
    ssc.await_termination();
    BOOST_FAIL("expected the replay to fail");
  } catch (const std::exception& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("cannot replay batch 2000 ms after recovery: its file '"
                        + (in.path() / "f2").string() + "' is gone")
                 != std::string::npos,
               msg);
  }
  BOOST_TEST(second->empty());
}

namespace {

/// A receiver whose records the test hands over one store at a time; each
/// store is reliable (in the WAL when it returns).
struct feed {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::vector<int>> todo;
  int stored = 0;
  bool stopping = false;

  /// Stores `records` through the receiver and waits until the store returned.
  void store(std::vector<int> records) {
    std::unique_lock<std::mutex> guard{m};
    int target = stored + 1;
    todo.push_back(std::move(records));
    cv.notify_all();
    if (!cv.wait_for(guard, std::chrono::seconds(20), [&] { return stored >= target; }))
      throw std::runtime_error("the receiver did not store in time");
  }
};

struct fed_receiver : receiver<int> {
  std::shared_ptr<feed> f;
  std::thread t;
  explicit fed_receiver(std::shared_ptr<feed> x) : f(std::move(x)) {}
  fed_receiver(const fed_receiver& o) : receiver<int>(o), f(o.f) {}
  void on_start() override {
    t = std::thread{[this] {
      std::unique_lock<std::mutex> guard{f->m};
      for (;;) {
        f->cv.wait(guard, [&] { return f->stopping || !f->todo.empty(); });
        if (f->stopping)
          return;
        auto records = std::move(f->todo.front());
        f->todo.pop_front();
        guard.unlock();
        store(std::move(records));
        guard.lock();
        ++f->stored;
        f->cv.notify_all();
      }
    }};
  }
  void on_stop() override {
    {
      std::lock_guard<std::mutex> guard{f->m};
      f->stopping = true;
    }
    f->cv.notify_all();
    if (t.joinable())
      t.join();
  }
};

using ikv = std::pair<int, int>;

/// Sums of the received numbers by parity, cumulative (default interval).
auto sums_program(const temp_dir& cp, std::shared_ptr<feed> f,
                  std::shared_ptr<std::vector<batch_output<ikv>>> out) {
  return [&cp, f, out] {
    auto c = manual_conf();
    c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
    streaming_context ssc{c, seconds(1)};
    ssc.checkpoint(cp.str());
    fixtures::record_sorted(ssc.receiver_stream(fed_receiver{f})
                              .map([](int x) { return ikv{x % 2, x}; })
                              .update_state_by_key([](const std::vector<int>& xs,
                                                      std::optional<int> s) {
                                int sum = s.value_or(0);
                                for (int x : xs)
                                  sum += x;
                                return std::optional<int>{sum};
                              }),
                            out);
    return ssc;
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(re_run_receiver_batches_get_their_blocks_from_the_wal) {
  temp_dir cp{"replay-wal-cp"};
  auto first = std::make_shared<std::vector<batch_output<ikv>>>();
  {
    auto f = std::make_shared<feed>();
    auto ssc = streaming_context::get_or_create(cp.str(), sums_program(cp, f, first));
    run_batches(ssc, 4, [&](int i) { f->store({i * 10, i * 10 + 1}); });
  }
  BOOST_REQUIRE(first->size() == 4u);
  BOOST_TEST((first->back().records == std::vector<ikv>{{0, 100}, {1, 104}}));
  // The state of 1 s is the newest checkpoint: 2 s .. 4 s run again, on the
  // blocks the WAL kept for them, then 5 s takes a new store.
  auto second = std::make_shared<std::vector<batch_output<ikv>>>();
  {
    auto f = std::make_shared<feed>();
    auto ssc = streaming_context::get_or_create(cp.str(), sums_program(cp, f, second));
    run_batches(ssc, 4, [&](int i) {
      if (i == 4)
        f->store({50});
    });
  }
  BOOST_REQUIRE(second->size() == 4u);
  for (size_t i = 0; i < 3; ++i)
    BOOST_TEST((*second)[i] == (*first)[i + 1]);
  BOOST_TEST((*second)[3].t == 5000);
  BOOST_TEST(((*second)[3].records == std::vector<ikv>{{0, 150}, {1, 104}}));
}

BOOST_AUTO_TEST_CASE(before_the_first_batch_checkpoint_allocated_wal_blocks_go_to_their_batch) {
  // The first run allocates a stored block to 1 s and dies before that
  // batch's completed metadata checkpoint (the write fails). The checkpoint
  // written when 1 s was generated is recovered: 1 s runs again, with its
  // block.
  struct disarm {
    ~disarm() { fault_injector::global().disarm_all(); }
  } guard;
  temp_dir cp{"replay-nometa-cp"};
  auto program = [&](std::shared_ptr<feed> f, std::shared_ptr<std::vector<batch_output<int>>> out,
                     bool failing) {
    auto c = manual_conf();
    c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
    if (failing) // after the two written at start and 1 s's at its generation
      c.set("sluice.fault.checkpoint.write", "fail_write,after=3");
    streaming_context ssc{c, seconds(1)};
    ssc.checkpoint(cp.str());
    ssc.receiver_stream(fed_receiver{f}).foreach_rdd([out](const rdd<int>& r, batch_time t) {
      auto v = r.collect();
      std::sort(v.begin(), v.end());
      out->push_back({t.ms, std::move(v)});
    });
    return ssc;
  };
  auto first = std::make_shared<std::vector<batch_output<int>>>();
  {
    auto f = std::make_shared<feed>();
    auto ssc = program(f, first, true);
    ssc.start();
    f->store({1, 2});
    ssc.manual_clock().advance(seconds(1));
    BOOST_CHECK_THROW(ssc.await_termination(), storage_error);
  }
  fault_injector::global().disarm_all();
  BOOST_TEST(*first == (std::vector<batch_output<int>>{{1000, {1, 2}}}),
             boost::test_tools::per_element());
  auto second = std::make_shared<std::vector<batch_output<int>>>();
  auto f = std::make_shared<feed>();
  auto ssc = streaming_context::get_or_create(cp.str(), [&] { return program(f, second, false); });
  run_batches(ssc, 2);
  BOOST_TEST(*second == (std::vector<batch_output<int>>{{1000, {1, 2}}, {2000, {}}}),
             boost::test_tools::per_element());
}
