// End-to-end storage faults: a full or read-only disk under a running
// streaming_context stops it with an error that await_termination rethrows,
// never a silently lost checkpoint or block, and once there is room again
// get_or_create resumes from the last good checkpoint. The disks are real
// (tmpfs, ext4 on a loop device) in a private mount namespace, so this needs
// root; without it those cases are skipped, said on stderr, and the ctest
// reports "Skipped" (exit code 77). The fault points checkpoint.write and
// wal.append give the same contract without root.
#define BOOST_TEST_MODULE runtime/storage_faults
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/mounts.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/error.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::contains;
using fixtures::manual_conf;
using fixtures::temp_dir;
using fixtures::can_mount;
using fixtures::can_use_ext4;

namespace {

constexpr std::size_t MiB = 1024 * 1024;
using kv = std::pair<std::string, int>;

// -- helpers ------------------------------------------------------------------------

/// Disarms every fault point when the test ends, passed or not: the fault
/// injector is process-global.
struct fault_guard {
  fault_guard() { fault_injector::global().disarm_all(); }
  ~fault_guard() { fault_injector::global().disarm_all(); }
};

/// Waits (bounded) for `ssc` to stop by itself; returns the message of the
/// storage_error that await_termination_or_timeout rethrows, after checking
/// that await_termination rethrows it too (a storage failure keeps its type).
std::string stop_error(streaming_context& ssc, duration deadline = seconds(60)) {
  std::string what;
  try {
    if (ssc.await_termination_or_timeout(deadline))
      BOOST_FAIL("the context stopped without an error");
    ssc.stop();
    BOOST_FAIL("the context did not stop by itself within " << to_string(deadline));
  } catch (const storage_error& e) {
    what = e.what();
  }
  BOOST_CHECK_EXCEPTION(ssc.await_termination(), storage_error,
                        [&](const storage_error& e) { return e.what() == what; });
  return what;
}

std::vector<int64_t> completed_times(batch_counter& counter) {
  std::vector<int64_t> out;
  for (auto& info : counter.infos())
    out.push_back(info.time.ms);
  return out;
}

/// 1000, 2000, ..., n * 1000.
/// Advances the manual clock one batch at a time, each batch awaited (as a
/// running program's batches come, and so the checkpoint writes come in a
/// fixed order), until `batches` or the context stopped by itself (its
/// error is left for stop_error).
void advance_until_stopped(streaming_context& ssc, batch_counter& counter, int batches) {
  for (int i = 1; i <= batches; ++i) {
    ssc.manual_clock().advance(seconds(1));
    bool stopped = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!stopped && counter.completed() < i && std::chrono::steady_clock::now() < deadline) {
      try {
        stopped = ssc.await_termination_or_timeout(milliseconds(20));
      } catch (const std::exception&) {
        stopped = true;
      }
    }
    if (stopped)
      return;
  }
}

std::vector<int64_t> times_up_to(int n) {
  std::vector<int64_t> out;
  for (int j = 1; j <= n; ++j)
    out.push_back(j * 1000);
  return out;
}

// -- a stateful app: word counts checkpointed every batch --------------------------

/// What the output saw of the state after one batch.
struct state_seen {
  int64_t t;
  std::size_t keys;
  int all; ///< the count of "all"
  bool operator==(const state_seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const state_seen& s) {
  return os << s.t << ": " << s.keys << " keys, all=" << s.all;
}

struct seen_log {
  std::mutex mtx;
  std::vector<state_seen> batches;
  std::vector<state_seen> get() {
    std::lock_guard<std::mutex> guard{mtx};
    return batches;
  }
};

/// Batch j (from 1): `fresh` words never seen before ("b<j>-<i>") and "all".
std::vector<std::string> batch_words(int j, int fresh) {
  std::vector<std::string> out{"all"};
  for (int i = 0; i < fresh; ++i)
    out.push_back("b" + std::to_string(j) + "-" + std::to_string(i));
  return out;
}

/// The state after batch j of `batch_words`.
state_seen state_after(int j, int fresh) {
  return {j * 1000, static_cast<std::size_t>(j * fresh + 1), j};
}

/// Counts words with update_state_by_key, state checkpointed every batch
/// (metadata too) in `dir`. `after_output(t)` runs at the end of batch t's
/// output operation: after its state checkpoint, before its metadata one.
auto counting_app(std::string dir, std::vector<std::vector<std::string>> input,
                  std::shared_ptr<seen_log> out,
                  std::function<void(int64_t)> after_output = {}) {
  return [=] {
    streaming_context ssc{manual_conf(), seconds(1)};
    ssc.checkpoint(dir);
    ssc.queue_stream(input)
      .map([](std::string w) { return kv{std::move(w), 1}; })
      .update_state_by_key([](const std::vector<int>& vs, std::optional<int> s) {
        return std::optional<int>{s.value_or(0) + static_cast<int>(vs.size())};
      })
      .checkpoint(seconds(1))
      .foreach_rdd([out, after_output](const rdd<kv>& r, batch_time t) {
        state_seen s{t.ms, 0, 0};
        for (auto& [w, n] : r.collect()) {
          ++s.keys;
          if (w == "all")
            s.all = n;
        }
        {
          std::lock_guard<std::mutex> guard{out->mtx};
          out->batches.push_back(s);
        }
        if (after_output)
          after_output(t.ms);
      });
    return ssc;
  };
}

// -- a receiver storing blocks reliably --------------------------------------------

/// Stores blocks of `per_block` ints reliably, block b holding b * per_block
/// .. (b + 1) * per_block - 1, until a store throws or `limit` are stored.
struct block_filler : receiver<int> {
  struct progress {
    std::atomic<int> stored{0};  ///< blocks whose store returned
    std::mutex mtx;
    std::string error;           ///< what the failed store threw
    std::promise<void> done;
  };
  std::shared_ptr<progress> p = std::make_shared<progress>();
  int per_block;
  int limit;
  std::thread t;

  block_filler(int per, int lim) : per_block(per), limit(lim) {}
  block_filler(const block_filler& o)
      : receiver<int>(o), p(o.p), per_block(o.per_block), limit(o.limit) {}

  void on_start() override {
    t = std::thread{[this] {
      try {
        for (int b = p->stored; b < limit && !is_stopped(); ++b) {
          std::vector<int> xs(static_cast<std::size_t>(per_block));
          std::iota(xs.begin(), xs.end(), b * per_block);
          store(std::move(xs));
          ++p->stored;
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> guard{p->mtx};
        p->error = e.what();
      }
      try {
        p->done.set_value();
      } catch (const std::future_error&) {
        // started again: the first run's outcome stands
      }
    }};
  }
  void on_stop() override {
    if (t.joinable())
      t.join();
  }
};

/// Collects every record of a receiver stream, with the receiver WAL on.
auto receiving_app(std::string dir, block_filler r, std::shared_ptr<std::vector<int>> out,
                   std::shared_ptr<std::mutex> mtx,
                   std::map<std::string, std::string> extra = {}) {
  return [=] {
    auto c = manual_conf();
    c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
    for (auto& [key, value] : extra)
      c.set(key, value);
    streaming_context ssc{c, seconds(1)};
    ssc.checkpoint(dir);
    ssc.receiver_stream(r).foreach_rdd([out, mtx](const rdd<int>& rd) {
      std::lock_guard<std::mutex> guard{*mtx};
      for (int x : rd.collect())
        out->push_back(x);
    });
    return ssc;
  };
}

} // namespace

// -- full disk -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_full_disk_stops_the_context_and_recovery_resumes_from_the_last_checkpoint,
                     *boost::unit_test::precondition(can_mount)) {
  temp_dir base{"full-disk"};
  // Sized so that a few batches' checkpoints fit: SQLite's -wal file grows
  // by 64 KiB pages per commit until it fills the disk.
  fixtures::tmpfs disk{base.path() / "disk", 5 * MiB};
  auto dir = (disk.path() / "cp").string();
  constexpr int fresh = 2000;
  constexpr int planned = 60; // far more than fit
  std::vector<std::vector<std::string>> input;
  for (int j = 1; j <= planned; ++j)
    input.push_back(batch_words(j, fresh));
  auto seen = std::make_shared<seen_log>();
  std::string what;
  int last = 0; // the last batch reported completed
  {
    auto ssc = streaming_context::get_or_create(dir, counting_app(dir, input, seen));
    auto counter = std::make_shared<batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    advance_until_stopped(ssc, *counter, planned);
    what = stop_error(ssc);
    auto times = completed_times(*counter);
    last = static_cast<int>(times.size());
    // No batch after the failing one completes, none is skipped before it.
    BOOST_TEST(times == times_up_to(last), boost::test_tools::per_element());
  }
  BOOST_TEST_MESSAGE("stopped after batch " << last << " with: " << what);
  BOOST_REQUIRE(last >= 2);
  BOOST_TEST(last < planned);
  BOOST_TEST(contains(what, "database or disk is full"), what);
  BOOST_TEST(contains(what, dir + "/sluice.db"), what);
  std::vector<state_seen> expected;
  for (int j = 1; j <= last; ++j)
    expected.push_back(state_after(j, fresh));
  BOOST_TEST(seen->get() == expected, boost::test_tools::per_element());

  // Room again. A failed metadata checkpoint after batch `last` completed
  // leaves the one of its generation newest (`last` pending: it runs
  // again); a failed state checkpoint fails its batch, whose generation
  // checkpoint is then the newest (it runs again); a failed generation
  // checkpoint leaves batch `last`'s completed one newest.
  disk.resize(64 * MiB);
  bool metadata_failed =
    contains(what, "checkpoint after " + std::to_string(last * 1000) + " ms failed");
  int resumed = metadata_failed ? last - 1 : last;
  auto newest = checkpoint_store::open(dir)->latest_metadata().value();
  int64_t recovery_point = newest.batch_time_ms; // the batch the state is restored as of
  for (auto p : newest.pending_batches)
    recovery_point = std::min(recovery_point, p - 1000);
  BOOST_TEST(recovery_point == resumed * 1000);
  auto after = std::make_shared<seen_log>();
  auto ssc = streaming_context::get_or_create(
    dir, counting_app(dir, {batch_words(resumed + 1, fresh)}, after));
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.stop();
  ssc.await_termination();
  BOOST_TEST(after->get() == std::vector<state_seen>{state_after(resumed + 1, fresh)},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_full_disk_under_the_receiver_wal_fails_the_store_and_stops_the_context,
                     *boost::unit_test::precondition(can_mount)) {
  temp_dir base{"full-wal"};
  fixtures::tmpfs disk{base.path() / "disk", 4 * MiB};
  auto dir = (disk.path() / "cp").string();
  constexpr int per_block = 10'000;
  constexpr int limit = 1000; // far more than fit
  block_filler filler{per_block, limit};
  auto progress = filler.p;
  auto out = std::make_shared<std::vector<int>>();
  auto mtx = std::make_shared<std::mutex>();
  std::string what;
  {
    auto ssc = streaming_context::get_or_create(dir, receiving_app(dir, filler, out, mtx));
    auto counter = std::make_shared<batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    BOOST_REQUIRE(progress->done.get_future().wait_for(std::chrono::seconds(60))
                  == std::future_status::ready);
    what = stop_error(ssc);
    BOOST_TEST(counter->completed() == 0);
  }
  int stored = progress->stored;
  BOOST_TEST_MESSAGE(stored << " blocks stored, then: " << what);
  BOOST_TEST(stored >= 1);
  BOOST_TEST(stored < limit);
  // The store that failed threw to the receiver instead of returning.
  BOOST_TEST(contains(progress->error, "database or disk is full"), progress->error);
  BOOST_TEST(contains(what, "block " + std::to_string(stored) + " could not be stored"), what);
  BOOST_TEST(contains(what, "database or disk is full"), what);
  BOOST_TEST(contains(what, dir + "/sluice.db"), what);

  // Room again: the next run's first batch gets exactly the blocks whose
  // store returned (logged, never allocated), none of the failed one.
  disk.resize(64 * MiB);
  auto ssc =
    streaming_context::get_or_create(dir, receiving_app(dir, block_filler{0, 0}, out, mtx));
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.stop();
  ssc.await_termination();
  std::vector<int> expected(static_cast<std::size_t>(stored * per_block));
  std::iota(expected.begin(), expected.end(), 0);
  std::lock_guard<std::mutex> guard{*mtx};
  std::sort(out->begin(), out->end());
  BOOST_TEST(*out == expected);
}

// -- read-only disk ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_disk_turning_read_only_stops_the_context_at_the_next_checkpoint,
                     *boost::unit_test::precondition(can_use_ext4)) {
  temp_dir base{"ro-disk"};
  // A tmpfs cannot turn read-only while SQLite has files open on it (EBUSY);
  // ext4 with errors=remount-ro does when it records an error.
  fixtures::tmpfs holder{base.path() / "holder", 64 * MiB};
  fixtures::ext4_disk disk{holder.path() / "ext4.img", base.path() / "disk", 32 * MiB};
  auto dir = (disk.path() / "cp").string();
  constexpr int fresh = 100;
  std::vector<std::vector<std::string>> input;
  for (int j = 1; j <= 10; ++j)
    input.push_back(batch_words(j, fresh));
  auto seen = std::make_shared<seen_log>();
  std::string what;
  {
    // The disk fails during batch 3's output: after its state checkpoint,
    // before its metadata checkpoint.
    auto fail_at_3 = [&disk](int64_t t) {
      if (t == 3000)
        disk.fail();
    };
    auto ssc = streaming_context::get_or_create(dir, counting_app(dir, input, seen, fail_at_3));
    auto counter = std::make_shared<batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    ssc.manual_clock().advance(seconds(10));
    what = stop_error(ssc);
    // Batch 3 completed, then its metadata checkpoint failed; 4-10 never ran.
    BOOST_TEST(completed_times(*counter) == times_up_to(3), boost::test_tools::per_element());
  }
  BOOST_TEST_MESSAGE("stopped with: " << what);
  BOOST_TEST(contains(what, "checkpoint after 3000 ms failed: sluice: sqlite step of \"COMMIT\" "
                            "failed on " + dir + "/sluice.db: disk I/O error"), what);
  BOOST_TEST(contains(what, "the directory refuses writes: Read-only file system"), what);
  BOOST_TEST(seen->get() == (std::vector<state_seen>{state_after(1, fresh), state_after(2, fresh),
                                                     state_after(3, fresh)}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_program_restarted_on_a_read_only_disk_fails_in_get_or_create,
                     *boost::unit_test::precondition(can_mount)) {
  temp_dir base{"ro-restart"};
  fixtures::tmpfs disk{base.path() / "disk", 8 * MiB};
  auto dir = (disk.path() / "cp").string();
  auto seen = std::make_shared<seen_log>();
  auto app = counting_app(dir, {batch_words(1, 10), batch_words(2, 10)}, seen);
  {
    auto ssc = streaming_context::get_or_create(dir, app);
    auto counter = std::make_shared<batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    ssc.manual_clock().advance(seconds(2));
    counter->wait_for(2);
    ssc.stop();
  }
  disk.make_read_only(); // possible now: nothing has the database open
  try {
    auto ssc = streaming_context::get_or_create(dir, app);
    BOOST_FAIL("get_or_create on a read-only disk returned");
  } catch (const storage_error& e) {
    std::string what = e.what();
    BOOST_TEST_MESSAGE("get_or_create threw: " << what);
    BOOST_TEST(contains(what, dir + "/sluice.db"), what);
    BOOST_TEST(contains(what, "unable to open database file"), what);
    BOOST_TEST(contains(what, "the directory refuses writes: Read-only file system"), what);
  }
  BOOST_TEST(seen->get().size() == 2u);
}

// -- the same contract through the fault points (no root needed) -----------------------

namespace {

/// The word count of the injected checkpoint failures, run one batch at a
/// time (so its checkpoint writes come in a fixed order: two at start, then
/// per batch one at its generation and one after it completed) until
/// `batches` or the context stops; returns the error it stopped with.
std::string run_until_stopped(const conf& c, const std::string& dir, int batches,
                              std::vector<int64_t>& completed, int& outputs_run) {
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
  advance_until_stopped(ssc, *counter, batches);
  auto what = stop_error(ssc);
  completed = completed_times(*counter);
  outputs_run = *outputs;
  return what;
}

} // namespace

BOOST_AUTO_TEST_CASE(an_injected_checkpoint_write_failure_stops_the_context) {
  fault_guard faults;
  temp_dir dir{"fault-checkpoint"};
  auto c = manual_conf();
  // Hits 1-2 are the two metadata checkpoints written at start, then two per
  // batch (generated, completed): hit 10 is the one after batch 4 completed.
  c.set("sluice.fault.checkpoint.write", "fail_write,after=9");
  std::vector<int64_t> completed;
  int outputs = 0;
  auto what = run_until_stopped(c, dir.str(), 8, completed, outputs);
  // Batch 4 completed before its metadata checkpoint failed; 5-8 never ran.
  BOOST_TEST(completed == times_up_to(4), boost::test_tools::per_element());
  BOOST_TEST(what
             == "checkpoint after 4000 ms failed: sluice: injected write failure at "
                "checkpoint.write: metadata checkpoint 4000 not written to "
                  + dir.str() + "/sluice.db");
  BOOST_TEST(outputs == 4);
  BOOST_TEST(fault_injector::global().fires(fault_points::checkpoint_write) == 1u);
  fault_injector::global().disarm_all();
  // The newest stored is batch 4's, written when it was generated, with 4
  // pending: a restart runs it again.
  auto newest = checkpoint_store::open(dir.str())->latest_metadata().value();
  BOOST_TEST(newest.batch_time_ms == 4000);
  BOOST_TEST(newest.pending_batches == std::vector<int64_t>{4000}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_checkpoint_at_a_batch_s_generation_keeps_the_batch_from_running) {
  fault_guard faults;
  temp_dir dir{"fault-generation"};
  auto c = manual_conf();
  // Hit 7 is batch 3's generation checkpoint (2 at start, 2 per batch).
  c.set("sluice.fault.checkpoint.write", "fail_write,after=6");
  std::vector<int64_t> completed;
  int outputs = 0;
  auto what = run_until_stopped(c, dir.str(), 5, completed, outputs);
  BOOST_TEST(completed == times_up_to(2), boost::test_tools::per_element());
  BOOST_TEST(what
             == "checkpoint at the generation of 3000 ms failed: sluice: injected write failure "
                "at checkpoint.write: metadata checkpoint 3000 not written to "
                  + dir.str() + "/sluice.db");
  BOOST_TEST(outputs == 2); // batch 3's input was never fixed, so it never ran
  fault_injector::global().disarm_all();
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
    auto counter = std::make_shared<batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    BOOST_REQUIRE(progress->done.get_future().wait_for(std::chrono::seconds(60))
                  == std::future_status::ready);
    what = stop_error(ssc);
    BOOST_TEST(counter->completed() == 0);
  }
  BOOST_TEST(progress->stored == 0);
  BOOST_TEST(contains(progress->error, "injected write failure at wal.append"), progress->error);
  BOOST_TEST(what
             == "receiver stream 0: block 0 could not be stored: sluice: injected write failure "
                "at wal.append: block 0/0 not written to "
                  + dir.str() + "/sluice.db");
  BOOST_TEST(fault_injector::global().fires(fault_points::wal_append) == 1u);
}

int main(int argc, char* argv[]) {
  return fixtures::run_with_mounts("runtime/storage_faults", argc, argv, &init_unit_test);
}
