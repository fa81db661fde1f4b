// Recovery refuses a program whose stateful operators changed the types of
// their checkpointed state (issue 9, finding 7): the checkpoint's graph
// description records each one's codec type names.
#define BOOST_TEST_MODULE runtime/state_types
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"

using namespace sluice;
using fixtures::manual_conf;
using fixtures::temp_dir;

namespace {

using words_t = std::vector<std::vector<std::string>>;

template <class T>
using outputs = std::shared_ptr<std::vector<fixtures::batch_output<T>>>;

/// Runs `batches` batches of the context `make` returns, then stops it.
void run(const std::function<streaming_context()>& make, int batches) {
  auto ssc = make();
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(batches));
  counter->wait_for(batches);
  ssc.stop();
}

/// Returns the message of the illegal_state that get_or_create throws.
std::string refusal(const std::string& dir, const std::function<streaming_context()>& make) {
  try {
    streaming_context::get_or_create(dir, make);
  } catch (const illegal_state& e) {
    return e.what();
  }
  return "<no illegal_state>";
}

/// Words counted per key by map_with_state with a state of type S; operator
/// ids: 0 queue_stream, 1 map, 2 map_with_state.
template <class S>
std::function<streaming_context()> mws_program(std::string dir, words_t input,
                                               outputs<std::pair<std::string, S>> out) {
  return [=] {
    streaming_context ssc{manual_conf(), seconds(1)};
    ssc.checkpoint(dir);
    using kv = std::pair<std::string, S>;
    auto spec = state_spec<std::string, int, S, kv>::function(
      [](const std::string& k, std::optional<int> v, state<S>& s) {
        S n = s.get_option().value_or(S{0}) + static_cast<S>(v.value_or(0));
        s.update(n);
        return kv{k, n};
      });
    ssc.queue_stream(input)
      .map([](std::string w) { return std::pair<std::string, int>{w, 1}; })
      .map_with_state(spec)
      .checkpoint(seconds(1))
      .foreach_rdd([out](const rdd<kv>& r, batch_time t) {
        auto v = r.collect();
        std::sort(v.begin(), v.end());
        out->push_back({t.ms, v});
      });
    return ssc;
  };
}

/// The same with update_state_by_key, key type K (a word, or its length).
template <class K, class S>
std::function<streaming_context()> usbk_program(std::string dir, words_t input,
                                                outputs<std::pair<K, S>> out) {
  return [=] {
    streaming_context ssc{manual_conf(), seconds(1)};
    ssc.checkpoint(dir);
    using kv = std::pair<K, S>;
    ssc.queue_stream(input)
      .map([](std::string w) {
        if constexpr (std::is_same_v<K, std::string>)
          return std::pair<K, int>{w, 1};
        else
          return std::pair<K, int>{static_cast<K>(w.size()), 1};
      })
      .update_state_by_key([](const std::vector<int>& vs, std::optional<S> s) {
        return std::optional<S>{s.value_or(S{0}) + static_cast<S>(vs.size())};
      })
      .checkpoint(seconds(1))
      .foreach_rdd([out](const rdd<kv>& r, batch_time t) {
        auto v = r.collect();
        std::sort(v.begin(), v.end());
        out->push_back({t.ms, v});
      });
    return ssc;
  };
}

std::string changed(const std::string& dir, const std::string& what) {
  return "cannot recover from the checkpoint in " + dir + ": " + what
         + "; its checkpointed state holds values of the old type (restore the old type, or "
           "start over with an empty checkpoint directory)";
}

} // namespace

BOOST_AUTO_TEST_CASE(a_changed_map_with_state_state_type_is_refused_by_name) {
  temp_dir dir{"types-mws"};
  using kv = std::pair<std::string, int64_t>;
  auto first = std::make_shared<std::vector<fixtures::batch_output<kv>>>();
  run(mws_program<int64_t>(dir.str(), {{"a"}, {"a", "b"}}, first), 2);
  BOOST_REQUIRE(!first->empty());
  BOOST_TEST((first->back().records == std::vector<kv>{{"a", 2}, {"b", 1}}));

  // Before: "sluice::codec: 4 bytes left over after the decoded value" (a
  // smaller type), or silently wrong values (a type of the same size).
  BOOST_TEST(refusal(dir.str(), mws_program<int32_t>(dir.str(), {{"a"}}, {}))
             == changed(dir.str(), "map_with_state (operator 2): state type changed from int64 "
                                   "to int32"));
  BOOST_TEST(refusal(dir.str(), mws_program<double>(dir.str(), {{"a"}}, {}))
             == changed(dir.str(), "map_with_state (operator 2): state type changed from int64 "
                                   "to double"));

  // The unchanged program recovers and counts on from the checkpointed state.
  auto second = std::make_shared<std::vector<fixtures::batch_output<kv>>>();
  run([&] {
    return streaming_context::get_or_create(dir.str(),
                                            mws_program<int64_t>(dir.str(), {{"a"}}, second));
  }, 1);
  BOOST_REQUIRE(!second->empty());
  BOOST_TEST(second->front().t == 3000);
  BOOST_TEST((second->front().records == std::vector<kv>{{"a", 3}}));
}

BOOST_AUTO_TEST_CASE(a_changed_update_state_by_key_key_or_state_type_is_refused_by_name) {
  temp_dir dir{"types-usbk"};
  using kv = std::pair<std::string, int64_t>;
  auto first = std::make_shared<std::vector<fixtures::batch_output<kv>>>();
  run(usbk_program<std::string, int64_t>(dir.str(), {{"a"}, {"a", "bb"}}, first), 2);
  BOOST_REQUIRE(!first->empty());
  BOOST_TEST((first->back().records == std::vector<kv>{{"a", 2}, {"bb", 1}}));

  BOOST_TEST(refusal(dir.str(), usbk_program<std::string, int32_t>(dir.str(), {{"a"}}, {}))
             == changed(dir.str(), "update_state_by_key (operator 2): state type changed from "
                                   "int64 to int32"));
  BOOST_TEST(refusal(dir.str(), usbk_program<std::string, double>(dir.str(), {{"a"}}, {}))
             == changed(dir.str(), "update_state_by_key (operator 2): state type changed from "
                                   "int64 to double"));
  BOOST_TEST(refusal(dir.str(), usbk_program<int32_t, double>(dir.str(), {{"a"}}, {}))
             == changed(dir.str(), "update_state_by_key (operator 2): key type changed from "
                                   "string to int32, state type changed from int64 to double"));

  auto second = std::make_shared<std::vector<fixtures::batch_output<kv>>>();
  run([&] {
    return streaming_context::get_or_create(
      dir.str(), usbk_program<std::string, int64_t>(dir.str(), {{"bb"}}, second));
  }, 1);
  BOOST_REQUIRE(!second->empty());
  BOOST_TEST(second->front().t == 3000);
  BOOST_TEST((second->front().records == std::vector<kv>{{"a", 2}, {"bb", 2}}));
}

BOOST_AUTO_TEST_CASE(windows_record_the_types_of_their_remembered_batches) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto pairs = ssc.queue_stream<std::pair<std::string, int>>({});
  pairs.window(seconds(2), seconds(1)).print();
  pairs
    .reduce_by_key_and_window(std::plus<int>{}, std::minus<int>{}, seconds(2), seconds(1))
    .print();
  auto lines = detail::dstream_access::graph(pairs)->describe();
  BOOST_TEST(lines[1] == "1 window kind=4 slide=1000 parents=0 | records=pair<string,int32>");
  BOOST_TEST(lines[3]
             == "3 reduce_by_key_and_window kind=3 slide=1000 parents=0 partitions=2 | "
                "key=string | value=int32");
}

BOOST_AUTO_TEST_CASE(descriptions_without_types_from_older_builds_match_any_types) {
  std::vector<std::string> old_build{"0 queue_stream kind=1 slide=1000 parents=",
                                     "1 map_with_state kind=3 slide=1000 parents=0 partitions=2"};
  std::vector<std::string> typed{
    "0 queue_stream kind=1 slide=1000 parents=",
    "1 map_with_state kind=3 slide=1000 parents=0 partitions=2 | key=string | state=int64"};
  BOOST_TEST(!detail::describe_difference(old_build, typed));
  BOOST_TEST(!detail::state_type_difference(old_build, typed));
  BOOST_TEST(!detail::state_type_difference(typed, typed));
  auto other = typed;
  other[1] = "1 map_with_state kind=3 slide=1000 parents=0 partitions=2 | key=string | "
             "state=pair<int64,double>";
  BOOST_TEST(*detail::state_type_difference(typed, other)
             == "map_with_state (operator 1): state type changed from int64 to "
                "pair<int64,double>");
}
