#define BOOST_TEST_MODULE runtime/window_recovery
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <mutex>
#include <sstream>

#include "fixtures/harness.hpp"
#include "sluice/checkpoint_store.hpp"

// Incremental windows (reduce_by_key_and_window with an inverse function)
// recovered with get_or_create continue exactly as an uninterrupted run.

using namespace sluice;
using fixtures::batch_output;
using fixtures::manual_conf;
using fixtures::run_batches;
using fixtures::temp_dir;

namespace {

using kv = std::pair<std::string, int>;
using input = std::vector<std::vector<std::string>>;
using outputs = std::vector<batch_output<kv>>;

struct window_job {
  duration window, slide;
  std::optional<duration> interval; // dstream::checkpoint, or Spark's default
  bool filtered = false;
};

/// The program: a windowed word count over `in`, outputs recorded sorted.
auto program(const std::string& dir, input in, window_job job, std::shared_ptr<outputs> out) {
  return [=] {
    streaming_context ssc{manual_conf(), seconds(1)};
    ssc.checkpoint(dir);
    auto pairs = ssc.queue_stream(in).map([](std::string w) { return kv{std::move(w), 1}; });
    auto counts = job.filtered
                    ? pairs.reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{},
                                                     job.window, job.slide, 2,
                                                     [](const kv& p) { return p.second != 0; })
                    : pairs.reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{},
                                                     job.window, job.slide, 2);
    if (job.interval)
      counts = counts.checkpoint(*job.interval);
    fixtures::record_sorted(counts, out);
    return ssc;
  };
}

/// A plain window (no inverse function): word counts of window(4 s, 2 s).
auto plain_window_program(const std::string& dir, input in, std::shared_ptr<outputs> out) {
  return [=] {
    streaming_context ssc{manual_conf(), seconds(1)};
    ssc.checkpoint(dir);
    fixtures::record_sorted(ssc.queue_stream(in)
                              .window(seconds(4), seconds(2))
                              .map([](std::string w) { return kv{std::move(w), 1}; })
                              .reduce_by_key(std::plus<int>{}),
                            out);
    return ssc;
  };
}

/// What an uninterrupted run over `in` outputs.
outputs uninterrupted(input in, window_job job, int batches) {
  temp_dir dir{"reference"};
  auto out = std::make_shared<outputs>();
  auto ssc = program(dir.str(), std::move(in), job, out)();
  run_batches(ssc, batches);
  return *out;
}

outputs at_or_after(const outputs& all, int64_t from) {
  outputs out;
  for (auto& b : all)
    if (b.t >= from)
      out.push_back(b);
  return out;
}

input concat(input a, size_t keep, const input& b) {
  a.resize(keep);
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const input first_input = {{"a", "b", "a"}, {"b", "c"}, {"a"}, {"d", "d", "b"}, {"c", "e"}};
const input second_input = {{"a", "f"}, {}, {"b", "b"}, {"f", "a", "c"}, {"g"}};

} // namespace

BOOST_DATA_TEST_CASE(a_recovered_sliding_window_continues_exactly, boost::unit_test::data::make({false, true}),
                     filtered) {
  // A state checkpoint every batch: recovery continues after the last batch.
  window_job job{seconds(3), seconds(1), seconds(1), filtered};
  temp_dir dir{"wr-slide"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), first_input, job, first));
    run_batches(ssc, 4);
  }
  BOOST_TEST(first->size() == 4u);
  auto second = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), second_input, job, second));
    run_batches(ssc, 4);
  }
  auto expected = at_or_after(uninterrupted(concat(first_input, 4, second_input), job, 8), 5000);
  BOOST_TEST(expected.size() == 4u);
  BOOST_TEST(*second == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(recovery_re_runs_the_batches_after_the_last_state_checkpoint) {
  // Window 4 s sliding by 2 s, state checkpoints at 2 s and 4 s; the first run
  // also completed batch 5 s, whose data sits between slides. The recovered
  // run goes back to the state of 4 s and runs 5 s again (with the new
  // program's queue): as an uninterrupted run over the first four batches
  // followed by the second input.
  window_job job{seconds(4), seconds(2), seconds(2), false};
  temp_dir dir{"wr-between"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), first_input, job, first));
    run_batches(ssc, 5);
  }
  BOOST_TEST(first->size() == 2u); // 2 s and 4 s
  auto second = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), second_input, job, second));
    run_batches(ssc, 4); // 5 s .. 8 s
  }
  auto expected = at_or_after(uninterrupted(concat(first_input, 4, second_input), job, 8), 5000);
  BOOST_TEST(expected.size() == 2u); // 6 s and 8 s
  BOOST_TEST(*second == expected, boost::test_tools::per_element());
}

namespace {
/// Runs `job` for 3 batches and recovers it (Spark's default interval, 10 s,
/// has not come: the state of the first batch, checkpointed when the run
/// began, is where recovery starts), then runs `batches` more from 2 s: the
/// outputs equal an uninterrupted run's from 2 s on.
void check_recovery_from_the_first_batch_state(window_job job, int batches,
                                               size_t outputs_from_2s) {
  temp_dir dir{"wr-first"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), first_input, job, first));
    run_batches(ssc, 3);
  }
  auto second = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), second_input, job, second));
    run_batches(ssc, batches);
  }
  BOOST_REQUIRE(!second->empty());
  BOOST_TEST(second->front().t == 2000);
  auto expected =
    at_or_after(uninterrupted(concat(first_input, 1, second_input), job, batches + 1), 2000);
  BOOST_TEST(expected.size() == outputs_from_2s);
  BOOST_TEST(*second == expected, boost::test_tools::per_element());
}
} // namespace

BOOST_AUTO_TEST_CASE(before_the_first_interval_recovery_starts_from_the_first_batch_state) {
  check_recovery_from_the_first_batch_state({seconds(3), seconds(1), std::nullopt, true}, 4, 4u);
}

BOOST_AUTO_TEST_CASE(a_window_recovered_in_the_middle_of_a_slide_continues_exactly) {
  // Window 4 s sliding by 2 s: each slide's two batches are folded into one
  // remembered reduction as they arrive, so the recovered run starts with the
  // slide (0 s, 2 s] half folded and adds 2 s to it (outputs 2 s, 4 s, 6 s).
  check_recovery_from_the_first_batch_state({seconds(4), seconds(2), std::nullopt, false}, 5, 3u);
}

namespace {
/// The id of the job's reduce_by_key_and_window, from the graph description
/// in the latest metadata ("<id> <name> ...").
int window_operator(checkpoint_store& store) {
  auto meta = store.latest_metadata();
  BOOST_REQUIRE(meta.has_value());
  std::istringstream lines{meta->graph_fingerprint};
  for (std::string line; std::getline(lines, line);)
    if (line.find(" reduce_by_key_and_window ") != std::string::npos)
      return std::stoi(line);
  BOOST_FAIL("no reduce_by_key_and_window in the graph description");
  return -1;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_checkpoint_with_a_row_per_batch_recovers_as_one_per_slide) {
  // Builds before 2026-12-06 wrote one 'b' row per remembered batch; now a
  // row holds a slide's batches (window 4 s, slide 2 s: rows for 2 s and 4 s).
  // The checkpoint of 4 s is rewritten as an older build would have it (rows
  // for 1 s .. 4 s, each slide's keys split between its two batches): the
  // recovered run subtracts and adds them as it would its own rows.
  window_job job{seconds(4), seconds(2), seconds(2), false};
  temp_dir dir{"wr-legacy"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), first_input, job, first));
    run_batches(ssc, 4);
  }
  {
    auto store = checkpoint_store::open(dir.str());
    int op = window_operator(*store);
    size_t split = 0;  // keys moved to a slide's second batch
    for (int p = 0; p < 2; ++p) {
      std::vector<std::pair<std::string, std::string>> rows;
      std::vector<int64_t> slides;
      for (auto& [row, bytes] : store->read_state(op, p, 4000)) {
        if (row[0] != 'b') {
          rows.emplace_back(row, bytes);
          continue;
        }
        auto end = decode_from_string<int64_t>(std::string_view{row}.substr(1));
        slides.push_back(end);
        // The slide's keys split between its two batches, alternately.
        std::vector<kv> halves[2];
        auto entries = decode_from_string<std::vector<kv>>(bytes);
        for (size_t i = 0; i < entries.size(); ++i)
          halves[i % 2].push_back(entries[i]);
        split += halves[1].size();
        rows.emplace_back('b' + encode_to_string(end - 1000), encode_to_string(halves[0]));
        rows.emplace_back('b' + encode_to_string(end), encode_to_string(halves[1]));
      }
      std::sort(slides.begin(), slides.end());
      BOOST_TEST((slides == std::vector<int64_t>{2000, 4000}), "partition " << p);
      store->write_state(op, p, 4000, true, rows, {});
    }
    BOOST_TEST(split >= 2u);
  }
  auto second = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), program(dir.str(), second_input, job, second));
    run_batches(ssc, 4); // 5 s .. 8 s
  }
  auto expected = at_or_after(uninterrupted(concat(first_input, 4, second_input), job, 8), 5000);
  BOOST_TEST(expected.size() == 2u); // 6 s and 8 s
  BOOST_TEST(*second == expected, boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(the_checkpoint_holds_the_window_and_only_the_batches_still_needed,
                     boost::unit_test::data::make({false, true}), filtered) {
  // A checkpoint every batch, deltas after the first. With the filter, c
  // drops out of the window at 4 s and comes back at 5 s, when a drops out:
  // the delta of 5 s puts c back and erases a.
  window_job job{seconds(2), seconds(1), seconds(1), filtered};
  temp_dir dir{"wr-rows"};
  auto out = std::make_shared<outputs>();
  {
    auto ssc = program(dir.str(), first_input, job, out)();
    run_batches(ssc, 5);
  }
  auto store = checkpoint_store::open(dir.str());
  auto meta = store->latest_metadata();
  BOOST_REQUIRE(meta.has_value());
  // The operator's id, from the graph description ("<id> <name> ...").
  int op = -1;
  std::istringstream lines{meta->graph_fingerprint};
  for (std::string line; std::getline(lines, line);)
    if (line.find(" reduce_by_key_and_window ") != std::string::npos)
      op = std::stoi(line);
  BOOST_REQUIRE(op >= 0);
  std::map<std::string, int> window;
  std::vector<int64_t> batches;
  for (int p = 0; p < 2; ++p)
    for (auto& [row, bytes] : store->read_state(op, p, 5000)) {
      auto body = std::string_view{row}.substr(1);
      if (row[0] == 'p')
        window[decode_from_string<std::string>(body)] = decode_from_string<int>(bytes);
      else if (row[0] == 'b')
        batches.push_back(decode_from_string<int64_t>(body));
    }
  std::sort(batches.begin(), batches.end());
  batches.erase(std::unique(batches.begin(), batches.end()), batches.end());
  // At 5 s: the window (3 s, 5 s] is batches 4 s and 5 s; 3 s left with the
  // slide to 5 s; keys whose count fell to zero stay without the filter.
  BOOST_TEST((batches == std::vector<int64_t>{4000, 5000}));
  auto expected = filtered ? std::map<std::string, int>{{"b", 1}, {"c", 1}, {"d", 2}, {"e", 1}}
                           : std::map<std::string, int>{
                               {"a", 0}, {"b", 1}, {"c", 1}, {"d", 2}, {"e", 1}};
  BOOST_TEST(window == expected);
  BOOST_TEST(out->back().t == 5000);
  BOOST_TEST((out->back().records == std::vector<kv>(expected.begin(), expected.end())));
  if (filtered) // c was gone from the window of 4 s
    BOOST_TEST(((*out)[3].records == std::vector<kv>{{"a", 1}, {"b", 1}, {"d", 2}}));
}

BOOST_AUTO_TEST_CASE(a_recovered_plain_window_keeps_its_batches_and_its_slide_times) {
  // window(4 s, 2 s) without an inverse function: its remembered batches are
  // checkpointed at the first batch (Spark's default interval, 10 s, has not
  // come); the recovered run re-runs 2 s and 3 s and slides at 4 s and 6 s as
  // the first run would have, with the window's batch of 1 s still in it.
  temp_dir dir{"wr-plain"};
  auto first = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), plain_window_program(dir.str(), first_input, first));
    run_batches(ssc, 3);
  }
  BOOST_TEST(first->size() == 1u); // 2 s
  auto second = std::make_shared<outputs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), plain_window_program(dir.str(), second_input, second));
    run_batches(ssc, 5); // 2 s .. 6 s
  }
  temp_dir ref_dir{"wr-plain-ref"};
  auto reference = std::make_shared<outputs>();
  {
    auto ssc = plain_window_program(ref_dir.str(), concat(first_input, 1, second_input), reference)();
    run_batches(ssc, 6);
  }
  auto expected = at_or_after(*reference, 2000);
  BOOST_TEST(expected.size() == 3u); // 2 s, 4 s, 6 s
  BOOST_TEST(*second == expected, boost::test_tools::per_element());
}

namespace {
struct no_codec {
  int x = 0;
};
} // namespace

BOOST_AUTO_TEST_CASE(a_window_over_a_type_without_a_codec_is_refused_when_checkpointing) {
  temp_dir dir{"wr-codec"};
  auto build = [](streaming_context& ssc) {
    ssc.queue_stream<no_codec>({{no_codec{1}}})
      .window(seconds(2), seconds(1))
      .foreach_rdd([](const rdd<no_codec>&) {});
  };
  // Records as handles between actors (make test-wire's conf file would
  // refuse the type earlier, for the wire path: serializer_local_test).
  auto c = manual_conf();
  c.set("sluice.serializer.local", "false");
  c.set("sluice.master.override", "local[2]");  // one process under make test-cluster too
  {
    streaming_context ssc{c, seconds(1)};
    ssc.checkpoint(dir.str());
    build(ssc);
    try {
      ssc.start();
      BOOST_FAIL("expected illegal_state");
    } catch (const illegal_state& e) {
      std::string msg = e.what();
      BOOST_TEST(msg.find("window (operator 1): its record type needs a sluice::codec for the "
                          "window's batches to be checkpointed (the context has a checkpoint "
                          "directory)")
                   != std::string::npos,
                 msg);
    }
  }
  // Without a checkpoint directory nothing is checkpointed: the same program runs.
  streaming_context ssc{c, seconds(1)};
  build(ssc);
  run_batches(ssc, 1);
}

BOOST_AUTO_TEST_CASE(operators_with_different_intervals_recover_from_one_consistent_batch) {
  // Cumulative counts checkpointed every 2 s and a window checkpointed every
  // 3 s: both checkpoint at every multiple of either, so the recovery after
  // 5 s restarts both from 4 s, and the results equal an uninterrupted run.
  using kvs = std::vector<batch_output<kv>>;
  auto build = [](const std::string& dir, input in, std::shared_ptr<kvs> totals,
                  std::shared_ptr<kvs> windows) {
    return [=] {
      streaming_context ssc{manual_conf(), seconds(1)};
      ssc.checkpoint(dir);
      auto pairs = ssc.queue_stream(in).map([](std::string w) { return kv{std::move(w), 1}; });
      fixtures::record_sorted(pairs
                                .update_state_by_key([](const std::vector<int>& vs,
                                                        std::optional<int> s) {
                                  return std::optional<int>{s.value_or(0)
                                                            + static_cast<int>(vs.size())};
                                })
                                .checkpoint(seconds(2)),
                              totals);
      fixtures::record_sorted(pairs
                                .reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{},
                                                          seconds(3), seconds(1), 2)
                                .checkpoint(seconds(3)),
                              windows);
      return ssc;
    };
  };
  temp_dir dir{"wr-mixed"};
  auto totals1 = std::make_shared<kvs>(), windows1 = std::make_shared<kvs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), build(dir.str(), first_input, totals1, windows1));
    run_batches(ssc, 5);
  }
  auto totals2 = std::make_shared<kvs>(), windows2 = std::make_shared<kvs>();
  {
    auto ssc = streaming_context::get_or_create(dir.str(), build(dir.str(), second_input, totals2, windows2));
    run_batches(ssc, 3); // 5 s .. 7 s
  }
  temp_dir ref_dir{"wr-mixed-ref"};
  auto totals_ref = std::make_shared<kvs>(), windows_ref = std::make_shared<kvs>();
  {
    auto ssc = build(ref_dir.str(), concat(first_input, 4, second_input), totals_ref, windows_ref)();
    run_batches(ssc, 7);
  }
  BOOST_REQUIRE(!totals2->empty());
  BOOST_TEST(totals2->front().t == 5000);
  BOOST_TEST(*totals2 == at_or_after(*totals_ref, 5000), boost::test_tools::per_element());
  BOOST_TEST(*windows2 == at_or_after(*windows_ref, 5000), boost::test_tools::per_element());
}
