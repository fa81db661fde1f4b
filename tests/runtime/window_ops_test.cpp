#define BOOST_TEST_MODULE runtime/window_ops
#include <algorithm>
#include <optional>
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

// Doubles make the order of a window's reductions visible. Spark's formula,
// previous window minus the reduced leaving batches plus the reduced entering
// ones, each reduced in time order, gives these outputs bit for bit; any
// faster way of computing a slide (folding batches straight into the window,
// reusing an earlier slide's reduction) must give them too.
BOOST_DATA_TEST_CASE(inverse_window_of_doubles_reduces_as_sparks_formula_bit_for_bit, masters,
                     master) {
  using kd = std::pair<std::string, double>;
  temp_dir dir{"invd"};
  const std::vector<double> v{-1e16, -3.5, 1.0, 0.2, 1.0, 7.0, 7.0, 7.0, 0.7, 1e-3, 0.1, 1.0};
  std::vector<std::vector<kd>> input;
  for (double x : v)
    input.push_back({{"x", x}, {"y", x * 3}});
  const int w = 4, s = 2, n = static_cast<int>(v.size());
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return ssc.queue_stream(input).reduce_by_key_and_window(
      std::plus<double>{}, std::minus<double>{}, seconds(w), seconds(s));
  }, n, manual_conf(master), true);
  // The reference: batch b (1-based) at b seconds; slides at s, 2s, ...
  auto reduce = [&](int from, int to, double scale) { // batches in (from, to], in time order
    std::optional<double> r;
    for (int b = std::max(from + 1, 1); b <= to && b <= n; ++b)
      r = r ? *r + v[static_cast<size_t>(b - 1)] * scale : v[static_cast<size_t>(b - 1)] * scale;
    return r;
  };
  std::vector<fixtures::batch_output<kd>> want;
  std::optional<double> prev_x, prev_y;
  std::vector<double> straight; // x with each batch folded into the window one by one
  for (int t = s; t <= n; t += s) {
    double x = straight.empty() ? *reduce(t - s, t, 1) : straight.back();
    if (!straight.empty()) {
      for (int b = std::max(t - w - s + 1, 1); b <= t - w; ++b)
        x -= v[static_cast<size_t>(b - 1)];
      for (int b = t - s + 1; b <= t; ++b)
        x += v[static_cast<size_t>(b - 1)];
    }
    straight.push_back(x);
    auto next = [&](std::optional<double> prev, double scale) {
      auto oldr = reduce(t - w - s, t - w, scale), newr = reduce(t - s, t, scale);
      if (!prev)
        return *newr;
      double tmp = *prev;
      if (oldr)
        tmp = tmp - *oldr;
      if (newr)
        tmp = tmp + *newr;
      return tmp;
    };
    prev_x = next(prev_x, 1);
    prev_y = next(prev_y, 3);
    want.push_back({t * 1000, {{"x", *prev_x}, {"y", *prev_y}}});
  }
  // The formula differs from summing each window afresh and from folding
  // batch by batch, so the test can tell.
  BOOST_TEST(want[3].records[0].second != *reduce(8 - w, 8, 1));
  BOOST_TEST(want[3].records[0].second != straight[3]);
  BOOST_TEST(out == want, boost::test_tools::per_element());
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
