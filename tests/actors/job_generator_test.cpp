#define BOOST_TEST_MODULE actors/job_generator
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include "sluice/job_generator.hpp"

using namespace sluice;

// The deterministic scheduler (scheduler.policy=testing) runs actors only
// when the test says so: no threads, no sleeps.
BOOST_AUTO_TEST_CASE(manual_clock_gives_one_tick_per_interval_reached) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto ticks = std::make_shared<std::vector<int64_t>>();
  auto sink = sys.spawn([ticks](caf::event_based_actor*) -> caf::behavior {
    return {[ticks](tick_atom, int64_t t) { ticks->push_back(t); }};
  });
  auto manual = std::make_shared<detail::manual_ticks>(sink, int64_t{500}, int64_t{500});
  auto gen = sys.spawn(detail::job_generator, sink, int64_t{500}, int64_t{500}, manual);
  sched.run();
  caf::anon_send(gen, advance_atom::value, int64_t{400});
  sched.run();
  BOOST_TEST(ticks->empty());
  caf::anon_send(gen, advance_atom::value, int64_t{500});
  sched.run();
  BOOST_TEST(*ticks == std::vector<int64_t>{500}, boost::test_tools::per_element());
  caf::anon_send(gen, advance_atom::value, int64_t{2000}); // three intervals at once
  sched.run();
  BOOST_TEST(*ticks == (std::vector<int64_t>{500, 1000, 1500, 2000}),
             boost::test_tools::per_element());
  caf::anon_send_exit(gen, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  sched.run();
}
