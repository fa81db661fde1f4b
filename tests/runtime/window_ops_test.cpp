#define BOOST_TEST_MODULE runtime/window_ops
#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"

using namespace sluice;
using fixtures::expect;
using fixtures::manual_conf;
using fixtures::message_of;
using fixtures::run;
using fixtures::temp_dir;
namespace bdata = boost::unit_test::data;

using kv = std::pair<std::string, int>;
using kl = std::pair<std::string, int64_t>;

static const auto masters = bdata::make({"local[1]", "local[2]", "local[4]"});

namespace {

template <class T>
std::vector<fixtures::batch_output<T>> at(std::vector<int64_t> times,
                                          std::vector<std::vector<T>> batches) {
  std::vector<fixtures::batch_output<T>> out;
  for (size_t i = 0; i < times.size(); ++i)
    out.push_back({times[i], batches[i]});
  return out;
}

} // namespace

BOOST_DATA_TEST_CASE(window_slides_by_one_batch, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1}, {2}, {3}, {4}}).window(seconds(2));
  }, 5, manual_conf(master), true);
  BOOST_TEST(out == expect<int>({{1}, {1, 2}, {2, 3}, {3, 4}, {4}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(window_outputs_only_at_multiples_of_the_slide, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1}, {2}, {3}, {4}, {5}, {6}}).window(seconds(3), seconds(2));
  }, 6, manual_conf(master), true);
  // First output at T = s (a partial window); nothing at odd seconds.
  BOOST_TEST(out == at<int>({2000, 4000, 6000}, {{1, 2}, {2, 3, 4}, {4, 5, 6}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(non_overlapping_window_leaves_gaps) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1}, {2}, {3}, {4}, {5}, {6}}).window(seconds(2), seconds(3));
  }, 6, manual_conf(), true);
  BOOST_TEST(out == at<int>({3000, 6000}, {{2, 3}, {5, 6}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(window_durations_must_be_multiples_of_the_parent_slide) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto s = ssc.queue_stream<int>({});
  BOOST_TEST(message_of([&] { s.window(milliseconds(1500)); })
             == "The window duration of windowed DStream (1500 ms) must be a multiple of the "
                "slide duration of parent DStream (1000 ms)");
  BOOST_TEST(message_of([&] { s.window(seconds(2), milliseconds(500)); })
             == "The slide duration of windowed DStream (500 ms) must be a multiple of the "
                "slide duration of parent DStream (1000 ms)");
  auto w = s.window(seconds(4), seconds(2));
  BOOST_CHECK_THROW(w.window(seconds(3)), invalid_argument); // 3 s is no multiple of 2 s
  auto pairs = s.map([](int x) { return std::pair{x, x}; });
  BOOST_TEST(message_of([&] {
    pairs.reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{}, seconds(3),
                                   milliseconds(2500));
  }) == "requirement failed: The slide duration of ReducedWindowedDStream (2500 ms) must be "
        "multiple of the slide duration of parent DStream (1000 ms)");
  BOOST_CHECK_THROW(s.union_with(w), invalid_argument); // different slides
}

BOOST_DATA_TEST_CASE(count_by_window_keeps_zero_once_it_had_data, masters, master) {
  temp_dir dir{"cbw"};
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream<int>({{}, {1, 2}, {3}, {}, {}}).count_by_window(seconds(2), seconds(1));
  }, 6, manual_conf(master));
  BOOST_TEST(out == expect<int64_t>({{}, {2}, {3}, {1}, {0}, {0}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(inverse_window_keeps_removed_keys_at_zero, masters, master) {
  temp_dir dir{"inv"};
  std::vector<std::vector<kv>> input{{{"a", 1}}, {{"a", 2}, {"b", 5}}, {}, {}};
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream(input).reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{},
                                                            seconds(2), seconds(1));
  }, 5, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"a", 1}}, {{"a", 3}, {"b", 5}}, {{"a", 2}, {"b", 5}},
                                {{"a", 0}, {"b", 0}}, {{"a", 0}, {"b", 0}}}),
             boost::test_tools::per_element());
  // With a filter the result equals the naive form (SEMANTICS §2.14).
  auto want = expect<kv>({{{"a", 1}}, {{"a", 3}, {"b", 5}}, {{"a", 2}, {"b", 5}}, {}, {}});
  auto filtered = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream(input).reduce_by_key_and_window(
      std::plus<int>{}, std::minus<int>{}, seconds(2), seconds(1), 0,
      [](const kv& p) { return p.second != 0; });
  }, 5, manual_conf(master), true);
  BOOST_TEST(filtered == want, boost::test_tools::per_element());
  auto naive = run([&](streaming_context& ssc) {
    return ssc.queue_stream(input).reduce_by_key_and_window(std::plus<int>{}, seconds(2),
                                                            seconds(1));
  }, 5, manual_conf(master), true);
  BOOST_TEST(naive == want, boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(inverse_window_with_a_longer_slide, masters, master) {
  temp_dir dir{"inv2"};
  std::vector<std::vector<kv>> input{{{"a", 1}}, {{"a", 1}}, {{"a", 1}}, {{"a", 1}, {"b", 1}},
                                     {}, {}, {}, {}};
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream(input).reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{},
                                                            seconds(3), seconds(2));
  }, 8, manual_conf(master), true);
  // Windows (T-3, T] at T = 2, 4, 6, 8.
  BOOST_TEST(out == at<kv>({2000, 4000, 6000, 8000},
                           {{{"a", 2}}, {{"a", 3}, {"b", 1}}, {{"a", 1}, {"b", 1}},
                            {{"a", 0}, {"b", 0}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(count_by_value_and_window_drops_zero_counts, masters, master) {
  temp_dir dir{"cbvw"};
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream<std::string>({{"a", "a", "b"}, {"a"}, {}})
      .count_by_value_and_window(seconds(2), seconds(1));
  }, 4, manual_conf(master), true);
  BOOST_TEST(out == expect<kl>({{{"a", 2}, {"b", 1}}, {{"a", 3}, {"b", 1}}, {{"a", 1}}, {}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(reduce_by_window_naive_and_inverse, masters, master) {
  temp_dir dir{"rbw"};
  auto naive = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1, 2}, {3}, {}}).reduce_by_window(std::plus<int>{}, seconds(2),
                                                                     seconds(1));
  }, 4, manual_conf(master));
  BOOST_TEST(naive == expect<int>({{3}, {6}, {3}, {}}), boost::test_tools::per_element());
  auto inverse = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream<int>({{1, 2}, {3}, {}}).reduce_by_window(
      std::plus<int>{}, std::minus<int>{}, seconds(2), seconds(1));
  }, 4, manual_conf(master));
  BOOST_TEST(inverse == expect<int>({{3}, {6}, {3}, {0}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(group_by_key_and_window_concatenates_groups, masters, master) {
  using grouped = std::pair<std::string, std::vector<int>>;
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<kv>({{{"a", 1}}, {{"a", 2}, {"b", 3}}, {}})
      .group_by_key_and_window(seconds(2), seconds(1))
      .map([](grouped g) {
        std::sort(g.second.begin(), g.second.end());
        return g;
      });
  }, 4, manual_conf(master), true);
  BOOST_TEST(out == expect<grouped>({{{"a", {1}}}, {{"a", {1, 2}}, {"b", {3}}},
                                     {{"a", {2}}, {"b", {3}}}, {}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(inverse_window_needs_a_checkpoint_directory) {
  streaming_context ssc{manual_conf(), seconds(1)};
  ssc.queue_stream<int>({}).count_by_window(seconds(2), seconds(1)).print();
  auto msg = message_of([&] { ssc.start(); });
  BOOST_TEST(msg.find("reduce_by_key_and_window") != std::string::npos, msg);
  BOOST_TEST(msg.find("ssc.checkpoint(dir)") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(slice_returns_remembered_batches_both_ends_included) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  auto s = ssc.queue_stream<int>({{1}, {2}, {3}, {4}}).map([](int x) { return x * 10; });
  s.foreach_rdd([](const rdd<int>&) {});
  BOOST_TEST(message_of([&] { s.slice({0}, {1000}); }).find("has not been initialized")
             != std::string::npos);
  ssc.remember(seconds(3));
  ssc.start();
  ssc.manual_clock().advance(seconds(4));
  counter->wait_for(4);
  auto values = [](const std::vector<rdd<int>>& rs) {
    std::vector<int> out;
    for (auto& r : rs)
      for (int x : r.collect())
        out.push_back(x);
    return out;
  };
  // Remembered for 3 s at T = 4 s: times 2, 3 and 4; 1 s is forgotten.
  BOOST_TEST(values(s.slice({1500}, {3999})) == (std::vector<int>{20, 30}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s.slice({0}, {10000})) == (std::vector<int>{20, 30, 40}),
             boost::test_tools::per_element());
  ssc.stop();
}
