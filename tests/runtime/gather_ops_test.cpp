#define BOOST_TEST_MODULE runtime/gather_ops
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"

using namespace sluice;
using fixtures::expect;
using fixtures::manual_conf;
using fixtures::run;
namespace bdata = boost::unit_test::data;

static const auto masters = bdata::make({"local[1]", "local[2]", "local[4]"});

BOOST_DATA_TEST_CASE(count_gives_zero_for_an_empty_batch, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1, 2, 3}, {}, {4}}).count();
  }, 3, manual_conf(master));
  BOOST_TEST(out == expect<int64_t>({{3}, {0}, {1}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(reduce_gives_nothing_for_an_empty_batch, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1, 2, 3}, {}, {4}}).reduce(std::plus<int>{});
  }, 3, manual_conf(master));
  BOOST_TEST(out == expect<int>({{6}, {}, {4}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(union_keeps_partition_order, masters, master) {
  auto out = run([](streaming_context& ssc) {
    auto a = ssc.queue_stream<int>({{1, 2}, {3}});
    auto b = ssc.queue_stream<int>({{10}, {}});
    auto c = ssc.queue_stream<int>({{100}, {200}});
    return ssc.union_of<int>({a, b, c});
  }, 2, manual_conf(master));
  // Each stream's partitions follow the previous stream's (Spark's UnionRDD).
  BOOST_TEST(out == expect<int>({{1, 2, 10, 100}, {3, 200}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(transform_sees_the_batch_time, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1, 2}, {3}}).transform([](const rdd<int>& r, batch_time t) {
      return r.map([t](int x) { return x + t.ms; });
    });
  }, 2, manual_conf(master));
  BOOST_TEST(out == expect<int64_t>({{1001, 1002}, {2003}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(transform_with_joins_two_streams, masters, master) {
  using kv = std::pair<int, char>;
  auto out = run([](streaming_context& ssc) {
    auto a = ssc.queue_stream<std::pair<int, int>>({{{1, 10}, {2, 20}}});
    auto b = ssc.queue_stream<kv>({{{1, 'x'}}});
    return a.transform_with(b, [](const rdd<std::pair<int, int>>& l, const rdd<kv>& r) {
      return l.join(r);
    });
  }, 1, manual_conf(master));
  using out_t = std::pair<int, std::pair<int, char>>;
  BOOST_TEST(out == expect<out_t>({{{1, {10, 'x'}}}}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(glom_and_map_partitions_see_partitions, masters, master) {
  int p = conf{}.master(master).parallelism();
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1, 2, 3, 4}})
      .map_partitions([](const std::vector<int>& v) {
        return std::vector<int>{static_cast<int>(v.size())};
      });
  }, 1, manual_conf(master));
  // queue_stream slices like makeRDD: partition i holds [i*n/p, (i+1)*n/p).
  std::vector<int> sizes;
  for (int i = 0; i < p; ++i)
    sizes.push_back((i + 1) * 4 / p - i * 4 / p);
  BOOST_TEST(out == expect<int>({sizes}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(repartition_keeps_every_record, masters, master) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{5, 1, 4, 2, 3, 6, 7}}).repartition(3).glom().map(
      [](std::vector<int> v) { return static_cast<int>(v.size()); });
  }, 1, manual_conf(master));
  BOOST_TEST(out[0].records.size() == 3u);
  int total = 0;
  for (int n : out[0].records)
    total += n;
  BOOST_TEST(total == 7);
}

BOOST_AUTO_TEST_CASE(queue_stream_all_at_once_takes_every_batch) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1}, {2, 3}}, false);
  }, 2, manual_conf("local[1]"));
  BOOST_TEST(out == expect<int>({{1, 2, 3}, {}}), boost::test_tools::per_element());
}
