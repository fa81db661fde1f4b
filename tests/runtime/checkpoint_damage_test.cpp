#define BOOST_TEST_MODULE runtime/checkpoint_damage
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/sqlite_db.hpp"
#include "sluice/error.hpp"

// A damaged checkpoint is never a silent fresh start (issue 9, finding 1):
// recovery falls back to an older generation whose metadata and state both
// verify, refuses with a storage_error naming the directory when none does,
// and starts over only when asked to. And a database changed under a running
// program stops it (finding 2).

using namespace sluice;
using fixtures::contains;
using fixtures::manual_conf;
using fixtures::temp_dir;
namespace fs = std::filesystem;

namespace {

using kv = std::pair<std::string, int64_t>;

/// Captures what the code under test writes to std::cerr.
struct cerr_capture {
  std::ostringstream text;
  std::streambuf* old = std::cerr.rdbuf(text.rdbuf());
  ~cerr_capture() { std::cerr.rdbuf(old); }
  std::string str() const { return text.str(); }
};

/// A cumulative word count over the files of a directory, with a state
/// checkpoint at every batch: what `recoverable_file_word_count` does.
struct word_count_job {
  temp_dir cp{"damage-cp"};
  temp_dir in{"damage-in"};
  int files = 0;
  std::map<std::string, int64_t> expected;

  /// Drops a file of three words; "common" is in every file.
  void drop_file() {
    auto n = files++;
    std::string text = "common w" + std::to_string(n % 3) + " f" + std::to_string(n) + "\n";
    ++expected["common"];
    ++expected["w" + std::to_string(n % 3)];
    ++expected["f" + std::to_string(n)];
    auto tmp = in.path() / (".part-" + std::to_string(n));
    std::ofstream{tmp} << text;
    fs::rename(tmp, in.path() / ("part-" + std::to_string(n)));
  }

  std::vector<kv> expected_counts() const { return {expected.begin(), expected.end()}; }

  streaming_context context(std::shared_ptr<std::vector<kv>> last, conf c = manual_conf()) {
    return streaming_context::get_or_create(cp.str(), [&, last, c] {
      streaming_context ssc{c, seconds(1)};
      ssc.checkpoint(cp.str());
      ssc.text_file_stream(in.str())
        .flat_map([](const std::string& line) {
          std::vector<std::string> words;
          std::istringstream s{line};
          for (std::string w; s >> w;)
            words.push_back(w);
          return words;
        })
        .map([](std::string w) { return kv{std::move(w), 1}; })
        .update_state_by_key([](const std::vector<int64_t>& ns, std::optional<int64_t> total) {
          int64_t sum = total.value_or(0);
          for (auto n : ns)
            sum += n;
          return std::optional<int64_t>{sum};
        })
        .checkpoint(seconds(1))
        .foreach_rdd([last](const rdd<kv>& r) {
          auto v = r.collect();
          std::sort(v.begin(), v.end());
          *last = std::move(v);
        });
      return ssc;
    });
  }

  /// Runs `batches` batches, a new file before each; returns the last counts.
  std::vector<kv> run(int batches, conf c = manual_conf()) {
    auto last = std::make_shared<std::vector<kv>>();
    auto ssc = context(last, c);
    auto counter = std::make_shared<fixtures::batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    for (int i = 1; i <= batches; ++i) {
      drop_file();
      ssc.manual_clock().advance(seconds(1));
      counter->wait_for(i);
    }
    ssc.stop();
    ssc.await_termination();
    return *last;
  }

  fs::path db() const { return cp.path() / "sluice.db"; }

  /// Corrupts the payload of the `n` newest metadata rows.
  void corrupt_newest_metadata(int n) {
    fixtures::raw_db raw{db()};
    for (int i = 0; i < n; ++i)
      raw.flip_payload_byte("checkpoint_metadata",
                            raw.query_int64("SELECT row_id FROM checkpoint_metadata ORDER BY "
                                            "batch_time_ms DESC, written DESC LIMIT 1 OFFSET "
                                            + std::to_string(i)),
                            20);
  }
};

/// "word count" lines, for messages that show what differs.
std::string show(const std::vector<kv>& counts) {
  std::string out;
  for (auto& [w, n] : counts)
    out += w + " " + std::to_string(n) + "\n";
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(ten_generations_are_kept_by_default_and_the_count_is_a_conf_key) {
  word_count_job job;
  job.run(14);
  {
    fixtures::raw_db raw{job.db()};
    // Two rows a batch (generated, completed): the newest ten are batches 10-14's.
    BOOST_TEST(raw.query_int64("SELECT count(*) FROM checkpoint_metadata") == 10);
    BOOST_TEST(raw.query_int64("SELECT min(batch_time_ms) FROM checkpoint_metadata") == 10000);
  }
  auto c = manual_conf();
  c.set("sluice.streaming.checkpoint.retained", "3");
  job.run(1, c);
  fixtures::raw_db raw{job.db()};
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM checkpoint_metadata") == 3);
  BOOST_CHECK_THROW(manual_conf().set("sluice.streaming.checkpoint.retained", "0").validate(),
                    invalid_argument);
}

BOOST_AUTO_TEST_CASE(damaged_newer_generations_fall_back_to_an_older_good_one) {
  word_count_job job;
  job.run(6);
  job.corrupt_newest_metadata(6); // 6000, 5000 and 4000 ms, each generated and completed
  cerr_capture err;
  auto counts = job.run(2);
  BOOST_TEST(show(counts) == show(job.expected_counts()));
  BOOST_TEST(contains(err.str(), "the metadata checkpoint of batch time 4000 is damaged"),
             err.str());
  BOOST_TEST(contains(err.str(), "recovering from the previous good checkpoint, of batch time "
                                 "3000 ms"),
             err.str());
}

BOOST_AUTO_TEST_CASE(a_generation_whose_state_is_damaged_is_passed_over) {
  word_count_job job;
  job.run(6);
  {
    fixtures::raw_db raw{job.db()};
    raw.flip_payload_byte(
      "checkpoint_state",
      raw.query_int64("SELECT row_id FROM checkpoint_state WHERE batch_time_ms = 6000 LIMIT 1"),
      12);
  }
  cerr_capture err;
  auto counts = job.run(2);
  BOOST_TEST(show(counts) == show(job.expected_counts()));
  BOOST_TEST(contains(err.str(), "the metadata checkpoint of batch time 6000 needs a damaged "
                                 "state checkpoint"),
             err.str());
  // The next, batch 6's generation checkpoint (6 pending), needs the state
  // as of 5000 only.
  BOOST_TEST(contains(err.str(), "of batch time 6000 ms"), err.str());
}

BOOST_AUTO_TEST_CASE(the_newest_good_generation_is_used_without_a_word) {
  word_count_job job;
  job.run(3);
  cerr_capture err;
  auto counts = job.run(1);
  BOOST_TEST(show(counts) == show(job.expected_counts()));
  BOOST_TEST(!contains(err.str(), "previous good checkpoint"), err.str());
}

BOOST_AUTO_TEST_CASE(when_no_generation_verifies_get_or_create_refuses) {
  word_count_job job;
  job.run(3);
  job.corrupt_newest_metadata(8); // every row: two at start (0 ms), two of 1000, 2000, 3000
  auto last = std::make_shared<std::vector<kv>>();
  try {
    job.context(last);
    BOOST_FAIL("expected storage_corruption");
  } catch (const storage_corruption& e) {
    std::string msg = e.what();
    BOOST_TEST(contains(msg, "cannot recover from the checkpoint in " + job.cp.str()), msg);
    BOOST_TEST(contains(msg, "no checkpoint in " + job.db().string() + " can be recovered"),
               msg);
    BOOST_TEST(contains(msg, "the metadata checkpoint of batch time 3000 is damaged"), msg);
    BOOST_TEST(contains(msg, "set sluice.streaming.checkpoint.startFreshIfCorrupt=true"), msg);
  }
}

BOOST_AUTO_TEST_CASE(starting_fresh_over_damage_only_when_asked_and_it_says_so) {
  word_count_job job;
  job.run(3);
  job.corrupt_newest_metadata(8);
  auto c = manual_conf();
  c.set("sluice.streaming.checkpoint.startFreshIfCorrupt", "true");
  cerr_capture err;
  job.expected.clear(); // a fresh start counts the new files only
  auto counts = job.run(1, c);
  BOOST_TEST(show(counts) == show(job.expected_counts()));
  BOOST_TEST(contains(err.str(), "is damaged"), err.str());
  BOOST_TEST(contains(err.str(), "starting fresh, as "
                                 "sluice.streaming.checkpoint.startFreshIfCorrupt=true asks"),
             err.str());
  int kept = 0;
  for (auto& e : fs::directory_iterator{job.cp.path()})
    kept += e.path().filename().string().starts_with("sluice.db.damaged-") ? 1 : 0;
  BOOST_TEST(kept >= 1);
}

BOOST_AUTO_TEST_CASE(an_empty_or_foreign_database_file_is_refused) {
  word_count_job job;
  job.run(2);
  fs::resize_file(job.db(), 0);
  auto last = std::make_shared<std::vector<kv>>();
  try {
    job.context(last);
    BOOST_FAIL("expected storage_error");
  } catch (const storage_error& e) {
    BOOST_TEST(contains(e.what(), job.db().string() + " is empty (0 bytes)"), e.what());
  }
  std::ofstream{job.db(), std::ios::trunc} << std::string(8192, 'x');
  BOOST_CHECK_THROW(job.context(last), storage_error);
}

BOOST_AUTO_TEST_CASE(random_damage_never_becomes_a_silent_fresh_start) {
  // The probe of issue 9: random bytes XORed into the middle of the file.
  int recovered = 0, refused = 0;
  for (unsigned seed = 1; seed <= 10; ++seed) {
    word_count_job job;
    job.run(8);
    {
      std::mt19937 rng{seed};
      std::fstream f{job.db(), std::ios::in | std::ios::out | std::ios::binary};
      auto size = static_cast<std::streamoff>(fs::file_size(job.db()));
      // The middle, as the probe; then somewhere in the middle half:
      // page headers, cells or payloads.
      auto at = seed <= 5 ? size / 2
                          : size / 4
                              + static_cast<std::streamoff>(rng()
                                                            % static_cast<unsigned>(size / 2));
      std::string bytes(256, '\0');
      f.seekg(at);
      f.read(bytes.data(), 256);
      for (auto& b : bytes)
        b = static_cast<char>(b ^ static_cast<char>(rng() | 1));
      f.seekp(at);
      f.write(bytes.data(), 256);
    }
    try {
      auto counts = job.run(2);
      BOOST_TEST(show(counts) == show(job.expected_counts()), "seed " << seed);
      ++recovered;
    } catch (const storage_error& e) {
      BOOST_TEST_MESSAGE("seed " << seed << ": refused: " << e.what());
      BOOST_TEST(contains(e.what(), job.db().string()), e.what());
      ++refused;
    }
  }
  BOOST_TEST_MESSAGE(recovered << " recovered exactly, " << refused << " refused");
  BOOST_TEST(recovered + refused == 10);
}

namespace {

/// Runs one batch, lets `tamper` change the database under the running
/// context, runs the next batch and returns the storage_error that stopped it.
template <class Tamper>
std::string stop_error_after(word_count_job& job, Tamper tamper) {
  auto last = std::make_shared<std::vector<kv>>();
  auto ssc = job.context(last);
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  tamper();
  ssc.manual_clock().advance(seconds(1));
  try {
    if (!ssc.await_termination_or_timeout(seconds(20)))
      return "the context kept running";
  } catch (const storage_error& e) {
    return e.what();
  }
  return "the context stopped without a storage_error";
}

} // namespace

BOOST_AUTO_TEST_CASE(a_deleted_wal_file_stops_the_running_context) {
  word_count_job job;
  auto what = stop_error_after(job, [&] { fs::remove(job.db().string() + "-wal"); });
  BOOST_TEST(contains(what, job.db().string() + "-wal was deleted while the program was "
                                                "writing it"),
             what);
}

BOOST_AUTO_TEST_CASE(a_replaced_database_file_stops_the_running_context) {
  word_count_job job;
  auto what = stop_error_after(job, [&] {
    auto copy = job.cp.path() / "copy.db";
    fs::copy_file(job.db(), copy);
    fs::rename(copy, job.db());
  });
  BOOST_TEST(contains(what, job.db().string() + " was replaced by another file"), what);
}
