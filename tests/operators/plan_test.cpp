#define BOOST_TEST_MODULE operators/plan
#include <boost/test/unit_test.hpp>

#include "sluice/plan.hpp"
#include "sluice/sluice.hpp"

using namespace sluice;
using detail::consumer;
using detail::stage_plan;

namespace {

streaming_context make(bool chaining) {
  conf c;
  c.master("local[3]").set("sluice.streaming.clock", "manual");
  c.set("sluice.streaming.operatorChaining", chaining ? "true" : "false");
  return streaming_context{c, seconds(1)};
}

void word_count(streaming_context& ssc) {
  ssc.queue_stream<std::string>({})
    .map([](std::string s) { return s; })
    .filter([](const std::string& s) { return !s.empty(); })
    .map([](std::string s) { return std::pair{s, 1}; })
    .reduce_by_key(std::plus<int>{}, 5)
    .print();
}

} // namespace

BOOST_AUTO_TEST_CASE(narrow_operators_fuse_into_one_stage) {
  auto ssc = make(true);
  word_count(ssc);
  auto& g = *detail::dstream_access::graph(ssc.queue_stream<int>({}));
  auto p = detail::make_plan(g, true);
  // source + map/filter/map | reduce_by_key | print
  BOOST_TEST_REQUIRE(p.stages.size() == 2u);
  BOOST_TEST(p.stages[0].chain.size() == 3u);
  BOOST_TEST(p.stages[0].slots == 3);
  BOOST_TEST((p.stages[0].consumers[0].what == consumer::kind::shuffle));
  BOOST_TEST((p.stages[1].in == stage_plan::input::shuffle));
  BOOST_TEST(p.stages[1].slots == 5);
  BOOST_TEST(p.stages[1].expected == std::vector<int>{3}, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(p.gathers.size() == 1u);
  BOOST_TEST(p.gathers[0].expected == std::vector<int>{5}, boost::test_tools::per_element());
  BOOST_TEST(p.outputs == std::vector<int>{0}, boost::test_tools::per_element());
  BOOST_TEST(p.sources.size() == 1u); // the unused queue_stream is not planned
}

BOOST_AUTO_TEST_CASE(without_chaining_every_operator_has_its_own_stage) {
  auto ssc = make(false);
  word_count(ssc);
  auto& g = *detail::dstream_access::graph(ssc.queue_stream<int>({}));
  auto p = detail::make_plan(g, false);
  BOOST_TEST_REQUIRE(p.stages.size() == 5u); // source, map, filter, map, reduce_by_key
  for (size_t i = 1; i <= 3; ++i) {
    BOOST_TEST((p.stages[i].in == stage_plan::input::forward));
    BOOST_TEST(p.stages[i].chain.size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(fan_out_ends_a_chain) {
  auto ssc = make(true);
  auto s = ssc.queue_stream<int>({}).map([](int x) { return x; });
  s.map([](int x) { return x + 1; }).print();
  s.filter([](int x) { return x > 0; }).print();
  auto p = detail::make_plan(*detail::dstream_access::graph(s), true);
  // stage 0: source+map, then one forward stage per branch.
  BOOST_TEST_REQUIRE(p.stages.size() == 3u);
  BOOST_TEST(p.stages[0].consumers.size() == 2u);
  BOOST_TEST((p.stages[1].in == stage_plan::input::forward));
  BOOST_TEST((p.stages[2].in == stage_plan::input::forward));
  BOOST_TEST(p.outputs.size() == 2u);
}

// A gather read only by gathers (count -> union -> print) sends them its
// result itself; one read by a narrow operator scatters into a stage.
BOOST_AUTO_TEST_CASE(a_gather_feeds_gathers_directly_and_narrow_operators_through_a_stage) {
  auto ssc = make(true);
  auto nums = ssc.queue_stream<int>({});
  auto counted = nums.count();
  counted.union_with(counted).print();
  counted.map([](int64_t n) { return n + 1; }).print();
  auto& g = *detail::dstream_access::graph(nums);
  auto p = detail::make_plan(g, true);
  // stages: the source's, count's, and the map's (count has three readers,
  // so the map is not fused); gathers: count, union, the two prints.
  BOOST_TEST_REQUIRE(p.stages.size() == 3u);
  BOOST_TEST_REQUIRE(p.gathers.size() == 4u);
  auto& count = p.gathers[0];
  BOOST_TEST(count.node->name() == "count");
  BOOST_TEST(count.stage == 1);
  BOOST_TEST(count.consumers.empty());  // the union reads it through stage 1 too
  BOOST_TEST(p.stages[1].chain.empty());
  BOOST_TEST(p.stages[1].consumers.size() == 3u);
  BOOST_TEST((p.stages[2].in == stage_plan::input::forward));
  BOOST_TEST((p.gathers[1].expected == std::vector<int>{3, 3}));
  // Without the map, count's only readers are gathers.
  auto ssc2 = make(true);
  auto nums2 = ssc2.queue_stream<int>({});
  auto counted2 = nums2.count();
  counted2.union_with(counted2).print();
  counted2.print();
  auto p2 = detail::make_plan(*detail::dstream_access::graph(nums2), true);
  BOOST_TEST_REQUIRE(p2.stages.size() == 1u);  // the source's alone
  BOOST_TEST_REQUIRE(p2.gathers.size() == 4u);
  auto& count2 = p2.gathers[0];
  BOOST_TEST(count2.stage == -1);
  BOOST_TEST_REQUIRE(count2.consumers.size() == 3u);  // union's two ports, print
  BOOST_TEST(count2.expected == std::vector<int>{3}, boost::test_tools::per_element());
  auto& uni = p2.gathers[1];
  BOOST_TEST(uni.node->name() == "union");
  BOOST_TEST(uni.stage == -1);
  BOOST_TEST((uni.expected == std::vector<int>{1, 1}));
  BOOST_TEST(p2.gathers[3].expected == std::vector<int>{1}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_same_program_gives_the_same_graph_description) {
  auto a = make(true);
  word_count(a);
  auto b = make(true);
  word_count(b);
  auto da = detail::dstream_access::graph(a.queue_stream<int>({}))->describe();
  auto db = detail::dstream_access::graph(b.queue_stream<int>({}))->describe();
  BOOST_TEST(da == db, boost::test_tools::per_element());
  BOOST_TEST(da[4] == "4 combine_by_key kind=3 slide=1000 parents=3 partitions=5");
  BOOST_TEST(!detail::describe_difference(da, db));
  auto c = make(true);
  c.queue_stream<std::string>({}).map([](std::string s) { return s; }).print();
  auto dc = detail::dstream_access::graph(c.queue_stream<int>({}))->describe();
  BOOST_TEST(*detail::describe_difference(da, dc)
             == "node 2 differs: the checkpoint has '2 filter kind=2 slide=1000 parents=1', the "
                "program builds '2 print kind=5 slide=1000 parents=1'");
}
