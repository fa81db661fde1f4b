#define BOOST_TEST_MODULE runtime/serializer_local
#include <boost/test/unit_test.hpp>

#include <atomic>

#include "fixtures/harness.hpp"

// sluice.serializer.local=true sends every partition between actors as codec
// bytes, as between processes: the results stay the same, the codec runs,
// and start() names the operator whose records cannot be encoded.

using namespace sluice;

namespace {

/// A record type whose codec counts its encodes.
struct counted {
  int64_t v = 0;
};

std::atomic<int> encodes{0};

} // namespace

template <>
struct sluice::codec<counted> {
  static void encode(const counted& x, std::string& out) {
    ++encodes;
    codec<int64_t>::encode(x.v, out);
  }
  static counted decode(std::string_view& in) { return {codec<int64_t>::decode(in)}; }
};

namespace {

/// A record type without a codec.
struct opaque {
  int64_t v = 0;
};

sluice::conf with_bytes(bool on) {
  auto c = fixtures::manual_conf("local[2]");
  c.set("sluice.serializer.local", on ? "true" : "false");
  return c;
}

/// Five batches of 1..4 each, through a shuffle of `counted`, summed per
/// key (x mod 2).
auto counted_pipeline(streaming_context& ssc) {
  std::vector<std::vector<int>> input(5, std::vector<int>{1, 2, 3, 4});
  return ssc.queue_stream(input)
    .map([](int x) { return counted{x}; })
    .repartition(2)
    .map([](const counted& c) { return std::pair<int64_t, int64_t>{c.v % 2, c.v}; })
    .reduce_by_key([](int64_t a, int64_t b) { return a + b; });
}

} // namespace

BOOST_AUTO_TEST_CASE(the_bytes_path_gives_the_same_results_and_runs_the_codec) {
  using kv = std::pair<int64_t, int64_t>;
  encodes = 0;
  auto moved = fixtures::run(counted_pipeline, 5, with_bytes(false), true);
  BOOST_TEST(encodes.load() == 0);
  auto encoded = fixtures::run(counted_pipeline, 5, with_bytes(true), true);
  // Each batch's 4 records cross once as `counted` (source -> map ->
  // repartition's buckets).
  BOOST_TEST(encodes.load() == 5 * 4);
  auto expected = fixtures::expect<kv>(std::vector<std::vector<kv>>(5, {{0, 6}, {1, 4}}));
  BOOST_TEST(moved == expected, boost::test_tools::per_element());
  BOOST_TEST(encoded == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(start_names_the_operator_whose_records_have_no_codec) {
  streaming_context ssc{with_bytes(true), seconds(1)};
  std::vector<std::vector<int>> input{{1, 2}};
  ssc.queue_stream(input)
    .map([](int x) { return opaque{x}; })
    .repartition(2)
    .foreach_rdd([](const rdd<opaque>&) {});
  BOOST_CHECK_EXCEPTION(ssc.start(), illegal_state, [](const illegal_state& e) {
    std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    return what.find("map (operator 1): its record type") == 0
           && what.find("opaque has no sluice::codec") != std::string::npos
           && what.find("sluice.serializer.local=true") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(records_that_stay_inside_a_fused_stage_need_no_codec) {
  auto build = [](streaming_context& ssc) {
    std::vector<std::vector<int>> input{{1, 2, 3}};
    return ssc.queue_stream(input)
      .map([](int x) { return opaque{x * 10}; }) // fused with the next map
      .map([](const opaque& o) { return o.v; });
  };
  auto out = fixtures::run(build, 1, with_bytes(true), true);
  BOOST_TEST(out == fixtures::expect<int64_t>({{10, 20, 30}}), boost::test_tools::per_element());
}

// count() takes each partition's record count from the stage that computed
// it, so the records themselves never travel to the count (Spark counts each
// partition where it is computed): only an 8-byte count crosses, and records
// without a codec can be counted across processes.

BOOST_AUTO_TEST_CASE(count_receives_each_partition_s_count_not_its_records) {
  auto build = [](streaming_context& ssc) {
    std::vector<std::vector<int>> input{{1, 2, 3, 4}, {}, {5, 6, 7}};
    return ssc.queue_stream(input).map([](int x) { return counted{x}; }).count();
  };
  encodes = 0;
  auto out = fixtures::run(build, 3, with_bytes(true), true);
  BOOST_TEST(encodes.load() == 0);
  BOOST_TEST(out == fixtures::expect<int64_t>({{4}, {0}, {3}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(count_counts_records_that_have_no_codec) {
  auto build = [](streaming_context& ssc) {
    std::vector<std::vector<int>> input{{1, 2, 3}, {4, 5}};
    return ssc.queue_stream(input).map([](int x) { return opaque{x}; }).count();
  };
  auto out = fixtures::run(build, 2, with_bytes(true), true);
  BOOST_TEST(out == fixtures::expect<int64_t>({{3}, {2}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(records_counted_and_also_sent_elsewhere_still_need_a_codec) {
  streaming_context ssc{with_bytes(true), seconds(1)};
  std::vector<std::vector<int>> input{{1, 2}};
  auto opaques = ssc.queue_stream(input).map([](int x) { return opaque{x}; });
  opaques.count().foreach_rdd([](const rdd<int64_t>&) {});
  opaques.foreach_rdd([](const rdd<opaque>&) {});
  BOOST_CHECK_EXCEPTION(ssc.start(), illegal_state, [](const illegal_state& e) {
    std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    return what.find("map (operator 1): its record type") == 0
           && what.find("opaque has no sluice::codec") != std::string::npos;
  });
}

// A window sends count() its records (a gather sends no partials): int64
// records are counted, not summed as if they were partition counts.
BOOST_AUTO_TEST_CASE(int64_records_from_a_window_are_counted_not_summed) {
  auto build = [](streaming_context& ssc) {
    std::vector<std::vector<int64_t>> input{{7, 8, 9}, {40}, {}};
    return ssc.queue_stream(input).map([](int64_t x) { return x * 2; }).count().union_with(
      ssc.queue_stream(input).window(seconds(2)).count().map([](int64_t n) { return -n; }));
  };
  for (bool bytes : {false, true}) {
    auto out = fixtures::run(build, 3, with_bytes(bytes), true);
    BOOST_TEST(out == fixtures::expect<int64_t>({{-3, 3}, {-4, 1}, {-1, 0}}),
               boost::test_tools::per_element());
  }
}

// reduce(f), as Spark's, reduces each partition where it is computed; the
// partitions' results are folded in partition order.
BOOST_AUTO_TEST_CASE(reduce_receives_each_partition_s_reduction_not_its_records) {
  auto build = [](streaming_context& ssc) {
    std::vector<std::vector<int>> input{{1, 2, 3, 4}, {}, {5, 6, 7}};
    return ssc.queue_stream(input)
      .map([](int x) { return counted{x}; })
      .reduce([](counted a, counted) { return a; }) // associative, not commutative
      .map([](const counted& c) { return c.v; });
  };
  encodes = 0;
  auto out = fixtures::run(build, 3, with_bytes(true), true);
  // Two partitions a batch ([1, 2] [3, 4], none, [5] [6, 7]): one reduction
  // each crosses, then the batch's result to the next stage.
  BOOST_TEST(encodes.load() == 2 + 1 + 0 + 2 + 1);
  // The first record of the batch: partitions are folded in their order.
  BOOST_TEST(out == fixtures::expect<int64_t>({{1}, {}, {5}}),
             boost::test_tools::per_element());
}
