#define BOOST_TEST_MODULE runtime/replay
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <mutex>

#include "fixtures/harness.hpp"

// Recovery re-runs the batches after the newest state checkpoint (at most
// one checkpoint interval): replayable sources give those batches exactly the
// input they had before, so the results equal an uninterrupted run's.

using namespace sluice;
using fixtures::batch_output;
using fixtures::manual_conf;
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
    auto mtx = std::make_shared<std::mutex>();
    ssc.text_file_stream(in.str())
      .map([](std::string w) { return kv{std::move(w), 1}; })
      .update_state_by_key([](const std::vector<int>& vs, std::optional<int> s) {
        return std::optional<int>{s.value_or(0) + static_cast<int>(vs.size())};
      })
      .foreach_rdd([out, mtx](const rdd<kv>& r, batch_time t) {
        auto v = r.collect();
        std::sort(v.begin(), v.end());
        std::lock_guard<std::mutex> guard{*mtx};
        out->push_back({t.ms, std::move(v)});
      });
    return ssc;
  };
}

void drop(const temp_dir& in, const std::string& name, const std::string& text) {
  auto tmp = in.path() / ("." + name);
  std::ofstream{tmp} << text;
  std::filesystem::rename(tmp, in.path() / name);
}

/// Runs `batches` batches, calling before(i) ahead of batch i, then stops.
template <class Before>
void run_batches(streaming_context& ssc, int batches, Before before) {
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  for (int i = 1; i <= batches; ++i) {
    before(i);
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  ssc.stop();
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
    run_batches(ssc, 4, [](int) {});
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
