// A checkpoint written by an older build of a program is recovered by the
// current build of the same program (the same graph), with exact results.
// The checkpoint in tests/data/checkpoint_v1 was written by
// samples/recoverable_file_word_count built at commit d0b1b4f and killed with
// SIGKILL (its README says how); this test restores it from its SQL dump and
// runs the current build of the sample on it.
//
// This file is compiled twice: as the test, and with SLUICE_CLOCK_SHIM as a
// small LD_PRELOAD module that shifts the child's wall clock (see below).

#ifdef SLUICE_CLOCK_SHIM

// The recovered run generates every batch between the checkpoint's last one
// and "now" (SEMANTICS §5.30), one per second: a fixture written months ago
// would mean millions of batches at start. The module shifts CLOCK_REALTIME
// (which std::chrono::system_clock reads) by SLUICE_REALTIME_SHIFT_MS, so the
// child starts just after the checkpoint's last batch, as a program restarted
// right after its crash; monotonic clocks (timers) are left alone.
#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>

namespace {

long long realtime_shift_ns() {
  static const long long shift = [] {
    const char* v = std::getenv("SLUICE_REALTIME_SHIFT_MS");
    return v != nullptr ? std::atoll(v) * 1000000LL : 0LL;
  }();
  return shift;
}

} // namespace

extern "C" int clock_gettime(clockid_t id, struct timespec* ts) {
  using real_fn = int (*)(clockid_t, struct timespec*);
  static const real_fn real = reinterpret_cast<real_fn>(dlsym(RTLD_NEXT, "clock_gettime"));
  int rc = real(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    long long ns = ts->tv_sec * 1000000000LL + ts->tv_nsec + realtime_shift_ns();
    ts->tv_sec = static_cast<time_t>(ns / 1000000000LL);
    ts->tv_nsec = static_cast<long>(ns % 1000000000LL);
  }
  return rc;
}

#else // the test

#define BOOST_TEST_MODULE runtime/checkpoint_compat
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/sqlite_db.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/codec.hpp"

namespace fs = std::filesystem;
using fixtures::child_process;
using fixtures::eventually;
using fixtures::temp_dir;

namespace {

const fs::path fixture_dir = fs::path{SLUICE_TEST_DATA_DIR} / "checkpoint_v1";

// The newest metadata checkpoint of the fixture (its README).
constexpr int64_t fixture_last_batch = 1795680249000;

std::string read_file(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + file.string());
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

/// Rebuilds `<checkpoint>/sluice.db` from the fixture's SQL dump.
void restore_database(const fs::path& checkpoint) {
  fs::create_directories(checkpoint);
  fixtures::raw_db db{checkpoint / "sluice.db"};
  db.exec(read_file(fixture_dir / "sluice.db.sql"));
}

/// Word counts of `text` in the sample's output layout: "word count" lines, by word.
void count_words(const std::string& text, std::map<std::string, int64_t>& counts) {
  std::istringstream in{text};
  for (std::string w; in >> w;)
    ++counts[w];
}

std::string counts_text(const std::map<std::string, int64_t>& counts) {
  std::string out;
  for (auto& [w, n] : counts)
    out += w + " " + std::to_string(n) + "\n";
  return out;
}

/// The batch times of the counts files in `dir`, increasing.
std::vector<int64_t> counts_times(const fs::path& dir) {
  std::vector<int64_t> times;
  for (auto& e : fs::directory_iterator{dir}) {
    auto name = e.path().filename().string();
    if (name.rfind("counts-", 0) == 0)
      times.push_back(std::stoll(name.substr(7)));
  }
  std::sort(times.begin(), times.end());
  return times;
}

fs::path counts_file(const fs::path& dir, int64_t t) {
  return dir / ("counts-" + std::to_string(t) + ".txt");
}

/// The newest counts file's content, or "" when there is none yet.
std::string newest_counts(const fs::path& dir) {
  auto times = counts_times(dir);
  return times.empty() ? std::string{} : read_file(counts_file(dir, times.back()));
}

/// Writes `name` into `dir` the way files should arrive: a dot-file (which the
/// stream ignores), then a rename.
void drop_file(const fs::path& dir, const std::string& name, const std::string& text) {
  std::ofstream{dir / ("." + name), std::ios::binary} << text;
  fs::rename(dir / ("." + name), dir / name);
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Starts `child` with its stderr going to `file` and its wall clock shifted
/// by `shift_ms` (the shim module preloaded).
void start_shifted(child_process& child, const fs::path& file, int64_t shift_ms) {
  int err = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  BOOST_REQUIRE(err >= 0);
  int saved = ::dup(2);
  ::setenv("LD_PRELOAD", SLUICE_CLOCK_SHIM_PATH, 1);
  ::setenv("SLUICE_REALTIME_SHIFT_MS", std::to_string(shift_ms).c_str(), 1);
  ::dup2(err, 2); // inherited by the child; nothing in this process writes meanwhile
  child.start();
  ::dup2(saved, 2);
  ::close(saved);
  ::close(err);
  ::unsetenv("LD_PRELOAD");
  ::unsetenv("SLUICE_REALTIME_SHIFT_MS");
}

} // namespace

// The fixture is what its README says: the formats of the older build, read
// by the current build's store (on a scratch copy, so that the recovered run
// below is the first of the current build to open its database).
BOOST_AUTO_TEST_CASE(the_fixture_holds_the_older_formats) {
  temp_dir scratch{"compat-scratch"};
  restore_database(scratch.path() / "checkpoint");
  auto store = sluice::checkpoint_store::open((scratch.path() / "checkpoint").string());
  std::vector<std::string> skipped;
  auto meta = store->latest_metadata(&skipped);
  BOOST_REQUIRE(meta.has_value());
  BOOST_TEST(skipped.empty());
  BOOST_TEST(meta->batch_time_ms == fixture_last_batch);
  BOOST_TEST(store->metadata_count() == 2u);
  BOOST_TEST(!meta->zero_time_ms.has_value()); // written before zero_time_ms existed
  BOOST_TEST(meta->pending_batches.empty());
  // The file stream's (source 0) position in the first format: the names only.
  std::vector<std::pair<std::string, std::string>> offsets{
    {"0", sluice::encode_to_string(
            std::vector<std::string>{"part-0.txt", "part-1.txt", "part-2.txt"})}};
  BOOST_TEST((meta->source_offsets == offsets));
  BOOST_TEST(meta->graph_fingerprint
             == "0 text_file_stream kind=1 slide=1000 parents=\n"
                "1 flat_map kind=2 slide=1000 parents=0\n"
                "2 map kind=2 slide=1000 parents=1\n"
                "3 update_state_by_key kind=3 slide=1000 parents=2 partitions=2\n"
                "4 foreach_rdd kind=5 slide=1000 parents=3\n");
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator{fixture_dir / "input"})
    names.insert(e.path().filename().string());
  BOOST_TEST((names == std::set<std::string>{"part-0.txt", "part-1.txt", "part-2.txt"}));
}

BOOST_AUTO_TEST_CASE(the_current_build_recovers_a_checkpoint_of_an_older_build) {
  temp_dir in{"compat-in"}, cp{"compat-cp"}, out{"compat-out"}, logs{"compat-log"};
  // The old run's input, under the same names: the checkpoint remembers them.
  std::map<std::string, int64_t> old_counts;
  for (auto& e : fs::directory_iterator{fixture_dir / "input"}) {
    fs::copy_file(e.path(), in.path() / e.path().filename());
    count_words(read_file(e.path()), old_counts);
  }
  BOOST_TEST(counts_text(old_counts)
             == "apple 5\nbanana 4\ncherry 3\ndate 3\nelder 1\nfig 2\n");
  restore_database(cp.path());
  {
    fixtures::raw_db db{cp.path() / "sluice.db"};
    BOOST_REQUIRE(db.query_int64("SELECT max(batch_time_ms) FROM checkpoint_metadata")
                  == fixture_last_batch);
  }
  // A file that arrived while the program was down: read by the recovered
  // run's first batch. A fresh start would never read it (newFilesOnly: files
  // present at a stream's first start are skipped), and neither the old
  // files: they are not new to the recovered stream, it remembers them.
  std::string down_text = "apple kiwi\nkiwi banana\n";
  drop_file(in.path(), "part-3.txt", down_text);
  auto with_down = old_counts;
  count_words(down_text, with_down);

  child_process child{{std::string{SLUICE_SAMPLES_DIR} + "/recoverable_file_word_count",
                       in.str(), cp.str(), out.str()}};
  // The child's clock starts 1.5 s after the checkpoint's last batch.
  int64_t shift = fixture_last_batch + 1500 - system_now_ms();
  auto err_file = logs.path() / "stderr.txt";
  start_shifted(child, err_file, shift);

  // The first batch of the recovered run is the one after the checkpointed
  // batch (a fresh start would begin at the clock's next second, 2 s after
  // it), with the restored state plus the file that arrived while down:
  // counted once each, so the old files were not read again.
  auto first = fixture_last_batch + 1000;
  bool first_done = eventually([&] { return fs::exists(counts_file(out.path(), first)); },
                               std::chrono::seconds(30));
  BOOST_REQUIRE_MESSAGE(first_done, "no counts for batch " << first
                                      << "; stderr: " << read_file(err_file));
  BOOST_TEST(counts_times(out.path()).front() == first);
  BOOST_TEST(read_file(counts_file(out.path(), first)) == counts_text(with_down));

  // A file arriving while it runs.
  std::string new_text = "fig kiwi lime\napple\n";
  drop_file(in.path(), "part-4.txt", new_text);
  auto all = with_down;
  count_words(new_text, all);
  auto want = counts_text(all);
  BOOST_TEST(want
             == "apple 7\nbanana 5\ncherry 3\ndate 3\nelder 1\nfig 3\nkiwi 3\nlime 1\n");
  bool exact = eventually([&] { return newest_counts(out.path()) == want; },
                          std::chrono::seconds(30));
  bool was_running = child.kill(); // false: it exited by itself
  BOOST_TEST(exact, "newest counts:\n" << newest_counts(out.path()) << "expected:\n" << want);
  BOOST_TEST(was_running, "the recovered run exited by itself");
  auto err = read_file(err_file);
  BOOST_TEST(err.find("cannot recover") == std::string::npos, "stderr: " << err);
  BOOST_TEST(err.find("error") == std::string::npos, "stderr: " << err);
  BOOST_TEST(err.find("skipped") == std::string::npos, "stderr: " << err);
  // Every batch it ran is after the checkpointed one, and the shifted clock
  // kept it near the fixture's times (a handful of batches, not the months
  // since the fixture was written).
  auto times = counts_times(out.path());
  BOOST_TEST(times.front() > fixture_last_batch);
  BOOST_TEST(times.back() < fixture_last_batch + 120'000);
}

#endif
