#define BOOST_TEST_MODULE runtime/view_records
// Records that view their input (README "Records that view their input"):
// std::string_view words into the line they were split from are combined by
// key in the stage that split them, and the results own their keys. start()
// refuses a plan where such records would outlive the line.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <string_view>
#include <type_traits>

#include "fixtures/harness.hpp"

using namespace sluice;
using fixtures::expect;
using fixtures::manual_conf;
using fixtures::run;
namespace bdata = boost::unit_test::data;

namespace {

using kv = std::pair<std::string, int>;

const auto masters = bdata::make({"local[1]", "local[2]", "local[4]"});

std::vector<std::vector<std::string>> lines() {
  return {{"a b a", "c"}, {}, {"b c  c", " c "}};
}

/// The words of `line` as views into it: valid while the line is.
std::vector<std::string_view> split(const std::string& line) {
  std::vector<std::string_view> out;
  std::string_view rest{line};
  while (!rest.empty()) {
    auto end = rest.find(' ');
    if (end != 0)
      out.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  return out;
}

dstream<std::string_view> words(streaming_context& ssc) {
  return ssc.queue_stream(lines()).flat_map(split);
}

/// The refusal of operator `op` (the tail of the fused chain), with what
/// would keep its records.
bool refused_for(const illegal_state& e, const std::string& op, const std::string& where) {
  std::string what = e.what();
  BOOST_TEST_MESSAGE(what);
  return what.starts_with(op + " (operator ")
         && what.find("holds views, and its records would outlive what they view: " + where)
              != std::string::npos
         && what.find("sluice::owned_t") != std::string::npos;
}

} // namespace

BOOST_DATA_TEST_CASE(reduce_by_key_makes_viewed_keys_owning, masters, master) {
  auto out = run([](streaming_context& ssc) {
    auto counted = words(ssc)
                     .map([](std::string_view w) { return std::pair<std::string_view, int>{w, 1}; })
                     .reduce_by_key(std::plus<int>{});
    static_assert(std::is_same_v<decltype(counted), dstream<kv>>);
    return counted;
  }, 3, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"a", 2}, {"b", 1}, {"c", 1}}, {}, {{"b", 1}, {"c", 3}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(count_by_value_and_combine_by_key_over_views, masters, master) {
  using counted_t = std::pair<std::string, int64_t>;
  auto counted = run([](streaming_context& ssc) { return words(ssc).count_by_value(); }, 3,
                     manual_conf(master), true);
  BOOST_TEST(counted
               == expect<counted_t>({{{"a", 2}, {"b", 1}, {"c", 1}}, {}, {{"b", 1}, {"c", 3}}}),
             boost::test_tools::per_element());
  // A pair key that views in one member: (first letter, length) -> the words' total length.
  using key = std::pair<std::string, size_t>;
  using out_t = std::pair<key, size_t>;
  auto combined = run([](streaming_context& ssc) {
    return ssc.queue_stream<std::string>({{"ab ab abc b", "ab"}})
      .flat_map(split)
      .map([](std::string_view w) {
        return std::pair{std::pair{w.substr(0, 1), w.size()}, w.size()};
      })
      .combine_by_key([](size_t n) { return n; }, std::plus<size_t>{}, std::plus<size_t>{});
  }, 1, manual_conf(master), true);
  BOOST_TEST(combined == expect<out_t>({{{{"a", 2}, 6}, {{"a", 3}, 3}, {{"b", 1}, 1}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(windows_make_viewed_keys_owning, masters, master) {
  // Window 2 s, slide 1 s over the three batches and an empty fourth; both
  // forms count the same words.
  auto windowed = []<class T>(std::type_identity<T>) {
    return expect<T>({{{"a", 2}, {"b", 1}, {"c", 1}},
                      {{"a", 2}, {"b", 1}, {"c", 1}},
                      {{"b", 1}, {"c", 3}},
                      {{"b", 1}, {"c", 3}}});
  };
  using counted_t = std::pair<std::string, int64_t>;
  fixtures::temp_dir dir{"view-records-window"};
  auto inverse = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return words(ssc).count_by_value_and_window(seconds(2), seconds(1));
  }, 4, manual_conf(master), true);
  BOOST_TEST(inverse == windowed(std::type_identity<counted_t>{}),
             boost::test_tools::per_element());
  auto naive = run([](streaming_context& ssc) {
    return words(ssc)
      .map([](std::string_view w) { return std::pair<std::string_view, int>{w, 1}; })
      .reduce_by_key_and_window(std::plus<int>{}, seconds(2), seconds(1));
  }, 4, manual_conf(master), true);
  BOOST_TEST(naive == windowed(std::type_identity<kv>{}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(codec_bytes_carry_the_owned_keys) {
  // sluice.serializer.local=true: the buckets travel as codec bytes; the
  // views themselves never leave the stage, so they need no codec.
  auto c = manual_conf("local[2]");
  c.set("sluice.serializer.local", "true");
  auto out = run([](streaming_context& ssc) {
    return words(ssc)
      .map([](std::string_view w) { return std::pair<std::string_view, int>{w, 1}; })
      .reduce_by_key(std::plus<int>{});
  }, 3, c, true);
  BOOST_TEST(out == expect<kv>({{{"a", 2}, {"b", 1}, {"c", 1}}, {}, {{"b", 1}, {"c", 3}}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(start_refuses_views_that_leave_their_stage) {
  using views_kv = std::pair<std::string_view, int>;
  auto pairs = [](std::string_view w) { return views_kv{w, 1}; };
  auto start = [](auto build, conf c = manual_conf("local[2]")) {
    streaming_context ssc{c, seconds(1)};
    build(ssc);
    ssc.start();
  };
  // Collected for an output.
  BOOST_CHECK_EXCEPTION(start([](streaming_context& ssc) { words(ssc).print(); }), illegal_state,
                        [](auto& e) { return refused_for(e, "flat_map", "print (operator 2)"); });
  // Kept by a shuffle that moves records, not owning keys (the map is the
  // fused chain's tail).
  BOOST_CHECK_EXCEPTION(
    start([&](streaming_context& ssc) { words(ssc).map(pairs).group_by_key().print(); }),
    illegal_state, [](auto& e) { return refused_for(e, "map", "group_by_key (operator 3)"); });
  // Kept across batches by a window.
  BOOST_CHECK_EXCEPTION(
    start([](streaming_context& ssc) { words(ssc).window(seconds(2), seconds(1)).print(); }),
    illegal_state, [](auto& e) { return refused_for(e, "flat_map", "window (operator 2)"); });
  // Sent on by each of two consumers, one of them a combine.
  BOOST_CHECK_EXCEPTION(start([&](streaming_context& ssc) {
                          auto w = words(ssc).map(pairs);
                          w.reduce_by_key(std::plus<int>{}).print();
                          w.count().print();
                        }),
                        illegal_state, [](auto& e) {
                          std::string what = e.what();
                          return what.starts_with("map (operator ")
                                 && what.find("2 operators consume them") != std::string::npos;
                        });
  // Without chaining the flat_map's stage sends them to the map's stage.
  BOOST_CHECK_EXCEPTION(start([&](streaming_context& ssc) {
                          words(ssc).map(pairs).reduce_by_key(std::plus<int>{}).print();
                        }, manual_conf("local[2]", false)),
                        illegal_state, [](auto& e) {
                          return refused_for(e, "flat_map", "they would be sent to the next stage");
                        });
}
