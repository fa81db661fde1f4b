// The contract of runtime/storage_faults without root: the fault points
// checkpoint.write and wal.append fail a checkpoint write or a receiver WAL
// append, which stops the running streaming_context with an error that
// await_termination rethrows. A slow checkpoint write (a delay at
// checkpoint.write) holds back output operations, not the batches' stages.
#define BOOST_TEST_MODULE runtime/storage_fault_points
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "fixtures/child_process.hpp"
#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/storage_failure.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/fault_injector.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::block_filler;
using fixtures::contains;
using fixtures::receive_until_stopped;
using fixtures::receiving_app;
using fixtures::temp_dir;
using fixtures::times_up_to;

namespace {

using kv = std::pair<std::string, int>;

/// Disarms every fault point when the test ends, passed or not: the fault
/// injector is process-global.
struct fault_guard {
  fault_guard() { fault_injector::global().disarm_all(); }
  ~fault_guard() { fault_injector::global().disarm_all(); }
};

/// What a run of the word count left when it stopped.
struct stopped_run {
  std::string what;               ///< the error it stopped with
  std::vector<int64_t> completed; ///< the times of the batches completed
  int outputs = 0;                ///< how often the output operation ran
};

/// The word count of the injected checkpoint failures, with
/// sluice.fault.checkpoint.write set to `fault`, run one batch at a time (so
/// its checkpoint writes come in a fixed order: two at start, then per batch
/// one at its generation and one after it completed) until `batches` or the
/// context stops.
stopped_run run_until_stopped(const std::string& fault, const std::string& dir, int batches) {
  auto c = fixtures::manual_conf();
  c.set("sluice.fault.checkpoint.write", fault);
  auto outputs = std::make_shared<std::atomic<int>>(0);
  streaming_context ssc{c, seconds(1)};
  ssc.checkpoint(dir);
  ssc.queue_stream<std::string>({{"a"}, {"b"}})
    .map([](std::string w) { return kv{std::move(w), 1}; })
    .reduce_by_key(std::plus<int>{})
    .foreach_rdd([outputs](const rdd<kv>&) { ++*outputs; });
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  fixtures::advance_until_stopped(ssc, *counter, batches);
  auto what = fixtures::stop_error(ssc);
  return {what, fixtures::completed_times(*counter), *outputs};
}

} // namespace

BOOST_AUTO_TEST_CASE(an_injected_checkpoint_write_failure_stops_the_context) {
  fault_guard faults;
  temp_dir dir{"fault-checkpoint"};
  // Hits 1-2 are the two metadata checkpoints written at start, then two per
  // batch (generated, completed): hit 10 is the one after batch 4 completed.
  auto run = run_until_stopped("fail_write,after=9", dir.str(), 8);
  // Batch 4 completed before its metadata checkpoint failed; 5-8 never ran.
  BOOST_TEST(run.completed == times_up_to(4), boost::test_tools::per_element());
  BOOST_TEST(run.what
             == "checkpoint after 4000 ms failed: sluice: injected write failure at "
                "checkpoint.write: metadata checkpoint 4000 not written to "
                  + dir.str() + "/sluice.db");
  BOOST_TEST(run.outputs == 4);
  BOOST_TEST(fault_injector::global().fires(fault_points::checkpoint_write) == 1u);
  fault_injector::global().disarm_all();
  // The newest stored is batch 4's, written when it was generated, with 4
  // pending: a restart runs it again.
  auto newest = checkpoint_store::open(dir.str())->latest_metadata().value();
  BOOST_TEST(newest.batch_time_ms == 4000);
  BOOST_TEST(newest.pending_batches == std::vector<int64_t>{4000}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_checkpoint_at_a_batch_s_generation_keeps_its_output_from_running) {
  fault_guard faults;
  temp_dir dir{"fault-generation"};
  // Hit 7 is batch 3's generation checkpoint (2 at start, 2 per batch).
  auto run = run_until_stopped("fail_write,after=6", dir.str(), 5);
  BOOST_TEST(run.completed == times_up_to(2), boost::test_tools::per_element());
  BOOST_TEST(run.what
             == "checkpoint at the generation of 3000 ms failed: sluice: injected write failure "
                "at checkpoint.write: metadata checkpoint 3000 not written to "
                  + dir.str() + "/sluice.db");
  BOOST_TEST(run.outputs == 2); // batch 3's input was never fixed, so its output never ran
  fault_injector::global().disarm_all();
  auto newest = checkpoint_store::open(dir.str())->latest_metadata().value();
  BOOST_TEST(newest.batch_time_ms == 2000);
  BOOST_TEST(newest.pending_batches.empty());
}

BOOST_AUTO_TEST_CASE(a_slow_checkpoint_write_holds_back_outputs_but_not_the_next_batch) {
  fault_guard faults;
  temp_dir dir{"fault-slow"};
  auto c = fixtures::manual_conf();
  // Hit 4 is batch 1's completion checkpoint (2 at start, then batch 1's
  // generation and completion): the writer sleeps 4 s in it.
  c.set("sluice.fault.checkpoint.write", "delay:4000ms,after=3,times=1");
  auto mapped = std::make_shared<std::atomic<int>>(0);
  auto outputs = std::make_shared<std::atomic<int>>(0);
  streaming_context ssc{c, seconds(1)};
  ssc.checkpoint(dir.str());
  ssc.queue_stream<std::string>({{"a"}, {"b"}})
    .map([mapped](std::string w) {
      ++*mapped;
      return kv{std::move(w), 1};
    })
    .reduce_by_key(std::plus<int>{})
    .foreach_rdd([outputs](const rdd<kv>&) { ++*outputs; });
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.manual_clock().advance(seconds(1));
  // Batch 2 runs its stages while batch 1's completion checkpoint is being
  // written (they waited for it before: 4 s)...
  BOOST_TEST(fixtures::eventually([&] { return mapped->load() == 2; },
                                  std::chrono::milliseconds(3000)));
  // ...but not its output: batch 2's generation checkpoint, queued behind
  // the slow one, fixes its input first.
  BOOST_TEST(outputs->load() == 1);
  BOOST_TEST(counter->completed() == 1);
  counter->wait_for(2);
  BOOST_TEST(outputs->load() == 2);
  BOOST_TEST(fault_injector::global().fires(fault_points::checkpoint_write) == 1u);
  ssc.stop(false);
  // Both completion checkpoints were stored before stop returned.
  auto newest = checkpoint_store::open(dir.str())->latest_metadata().value();
  BOOST_TEST(newest.batch_time_ms == 2000);
  BOOST_TEST(newest.pending_batches.empty());
}

BOOST_AUTO_TEST_CASE(an_injected_wal_append_failure_fails_the_store_and_stops_the_context) {
  fault_guard faults;
  temp_dir dir{"fault-wal"};
  block_filler filler{3, 5};
  auto progress = filler.p;
  auto out = std::make_shared<std::vector<int>>();
  auto mtx = std::make_shared<std::mutex>();
  std::string what;
  {
    auto ssc =
      receiving_app(dir.str(), filler, out, mtx, {{"sluice.fault.wal.append", "fail_write"}})();
    what = receive_until_stopped(ssc, *progress);
  }
  BOOST_TEST(progress->stored == 0);
  BOOST_TEST(contains(progress->error, "injected write failure at wal.append"), progress->error);
  BOOST_TEST(what
             == "receiver stream 0: block 0 could not be stored: sluice: injected write failure "
                "at wal.append: block 0/0 not written to "
                  + dir.str() + "/sluice.db");
  BOOST_TEST(fault_injector::global().fires(fault_points::wal_append) == 1u);
}
