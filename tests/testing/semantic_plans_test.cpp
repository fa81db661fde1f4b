// Issue 14: the semantic suites' kinds of pipeline (stateless and key-value
// operators, a join, windows with and without an inverse function, both
// state operators) each under seeded fault plans of operator errors and
// process crashes: 200 plans in all, every one exactly-once against the
// fault-free run of its pipeline.
#define BOOST_TEST_MODULE testing/semantic_plans
#include <boost/test/unit_test.hpp>

#include "fixtures/word_script.hpp"
#include "sluice/testing.hpp"

using namespace sluice;
using namespace sluice::testing;
using fixtures::split_words;
using kv = std::pair<std::string, int64_t>;

namespace {

constexpr int batches = 20;
constexpr int plans_per_pipeline = 25;  // 8 pipelines: 200 plans

dstream<std::string> words(const scripted_input<std::string>& lines, streaming_context& ssc) {
  return lines.stream(ssc).flat_map([](const std::string& l) { return split_words(l); });
}

dstream<kv> ones(const scripted_input<std::string>& lines, streaming_context& ssc) {
  return words(lines, ssc).map([](const std::string& w) { return kv{w, 1}; });
}

/// Runs the pipeline `make(lines)` builds under plans_per_pipeline seeded
/// plans (seeds first_seed, first_seed + 1, ...); each run must equal the
/// fault-free run. Returns how many faults struck in all.
template <class MakeBuild>
int under_seeded_plans(MakeBuild make, uint64_t first_seed) {
  int faults = 0;
  simulation reference{first_seed};
  auto lines = reference.scripted_input<std::string>(fixtures::word_script(batches));
  auto build = make(lines);
  auto clean = reference.run_without_faults(build, batches);
  BOOST_TEST_REQUIRE(!clean.outputs().empty());
  for (uint64_t seed = first_seed; seed < first_seed + plans_per_pipeline; ++seed) {
    simulation sim{seed};
    sim.faults(sim.random_faults({operator_error, process_crash}, 0.08));
    auto faulty = sim.run(build, batches);
    auto check = exactly_once(faulty, clean);
    BOOST_TEST_REQUIRE(check.ok(), check.message() << "\ntrace:\n" << to_string(faulty.trace()));
    faults += static_cast<int>(faulty.plan().faults_until(batches).size());
  }
  BOOST_TEST_MESSAGE(faults << " faults in " << plans_per_pipeline << " plans");
  return faults;
}

} // namespace

BOOST_AUTO_TEST_CASE(stateless_operators) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      return words(lines, ssc)
        .filter([](const std::string& w) { return w.size() > 3; })
        .map([](const std::string& w) { return w + "!"; })
        .count_by_value();
    };
  };
  BOOST_TEST(under_seeded_plans(make, 100) > 0);
}

BOOST_AUTO_TEST_CASE(reduce_by_key_and_a_join) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      auto counts = ones(lines, ssc).reduce_by_key(std::plus<int64_t>{});
      auto lengths = words(lines, ssc).map([](const std::string& w) {
        return kv{w, static_cast<int64_t>(w.size())};
      });
      return counts.join(lengths);
    };
  };
  BOOST_TEST(under_seeded_plans(make, 200) > 0);
}

BOOST_AUTO_TEST_CASE(a_window_without_an_inverse) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      return ones(lines, ssc).reduce_by_key_and_window(std::plus<int64_t>{}, seconds(3),
                                                       seconds(1));
    };
  };
  BOOST_TEST(under_seeded_plans(make, 300) > 0);
}

BOOST_AUTO_TEST_CASE(a_window_with_an_inverse_function) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      return ones(lines, ssc).reduce_by_key_and_window(
        std::plus<int64_t>{}, std::minus<int64_t>{}, seconds(4), seconds(2));
    };
  };
  BOOST_TEST(under_seeded_plans(make, 400) > 0);
}

BOOST_AUTO_TEST_CASE(count_by_window) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      return words(lines, ssc).count_by_window(seconds(2), seconds(1));
    };
  };
  BOOST_TEST(under_seeded_plans(make, 500) > 0);
}

BOOST_AUTO_TEST_CASE(update_state_by_key) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      return ones(lines, ssc).update_state_by_key(
        [](const std::vector<int64_t>& vs, std::optional<int64_t> s) {
          int64_t sum = s.value_or(0);
          for (auto v : vs)
            sum += v;
          return std::optional<int64_t>{sum};
        });
    };
  };
  BOOST_TEST(under_seeded_plans(make, 600) > 0);
}

BOOST_AUTO_TEST_CASE(map_with_state) {
  using spec_t = state_spec<std::string, int64_t, int64_t, kv>;
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      auto spec = spec_t::function(
        [](const std::string& k, std::optional<int64_t> v, state<int64_t>& s) {
          int64_t n = s.get_option().value_or(0) + v.value_or(0);
          s.update(n);
          return kv{k, n};
        });
      return ones(lines, ssc).map_with_state(spec);
    };
  };
  BOOST_TEST(under_seeded_plans(make, 700) > 0);
}

BOOST_AUTO_TEST_CASE(a_union_of_two_windowed_streams) {
  auto make = [](scripted_input<std::string> lines) {
    return [lines](streaming_context& ssc) {
      auto counts = ones(lines, ssc).reduce_by_key(std::plus<int64_t>{});
      auto windowed = counts.window(seconds(2));
      return counts.union_with(windowed).reduce_by_key(std::plus<int64_t>{});
    };
  };
  BOOST_TEST(under_seeded_plans(make, 800) > 0);
}
