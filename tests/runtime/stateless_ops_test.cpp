#define BOOST_TEST_MODULE runtime/stateless_ops
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"

using namespace sluice;
using fixtures::expect;
using fixtures::run;
using strings = std::vector<std::string>;

BOOST_AUTO_TEST_CASE(map_filter_flat_map_keep_order_and_empty_batches) {
  auto out = run([](streaming_context& ssc) {
    return ssc.queue_stream<int>({{1, 2, 3, 4}, {}, {5}})
      .map([](int x) { return x * 10; })
      .filter([](int x) { return x != 20; })
      .flat_map([](int x) { return std::vector<int>{x, x + 1}; });
  }, 4);
  BOOST_TEST(out == expect<int>({{10, 11, 30, 31, 40, 41}, {}, {50, 51}, {}}),
             boost::test_tools::per_element());
}
