#define BOOST_TEST_MODULE runtime/state_ops
#include <algorithm>
#include <functional>
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

static const auto masters = bdata::make({"local[1]", "local[2]", "local[4]"});

namespace {

// Running count: the state grows by the number of new values.
std::optional<int> add_count(const std::vector<int>& values, std::optional<int> state) {
  return state.value_or(0) + static_cast<int>(values.size());
}

// A std::function, not a lambda: the data test cases' lambdas capture it,
// and a capture of an unnamed-namespace lambda type draws -Wsubobject-linkage.
std::function<dstream<kv>(streaming_context&)> words(std::vector<std::vector<std::string>> batches) {
  return [batches](streaming_context& ssc) {
    return ssc.queue_stream(batches).map([](std::string w) { return kv{w, 1}; });
  };
}

} // namespace

BOOST_DATA_TEST_CASE(update_state_by_key_emits_the_whole_state_every_batch, masters, master) {
  temp_dir dir{"usbk"};
  auto input = words({{"a"}, {"a", "b"}, {}, {"b"}});
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return input(ssc).update_state_by_key(add_count);
  }, 4, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"a", 1}}, {{"a", 2}, {"b", 1}}, {{"a", 2}, {"b", 1}},
                                {{"a", 2}, {"b", 2}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(update_state_by_key_removes_keys_and_empties_to_an_empty_batch, masters,
                     master) {
  temp_dir dir{"usbk2"};
  auto input = words({{"a", "b"}, {"a"}, {}, {}});
  // A key lives until it has gone a batch without data.
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return input(ssc).update_state_by_key(
      [](const std::vector<int>& vs, std::optional<int> s) -> std::optional<int> {
        if (vs.empty())
          return std::nullopt;
        return s.value_or(0) + static_cast<int>(vs.size());
      });
  }, 4, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"a", 1}, {"b", 1}}, {{"a", 2}}, {}, {}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(update_state_by_key_with_initial_state_and_time, masters, master) {
  temp_dir dir{"usbk3"};
  auto input = words({{"a"}, {}});
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    auto initial = ssc.make_rdd<std::pair<std::string, int>>({{"c", 10}}, 2);
    return input(ssc).update_state_by_key(
      [](batch_time t, const std::string& k, const std::vector<int>& vs,
         std::optional<int> s) -> std::optional<int> {
        // Initial keys run at the first batch with their state and no values.
        return s.value_or(0) + static_cast<int>(vs.size()) * 100 + static_cast<int>(t.ms / 1000)
               + (k == "c" ? 1000 : 0);
      },
      3, initial);
  }, 2, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"a", 101}, {"c", 1011}}, {{"a", 103}, {"c", 2013}}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stateful_operations_need_a_checkpoint_directory) {
  streaming_context ssc{manual_conf(), seconds(1)};
  words({{"a"}})(ssc).update_state_by_key(add_count).print();
  auto msg = message_of([&] { ssc.start(); });
  BOOST_TEST(msg.find("update_state_by_key") != std::string::npos, msg);
  BOOST_TEST(msg.find("ssc.checkpoint(dir)") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(checkpoint_interval_is_validated_at_start) {
  temp_dir dir{"cpi"};
  streaming_context ssc{manual_conf(), seconds(2)};
  ssc.checkpoint(dir.str());
  words({{"a"}})(ssc).update_state_by_key(add_count).checkpoint(seconds(3)).print();
  auto msg = message_of([&] { ssc.start(); });
  BOOST_TEST(msg.find("3000 ms which not a multiple of its slide time (2000 ms)")
             != std::string::npos, msg);
  BOOST_TEST(detail::default_state_checkpoint_interval(seconds(3)).count() == 12000);
  BOOST_TEST(detail::default_state_checkpoint_interval(milliseconds(100)).count() == 10000);
}

// -- map_with_state -------------------------------------------------------------

namespace {

using spec_t = state_spec<std::string, int, int, kv>;

spec_t running_count() {
  return spec_t::function([](const std::string& k, std::optional<int> v, state<int>& s) {
    int n = s.get_option().value_or(0) + v.value_or(0);
    s.update(n);
    return kv{k, n};
  });
}

} // namespace

BOOST_DATA_TEST_CASE(map_with_state_maps_every_record_in_order, masters, master) {
  temp_dir dir{"mws"};
  auto input = words({{"a"}, {"a", "b", "a"}, {}});
  std::vector<fixtures::batch_output<kv>> snapshots;
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return input(ssc).map_with_state(running_count());
  }, 3, manual_conf(master));
  // Repeated keys in one batch see the earlier updates (SEMANTICS §4.21).
  for (auto& b : out) {
    std::vector<kv> a_values;
    for (auto& r : b.records)
      if (r.first == "a")
        a_values.push_back(r);
    if (b.t == 2000)
      BOOST_TEST((a_values == std::vector<kv>{{"a", 2}, {"a", 3}}));
    std::sort(b.records.begin(), b.records.end());
  }
  BOOST_TEST(out == expect<kv>({{{"a", 1}}, {{"a", 2}, {"a", 3}, {"b", 1}}, {}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(state_snapshots_include_untouched_and_initial_keys, masters, master) {
  temp_dir dir{"mws2"};
  auto input = words({{}, {"a"}, {}});
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    auto spec = running_count();
    spec.initial_state(ssc.make_rdd<kv>({{"x", 5}}, 1)).num_partitions(3);
    return input(ssc).map_with_state(spec).state_snapshots();
  }, 3, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"x", 5}}, {{"a", 1}, {"x", 5}}, {{"a", 1}, {"x", 5}}}),
             boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(the_initial_state_is_released_once_every_partition_has_a_checkpoint,
                     masters, master) {
  // Each partition stores a state checkpoint at its first batch; once that
  // batch completed, no partition can start from the initial state again,
  // and the engine keeps no copy of it (only the checkpoint and the state).
  temp_dir dir{"mws-release"};
  auto input = words({{"a"}, {"x"}, {"x"}});
  auto released = std::make_shared<std::vector<bool>>();  // at each batch's output
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    auto spec = running_count();
    spec.initial_state(ssc.make_rdd<kv>({{"x", 5}, {"y", 7}}, 2)).num_partitions(3);
    std::weak_ptr<const std::vector<kv>> initial = spec.initial();
    auto snapshots = input(ssc).map_with_state(spec).state_snapshots();
    snapshots.foreach_rdd([initial, released](const rdd<kv>&) {
      released->push_back(initial.expired());
    });
    return snapshots;
  }, 3, manual_conf(master), true);
  BOOST_TEST(out == expect<kv>({{{"a", 1}, {"x", 5}, {"y", 7}},
                                {{"a", 1}, {"x", 6}, {"y", 7}},
                                {{"a", 1}, {"x", 7}, {"y", 7}}}),
             boost::test_tools::per_element());
  // Batch 1's outputs run before it completes; the release follows it, and
  // every partition's actor takes it before batch 2's records.
  BOOST_TEST(*released == (std::vector<bool>{false, true, true}), boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(timeouts_are_found_in_full_scan_batches_once, masters, master) {
  temp_dir dir{"mws3"};
  std::vector<std::vector<std::string>> batches{{"a"}, {"b"}};
  batches.resize(11);
  auto input = words(batches);
  auto spec = spec_t::function([](batch_time, const std::string& k, std::optional<int> v,
                                  state<int>& s) -> std::optional<kv> {
    if (s.is_timing_out())
      return kv{k, -s.get()};
    s.update(s.get_option().value_or(0) + v.value_or(0));
    return kv{k, s.get()};
  });
  spec.timeout(seconds(3));
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return input(ssc).map_with_state(spec);
  }, 11, manual_conf(master), true);
  // Batch 1 s, timeout 3 s: keys idle since 1 s and 2 s time out together at
  // the first full scan, 10 s (10 x batch), each reported once.
  std::vector<std::vector<kv>> want(11);
  want[0] = {{"a", 1}};
  want[1] = {{"b", 1}};
  want[9] = {{"a", -1}, {"b", -1}};
  BOOST_TEST(out == expect<kv>(want), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(state_api_errors_fail_the_batch_with_spark_messages) {
  auto fail_with = [](auto body) {
    temp_dir dir{"mws4"};
    streaming_context ssc{manual_conf("local[1]"), seconds(1)};
    ssc.checkpoint(dir.str());
    auto spec = spec_t::function([body](const std::string& k, std::optional<int>, state<int>& s) {
      body(s);
      return kv{k, 0};
    });
    words({{"a"}})(ssc).map_with_state(spec).foreach_rdd([](const rdd<kv>&) {});
    ssc.start();
    ssc.manual_clock().advance(seconds(1));
    return message_of([&] { ssc.await_termination(); });
  };
  // Operators: 0 queue_stream, 1 map, 2 map_with_state.
  const std::string failed = "map_with_state (operator 2) failed at batch 1000 ms: ";
  BOOST_TEST(fail_with([](state<int>& s) { s.get(); }) == failed + "State is not set");
  BOOST_TEST(fail_with([](state<int>& s) {
               s.update(1);
               s.remove();
               s.update(2);
             })
             == failed + "requirement failed: Cannot update the state after it has been removed");
  BOOST_TEST(fail_with([](state<int>& s) {
               s.remove();
               s.remove();
             })
             == failed
                  + "requirement failed: Cannot remove the state that has already been removed");
  state<int> timing_out{7, true};
  BOOST_TEST(timing_out.get() == 7);
  BOOST_CHECK_THROW(timing_out.update(1), invalid_argument);
  BOOST_CHECK_THROW(timing_out.remove(), invalid_argument);
  BOOST_CHECK_THROW(spec_t::function([](const std::string& k, std::optional<int>, state<int>&) {
                      return kv{k, 0};
                    }).num_partitions(0),
                    invalid_argument);
}

BOOST_DATA_TEST_CASE(a_removed_key_comes_back_as_new, masters, master) {
  temp_dir dir{"mws5"};
  auto input = words({{"a"}, {"a"}, {"a"}});
  auto spec = spec_t::function([](const std::string& k, std::optional<int>, state<int>& s) {
    if (s.exists()) {
      s.remove();
      return kv{k, -1};
    }
    s.update(1);
    return kv{k, 1};
  });
  auto out = run([&](streaming_context& ssc) {
    ssc.checkpoint(dir.str());
    return input(ssc).map_with_state(spec);
  }, 3, manual_conf(master));
  BOOST_TEST(out == expect<kv>({{{"a", 1}}, {{"a", -1}}, {{"a", 1}}}),
             boost::test_tools::per_element());
}
