#define BOOST_TEST_MODULE actors/actor_probe
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include "sluice/actor_probe.hpp"
#include "sluice/messages.hpp"

// An actor's own report in the live view (README "Monitoring": `mailbox`):
// the messages CAF has taken into its queue and not yet handled, counted
// without moving what is still in its inbox (actors/src/actor_probe.cpp).
// The deterministic scheduler (scheduler.policy=testing) runs the actor one
// message at a time, and takes everything in its inbox at the start of each
// such run.

using namespace sluice;
using namespace sluice::detail;

namespace {

struct probed_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<std::vector<actor_report>> reports =
    std::make_shared<std::vector<actor_report>>();
  caf::actor probed;

  probed_fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    probed = sys->spawn([out = reports](caf::event_based_actor* self) -> caf::behavior {
      return {
        [=](introspect_atom) { out->push_back(self_report(self)); },
        // Sends itself `xs` (they reach its inbox during this run), then reports.
        [=](introspect_atom, std::vector<int> xs) {
          for (int x : xs)
            self->send(self, x);
          out->push_back(self_report(self));
        },
        // A negative message reports too.
        [=](int x) {
          if (x < 0)
            out->push_back(self_report(self));
        },
      };
    });
    sched->run();
  }
  ~probed_fixture() {
    caf::anon_send_exit(probed, caf::exit_reason::user_shutdown);
    sched->run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(an_idle_actor_reports_an_empty_mailbox, probed_fixture) {
  caf::anon_send(probed, introspect_atom::value);
  sched->run();
  BOOST_REQUIRE_EQUAL(reports->size(), 1u);
  BOOST_TEST(reports->at(0).mailbox == 0);
}

BOOST_FIXTURE_TEST_CASE(messages_behind_the_probe_count_until_handled, probed_fixture) {
  // Three messages behind the probe, taken into the queue in the same run.
  caf::anon_send(probed, introspect_atom::value);
  for (int i = 0; i < 3; ++i)
    caf::anon_send(probed, i);
  BOOST_REQUIRE(sched->try_run_once());
  BOOST_REQUIRE_EQUAL(reports->size(), 1u);
  BOOST_TEST(reports->at(0).mailbox == 3);
  // A probe and one more message arrive; the next run handles 0 and takes
  // them into the queue behind 1 and 2. When the probe's turn comes, the
  // message behind it is the one counted.
  caf::anon_send(probed, introspect_atom::value);
  caf::anon_send(probed, 9);
  for (int handled = 0; handled < 4; ++handled)
    BOOST_REQUIRE(sched->try_run_once());
  BOOST_REQUIRE_EQUAL(reports->size(), 2u);
  BOOST_TEST(reports->at(1).mailbox == 1);
  sched->run();
}

BOOST_FIXTURE_TEST_CASE(messages_that_arrive_during_a_run_count_from_the_next, probed_fixture) {
  caf::anon_send(probed, introspect_atom::value, std::vector<int>{-1, 5});
  BOOST_REQUIRE(sched->try_run_once());
  BOOST_REQUIRE_EQUAL(reports->size(), 1u);
  BOOST_TEST(reports->at(0).mailbox == 0);  // -1 and 5 are still in the inbox
  BOOST_REQUIRE(sched->try_run_once());     // takes both, handles -1
  BOOST_REQUIRE_EQUAL(reports->size(), 2u);
  BOOST_TEST(reports->at(1).mailbox == 1);  // 5
  sched->run();
}
