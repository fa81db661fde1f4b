// End-to-end storage faults: a full or read-only disk under a running
// streaming_context stops it with an error that await_termination rethrows,
// never a silently lost checkpoint or block, and once there is room again
// get_or_create resumes from the last good checkpoint. The disks are real
// (tmpfs, ext4 on a loop device) in a private mount namespace, so this needs
// root; without it those cases are skipped, said on stderr, and the ctest
// reports "Skipped" (exit code 77). The fault points checkpoint.write and
// wal.append give the same contract without root (storage_fault_points_test).
#define BOOST_TEST_MODULE runtime/storage_faults
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <mutex>
#include <numeric>

#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/mounts.hpp"
#include "fixtures/storage_failure.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/error.hpp"

using namespace sluice;
using fixtures::advance_until_stopped;
using fixtures::batch_counter;
using fixtures::block_filler;
using fixtures::can_mount;
using fixtures::can_use_ext4;
using fixtures::completed_times;
using fixtures::contains;
using fixtures::manual_conf;
using fixtures::receive_until_stopped;
using fixtures::receiving_app;
using fixtures::stop_error;
using fixtures::temp_dir;
using fixtures::times_up_to;

namespace {

constexpr std::size_t MiB = 1024 * 1024;
using kv = std::pair<std::string, int>;

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
  fixtures::run_batches(ssc, 1);
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
    what = receive_until_stopped(ssc, *progress);
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
  fixtures::run_batches(ssc, 1);
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

int main(int argc, char* argv[]) {
  return fixtures::run_with_mounts("runtime/storage_faults", argc, argv, &init_unit_test);
}
