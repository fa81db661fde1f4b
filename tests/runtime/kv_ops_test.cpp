#define BOOST_TEST_MODULE runtime/kv_ops
#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"

using namespace sluice;
using fixtures::expect;
using fixtures::manual_conf;
using fixtures::run;
namespace bdata = boost::unit_test::data;

using kv = std::pair<std::string, int>;

// Every case runs at local[1], local[2] and local[4], chained and unchained:
// the results must be identical (shuffled output compared sorted).
static const auto masters = bdata::make({"local[1]", "local[2]", "local[4]"});
static const auto chaining = bdata::make({true, false});

static std::vector<std::vector<std::string>> word_batches() {
  return {{"a", "b", "a"}, {}, {"b", "c", "c", "c"}};
}

BOOST_DATA_TEST_CASE(reduce_by_key_counts_words, masters * chaining, master, chain) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream(word_batches())
      .map([](std::string w) { return kv{w, 1}; })
      .reduce_by_key(std::plus<int>{});
  }, 4, manual_conf(master, chain), true);
  BOOST_TEST(out == expect<kv>({{{"a", 2}, {"b", 1}}, {}, {{"b", 1}, {"c", 3}}, {}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(count_by_value_and_group_by_key, masters * chaining, master, chain) {
  auto counted = run([](streaming_context& ssc) {
    return ssc.queue_stream(word_batches()).count_by_value();
  }, 3, manual_conf(master, chain), true);
  using wc = std::pair<std::string, int64_t>;
  BOOST_TEST(counted == expect<wc>({{{"a", 2}, {"b", 1}}, {}, {{"b", 1}, {"c", 3}}}),
             boost::test_tools::per_element());
  using grouped = std::pair<int, std::vector<int>>;
  auto groups = run([](streaming_context& ssc) {
    return ssc.queue_stream<std::pair<int, int>>({{{1, 10}, {2, 20}, {1, 11}}})
      .group_by_key()
      .map([](std::pair<int, std::vector<int>> g) {
        std::sort(g.second.begin(), g.second.end());
        return g;
      });
  }, 2, manual_conf(master, chain), true);
  BOOST_TEST(groups == expect<grouped>({{{1, {10, 11}}, {2, {20}}}, {}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(combine_by_key_builds_averages, masters, master) {
  using avg = std::pair<std::string, std::pair<int, int>>; // (sum, count)
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<kv>({{{"x", 1}, {"y", 5}, {"x", 3}}})
      .combine_by_key([](int v) { return std::pair<int, int>{v, 1}; },
                      [](std::pair<int, int> c, int v) { return std::pair{c.first + v, c.second + 1}; },
                      [](std::pair<int, int> a, std::pair<int, int> b) {
                        return std::pair{a.first + b.first, a.second + b.second};
                      });
  }, 1, manual_conf(master), true);
  BOOST_TEST(out == expect<avg>({{{"x", {4, 2}}, {"y", {5, 1}}}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(map_values_and_flat_map_values, masters * chaining, master, chain) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<kv>({{{"a", 1}, {"b", 2}}})
      .map_values([](int v) { return v * 10; })
      .flat_map_values([](int v) { return std::vector<int>{v, v + 1}; });
  }, 1, manual_conf(master, chain));
  BOOST_TEST(out == expect<kv>({{{"a", 10}, {"a", 11}, {"b", 20}, {"b", 21}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(join_family_matches_spark, masters * chaining, master, chain) {
  // Spark's OperationsSuite "join": (a,1),(b,1) joined with (a,x),(a,y),(c,z).
  auto left = std::vector<std::vector<kv>>{{{"a", 1}, {"b", 1}}, {}};
  using sw = std::pair<std::string, std::string>;
  auto right = std::vector<std::vector<sw>>{{{"a", "x"}, {"a", "y"}, {"c", "z"}}, {{"a", "x"}}};
  auto c = manual_conf(master, chain);
  using joined = std::pair<std::string, std::pair<int, std::string>>;
  auto inner = run([&](streaming_context& ssc) {
    return ssc.queue_stream(left).join(ssc.queue_stream(right));
  }, 2, c, true);
  BOOST_TEST(inner == expect<joined>({{{"a", {1, "x"}}, {"a", {1, "y"}}}, {}}),
             boost::test_tools::per_element());
  using lj = std::pair<std::string, std::pair<int, std::optional<std::string>>>;
  auto lo = run([&](streaming_context& ssc) {
    return ssc.queue_stream(left).left_outer_join(ssc.queue_stream(right));
  }, 1, c, true);
  BOOST_TEST(lo == expect<lj>({{{"a", {1, "x"}}, {"a", {1, "y"}}, {"b", {1, std::nullopt}}}}),
             boost::test_tools::per_element());
  using rj = std::pair<std::string, std::pair<std::optional<int>, std::string>>;
  auto ro = run([&](streaming_context& ssc) {
    return ssc.queue_stream(left).right_outer_join(ssc.queue_stream(right));
  }, 2, c, true);
  BOOST_TEST(ro == expect<rj>({{{"a", {1, "x"}}, {"a", {1, "y"}}, {"c", {std::nullopt, "z"}}},
                               {{"a", {std::nullopt, "x"}}}}),
             boost::test_tools::per_element());
  using fj = std::pair<std::string, std::pair<std::optional<int>, std::optional<std::string>>>;
  auto fo = run([&](streaming_context& ssc) {
    return ssc.queue_stream(left).full_outer_join(ssc.queue_stream(right));
  }, 1, c, true);
  BOOST_TEST(fo == expect<fj>({{{"a", {1, "x"}}, {"a", {1, "y"}}, {"b", {1, std::nullopt}},
                                {"c", {std::nullopt, "z"}}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(cogroup_groups_both_sides, masters, master) {
  using cg = std::pair<std::string, std::pair<std::vector<int>, std::vector<int>>>;
  auto out = run([](streaming_context& ssc) {
    auto a = ssc.queue_stream<kv>({{{"a", 1}, {"a", 2}, {"b", 3}}});
    auto b = ssc.queue_stream<kv>({{{"a", 9}, {"c", 8}}});
    return a.cogroup(b).map([](cg x) {
      std::sort(x.second.first.begin(), x.second.first.end());
      return x;
    });
  }, 1, manual_conf(master), true);
  BOOST_TEST(out == expect<cg>({{{"a", {{1, 2}, {9}}}, {"b", {{3}, {}}}, {"c", {{}, {8}}}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(explicit_partition_count_is_honoured, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<kv>({{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}}})
      .reduce_by_key(std::plus<int>{}, 3)
      .glom()
      .map([](std::vector<kv> v) { return static_cast<int>(v.size()); });
  }, 1, manual_conf(master));
  BOOST_TEST(out.size() == 1u);
  BOOST_TEST(out[0].records.size() == 3u); // one glommed vector per partition
  int total = 0;
  for (int n : out[0].records)
    total += n;
  BOOST_TEST(total == 5);
}

BOOST_AUTO_TEST_CASE(concurrent_jobs_give_the_same_batches) {
  auto c = manual_conf("local[2]");
  c.set("sluice.streaming.concurrentJobs", "3");
  streaming_context ssc{c, seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  std::mutex mtx;
  std::vector<fixtures::batch_output<kv>> out;
  std::vector<std::vector<std::string>> batches;
  for (int b = 0; b < 6; ++b)
    batches.push_back(std::vector<std::string>(static_cast<size_t>(b + 1), std::to_string(b)));
  ssc.queue_stream(batches)
    .map([](std::string w) { return kv{w, 1}; })
    .reduce_by_key(std::plus<int>{})
    .foreach_rdd([&](const rdd<kv>& r, batch_time t) {
      std::lock_guard<std::mutex> g{mtx};
      out.push_back({t.ms, r.collect()});
    });
  ssc.start();
  ssc.manual_clock().advance(seconds(6)); // six batches at once, three in flight
  counter->wait_for(6);
  ssc.stop();
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.t < b.t; });
  BOOST_TEST(out == expect<kv>({{{"0", 1}}, {{"1", 2}}, {{"2", 3}}, {{"3", 4}}, {{"4", 5}},
                                {{"5", 6}}}),
             boost::test_tools::per_element());
}

// A reducer's records come in a fixed order: the keys of the first input
// partition's bucket in the order they were first seen, then the keys new in
// the next partition's, and so on (the queue batch is cut into one
// partition per core: [b a c a] and [d a e a] at local[2]).
BOOST_DATA_TEST_CASE(reduce_by_key_keeps_the_order_keys_were_first_seen,
                     bdata::make({"local[2]"}) * chaining, master, chain) {
  std::vector<std::vector<std::string>> batch{{"b", "a", "c", "a", "d", "a", "e", "a"}};
  auto out = run([&](streaming_context& ssc) {
    return ssc.queue_stream(batch)
      .map([](std::string w) { return kv{w, 1}; })
      .reduce_by_key(std::plus<int>{}, 1);
  }, 1, manual_conf(master, chain));
  BOOST_TEST(out == expect<kv>({{{"b", 1}, {"a", 4}, {"c", 1}, {"d", 1}, {"e", 1}}}),
             boost::test_tools::per_element());
}
