#define BOOST_TEST_MODULE persistence/fault_injector
#include <boost/test/unit_test.hpp>

#include "sluice/fault_injector.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using sluice::fault_action;
using sluice::fault_injector;
using sluice::fault_kind;
using sluice::fault_spec;

namespace {

/// Returns the kinds the next `n` hits of `point` yield.
std::vector<fault_kind> decisions(fault_injector& f, std::string_view point, int n) {
  std::vector<fault_kind> out;
  for (int i = 0; i < n; ++i)
    out.push_back(f.check(point).kind);
  return out;
}

int count_fired(const std::vector<fault_kind>& xs) {
  int n = 0;
  for (auto x : xs)
    n += x != fault_kind::none ? 1 : 0;
  return n;
}

/// Returns the message of the fault_config_error arming `entries` throws, or "no error".
std::string conf_error(const std::map<std::string, std::string>& entries) {
  fault_injector f;
  try {
    f.arm_from_conf(entries);
  } catch (const sluice::fault_config_error& e) {
    BOOST_TEST(!f.armed());
    return e.what();
  }
  return "no error";
}

} // namespace

BOOST_AUTO_TEST_SUITE(fault_injector_suite)

BOOST_AUTO_TEST_CASE(a_disarmed_injector_does_nothing) {
  fault_injector f;
  BOOST_TEST(!f.armed());
  BOOST_TEST((f.check("wal.append") == fault_action{}));
  BOOST_CHECK_NO_THROW(f.hit("wal.append"));
  BOOST_TEST(!f.should_drop("receiver.store"));
  BOOST_TEST(!f.should_fail_write("block.write"));
  BOOST_TEST(f.hits("wal.append") == 0u);
  BOOST_TEST(!f.disarm("wal.append"));
}

BOOST_AUTO_TEST_CASE(throw_fires_with_the_point_name) {
  fault_injector f;
  f.arm(sluice::fault_points::wal_append, fault_spec{});
  BOOST_TEST(f.armed());
  BOOST_CHECK_NO_THROW(f.hit("checkpoint.write"));
  try {
    f.hit("wal.append");
    BOOST_FAIL("hit did not throw");
  } catch (const sluice::injected_fault& e) {
    BOOST_TEST(e.point() == "wal.append");
    BOOST_TEST(std::string{e.what()} == "sluice: injected fault at wal.append");
  }
  BOOST_TEST(f.hits("wal.append") == 1u);
  BOOST_TEST(f.fires("wal.append") == 1u);
  BOOST_TEST(f.hits("checkpoint.write") == 0u);
  BOOST_TEST(f.disarm("wal.append"));
  BOOST_TEST(!f.armed());
  BOOST_CHECK_NO_THROW(f.hit("wal.append"));
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_decisions) {
  fault_spec spec{.action = fault_action::drop(), .probability = 0.5, .seed = 42};
  fault_injector a;
  fault_injector b;
  a.arm("shuffle.send", spec);
  b.arm("shuffle.send", spec);
  auto xs = decisions(a, "shuffle.send", 100);
  auto ys = decisions(b, "shuffle.send", 100);
  BOOST_TEST((xs == ys));
  auto fired = count_fired(xs);
  BOOST_TEST(fired >= 30);
  BOOST_TEST(fired <= 70);
  BOOST_TEST(a.fires("shuffle.send") == static_cast<std::uint64_t>(fired));
  // Re-arming restarts the sequence; another seed or point gives another one.
  a.arm("shuffle.send", spec);
  BOOST_TEST((decisions(a, "shuffle.send", 100) == xs));
  spec.seed = 43;
  a.arm("shuffle.send", spec);
  BOOST_TEST((decisions(a, "shuffle.send", 100) != xs));
  spec.seed = 42;
  a.arm("remote.send", spec);
  BOOST_TEST((decisions(a, "remote.send", 100) != xs));
}

BOOST_AUTO_TEST_CASE(probability_zero_never_fires_and_one_always_does) {
  fault_injector f;
  f.arm("a", fault_spec{.action = fault_action::drop(), .probability = 0.0});
  f.arm("b", fault_spec{.action = fault_action::drop(), .probability = 1.0});
  BOOST_TEST(count_fired(decisions(f, "a", 1000)) == 0);
  BOOST_TEST(count_fired(decisions(f, "b", 1000)) == 1000);
}

BOOST_AUTO_TEST_CASE(after_and_times_are_honoured_exactly) {
  fault_injector f;
  f.arm("operator.run", fault_spec{.action = fault_action::fail_write(), .after = 3, .times = 2});
  std::vector<bool> fired;
  for (int i = 0; i < 10; ++i)
    fired.push_back(f.should_fail_write("operator.run"));
  std::vector<bool> expected{false, false, false, true, true, false, false, false, false, false};
  BOOST_TEST(fired == expected, boost::test_tools::per_element());
  BOOST_TEST(f.hits("operator.run") == 10u);
  BOOST_TEST(f.fires("operator.run") == 2u);
}

BOOST_AUTO_TEST_CASE(queries_act_only_on_their_own_kind) {
  fault_injector f;
  f.arm("receiver.store", fault_spec{.action = fault_action::drop()});
  BOOST_TEST(!f.should_fail_write("receiver.store"));
  BOOST_CHECK_NO_THROW(f.hit("receiver.store"));
  BOOST_TEST(f.should_drop("receiver.store"));
  BOOST_TEST(f.fires("receiver.store") == 3u);
  f.arm("block.write", fault_spec{});
  BOOST_CHECK_THROW(f.should_drop("block.write"), sluice::injected_fault);
}

BOOST_AUTO_TEST_CASE(delay_sleeps_for_its_duration) {
  fault_injector f;
  f.arm("remote.send", fault_spec{.action = fault_action::delay(30ms)});
  auto start = std::chrono::steady_clock::now();
  f.hit("remote.send");
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 30ms));
}

BOOST_AUTO_TEST_CASE(crash_ends_the_process_with_the_exit_code) {
  auto pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    fault_injector f;
    f.arm("checkpoint.write", fault_spec{.action = fault_action::crash(7)});
    f.hit("checkpoint.write");
    ::_exit(0); // not reached unless the crash failed
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 7);
}

BOOST_AUTO_TEST_CASE(concurrent_hits_fire_exactly_times_faults) {
  fault_injector f;
  f.arm("shuffle.send", fault_spec{.action = fault_action::drop(), .times = 100});
  std::vector<std::thread> threads;
  std::vector<int> drops(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&f, &drops, t] {
      for (int i = 0; i < 1000; ++i)
        drops[t] += f.should_drop("shuffle.send") ? 1 : 0;
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(drops[0] + drops[1] + drops[2] + drops[3] == 100);
  BOOST_TEST(f.hits("shuffle.send") == 4000u);
}

BOOST_AUTO_TEST_CASE(a_thread_scope_gives_its_thread_an_injector_of_its_own) {
  auto& process = fault_injector::global();
  fault_injector mine;
  bool other_armed = true;
  std::uint64_t other_hits = 1;
  {
    fault_injector::thread_scope scope{mine};
    BOOST_TEST(&fault_injector::global() == &mine);
    fault_injector::global().arm("scoped.point", fault_spec{.action = fault_action::drop()});
    // Another thread, without a scope, queries the process-wide injector.
    std::thread other{[&] {
      other_armed = fault_injector::global().armed();
      other_hits = fault_injector::global().hits("scoped.point");
      fault_injector::global().hit("scoped.point");
    }};
    other.join();
    {
      fault_injector inner;
      fault_injector::thread_scope nested{inner};
      BOOST_TEST(&fault_injector::global() == &inner);
    }
    BOOST_TEST(&fault_injector::global() == &mine);
    BOOST_TEST(fault_injector::global().should_drop("scoped.point"));
  }
  BOOST_TEST(&fault_injector::global() == &process);
  BOOST_TEST(!other_armed);
  BOOST_TEST(other_hits == 0u);
  BOOST_TEST(mine.hits("scoped.point") == 1u);
  BOOST_TEST(!process.armed());
}

BOOST_AUTO_TEST_CASE(conf_entries_arm_points) {
  auto spec = sluice::parse_fault_spec("sluice.fault.wal.append",
                                       "delay:200ms, p=0.25,after=3,times=1,seed=42");
  BOOST_TEST((spec == fault_spec{.action = fault_action::delay(200ms), .probability = 0.25,
                                 .after = 3, .times = 1, .seed = 42}));
  BOOST_TEST(sluice::to_string(spec) == "delay:200ms,p=0.25,after=3,times=1,seed=42");
  BOOST_TEST((sluice::parse_fault_spec("k", "delay:2s").action == fault_action::delay(2000ms)));
  BOOST_TEST((sluice::parse_fault_spec("k", "crash").action == fault_action::crash()));
  BOOST_TEST((sluice::parse_fault_spec("k", "crash:3").action == fault_action::crash(3)));
  BOOST_TEST((sluice::parse_fault_spec("k", "throw") == fault_spec{}));
  BOOST_TEST(sluice::to_string(sluice::parse_fault_spec("k", "fail_write,times=2"))
             == "fail_write,times=2");
  fault_injector f;
  f.arm_from_conf({{"sluice.fault.block.write", "fail_write,after=1"},
                   {"sluice.fault.receiver.store", "drop"},
                   {"sluice.streaming.batch.interval", "1s"}});
  BOOST_TEST(!f.should_fail_write("block.write"));
  BOOST_TEST(f.should_fail_write("block.write"));
  BOOST_TEST(f.should_drop("receiver.store"));
  BOOST_TEST(f.hits("sluice.streaming.batch.interval") == 0u);
}

BOOST_AUTO_TEST_CASE(bad_conf_entries_name_the_key_and_value_and_arm_nothing) {
  BOOST_TEST(conf_error({{"sluice.fault.wal.append", "explode"}})
             == "sluice.fault.wal.append=explode: unknown action 'explode' (expected throw, "
                "delay:<ms>, drop, fail_write or crash[:<exit code>])");
  BOOST_TEST(conf_error({{"sluice.fault.a", "delay"}})
             == "sluice.fault.a=delay: action 'delay' needs a duration, e.g. delay:200ms");
  BOOST_TEST(conf_error({{"sluice.fault.a", "delay:5min"}})
             == "sluice.fault.a=delay:5min: bad delay '5min' (expected <n>, <n>ms or <n>s)");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop:5"}})
             == "sluice.fault.a=drop:5: action 'drop' takes no argument");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,p=1.5"}})
             == "sluice.fault.a=drop,p=1.5: probability '1.5' is outside [0, 1]");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,p=half"}})
             == "sluice.fault.a=drop,p=half: bad number 'half' for option 'p'");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,times=0"}})
             == "sluice.fault.a=drop,times=0: times must be at least 1");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,after=-1"}})
             == "sluice.fault.a=drop,after=-1: bad number '-1' for option 'after'");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,every=2"}})
             == "sluice.fault.a=drop,every=2: unknown option 'every' (expected p, after, "
                "times or seed)");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,seed=1,seed=2"}})
             == "sluice.fault.a=drop,seed=1,seed=2: option 'seed' given twice");
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop,p"}})
             == "sluice.fault.a=drop,p: option 'p' is not <name>=<value>");
  BOOST_TEST(conf_error({{"sluice.fault.a", "crash:300"}})
             == "sluice.fault.a=crash:300: bad exit code '300' (expected 0..255)");
  BOOST_TEST(conf_error({{"sluice.fault.", "drop"}})
             == "sluice.fault.=drop: the key names no fault point");
  // One bad entry among good ones arms none of them (conf_error checks armed()).
  BOOST_TEST(conf_error({{"sluice.fault.a", "drop"}, {"sluice.fault.b", "nope"}}).starts_with(
    "sluice.fault.b=nope: unknown action 'nope'"));
  BOOST_CHECK_THROW(sluice::parse_fault_spec("k", ""), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(arm_rejects_invalid_specs) {
  fault_injector f;
  BOOST_CHECK_THROW(f.arm("a", fault_spec{.action = fault_action{}}),
                    sluice::fault_config_error);
  BOOST_CHECK_THROW(f.arm("a", fault_spec{.action = fault_action::drop(), .probability = -0.1}),
                    sluice::fault_config_error);
  BOOST_CHECK_THROW(f.arm("", fault_spec{}), sluice::fault_config_error);
  BOOST_CHECK_THROW(f.arm("a", fault_spec{.action = fault_action::drop(), .times = 0}),
                    sluice::fault_config_error);
  BOOST_TEST(!f.armed());
}

BOOST_AUTO_TEST_CASE(global_is_one_instance) {
  auto& g = fault_injector::global();
  BOOST_TEST(&g == &fault_injector::global());
  g.arm("operator.run", fault_spec{.action = fault_action::drop()});
  BOOST_TEST(fault_injector::global().should_drop("operator.run"));
  g.disarm_all();
  BOOST_TEST(!g.armed());
}

BOOST_AUTO_TEST_SUITE_END()
