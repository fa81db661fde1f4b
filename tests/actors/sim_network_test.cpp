#define BOOST_TEST_MODULE actors/sim_network
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "sluice/deterministic.hpp"
#include "sluice/error.hpp"
#include "sluice/sim_network.hpp"

// Three actor systems (a driver and two workers) in one process, each on
// CAF's test coordinator and test multiplexer, talking BASP over prepared
// connections while this thread alone drives them: the network seam of the
// simulation (notes/sim-worker-loss.md). Everything here is exact: no
// sleeps, no threads, and the same run gives the same log.

using namespace std::chrono_literals;
using sluice::detail::sim_network;

namespace {

using kick_atom = caf::atom_constant<caf::atom("kick")>;
using work_atom = caf::atom_constant<caf::atom("work")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;

using log_ptr = std::shared_ptr<std::vector<std::string>>;

std::string reason_of(const caf::error& e) {
  if (e == caf::exit_reason::remote_link_unreachable)
    return "remote_link_unreachable";
  if (e == caf::sec::request_timeout)
    return "request_timeout";
  return caf::to_string(e);
}

struct driver_state {
  std::vector<std::pair<std::string, caf::actor>> workers;
};

// Keeps the workers that said hello, monitors them, and on a kick asks
// each one for work with a 2 s timeout (the driver's test clock).
caf::behavior driver(caf::stateful_actor<driver_state>* self, log_ptr log) {
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& [name, w] : self->state.workers)
      if (w.address() == dm.source)
        log->push_back("driver: " + name + " down, " + reason_of(dm.reason));
  });
  return {
    [=](hello_atom, std::string& name, caf::actor& w) {
      self->monitor(w);
      log->push_back("driver: hello from " + name
                     + (w.node() != self->node() ? " (a proxy)" : " (local)"));
      self->state.workers.emplace_back(std::move(name), std::move(w));
    },
    [=](kick_atom, int32_t round) {
      for (auto& [n, w] : self->state.workers) {
        auto name = n;
        self->request(w, caf::timespan{2s}, work_atom::value, round)
          .then(
            [=](int32_t r) { log->push_back("driver: " + name + " answered " + std::to_string(r)); },
            [=](caf::error& e) { log->push_back("driver: " + name + " failed, " + reason_of(e)); });
      }
    },
  };
}

caf::behavior worker(caf::event_based_actor* self, caf::actor drv, std::string name, log_ptr log) {
  self->monitor(drv);
  self->set_down_handler([=](caf::down_msg& dm) {
    log->push_back(name + ": driver down, " + reason_of(dm.reason));
    self->quit();
  });
  self->send(drv, hello_atom::value, name, caf::actor_cast<caf::actor>(self));
  return {
    [=](work_atom, int32_t x) {
      log->push_back(name + ": work " + std::to_string(x));
      return x * 10;
    },
  };
}

struct node {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched;
  node() {
    cfg.load<caf::io::middleman>();
    sim_network::configure(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
  }
};

size_t thread_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator{"/proc/self/task"})
    ++n;
  return n;
}

// The driver publishes on port 4000; each worker connects through its
// middleman actor (requests awaited with reply_ready, which runs the whole
// network) and says hello. The network is declared after the nodes: it
// goes first, and the systems are destroyed only after every actor ended.
struct three_nodes {
  log_ptr log = std::make_shared<std::vector<std::string>>();
  node d, w1, w2;
  sim_network net;
  caf::actor drv;
  std::vector<caf::actor> workers;

  three_nodes() {
    for (auto* n : {&d, &w1, &w2})
      net.add(*n->sys);
    net.connect(*d.sys, *w1.sys, "driver", 4000);
    net.connect(*d.sys, *w2.sys, "driver", 4000);
    drv = d.sys->spawn(driver, log);
    publish();
    join(w1, "w1");
    join(w2, "w2");
    net.run();
  }

  ~three_nodes() {
    // ~actor_system waits for every actor, and only this thread runs them.
    for (auto* n : {&d, &w1, &w2})
      net.thaw(*n->sys);
    for (auto& w : workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(drv, caf::exit_reason::user_shutdown);
    net.run();
  }

  void publish() {
    caf::scoped_actor self{*d.sys};
    auto r = self->request(d.sys->middleman().actor_handle(), caf::infinite, caf::publish_atom_v,
                           uint16_t{4000}, caf::actor_cast<caf::strong_actor_ptr>(drv),
                           std::set<std::string>{}, std::string{}, true);
    sluice::detail::await_reply(self, "the publish");
    r.receive([&](uint16_t port) { log->push_back("published at " + std::to_string(port)); },
              [&](caf::error& e) { BOOST_FAIL("publish failed: " << caf::to_string(e)); });
  }

  void join(node& w, const std::string& name) {
    caf::scoped_actor self{*w.sys};
    auto r = self->request(w.sys->middleman().actor_handle(), caf::infinite, caf::connect_atom_v,
                           std::string{"driver"}, uint16_t{4000});
    sluice::detail::await_reply(self, "the connect");
    caf::actor remote;
    r.receive(
      [&](caf::node_id&, caf::strong_actor_ptr& p, std::set<std::string>&) {
        remote = caf::actor_cast<caf::actor>(p);
      },
      [&](caf::error& e) { BOOST_FAIL(name << " could not connect: " << caf::to_string(e)); });
    log->push_back(name + " connected to " + (remote.node() != w.sys->node() ? "a proxy" : "?"));
    workers.push_back(w.sys->spawn(worker, remote, name, log));
  }

  void kick(int32_t round) { caf::anon_send(drv, kick_atom::value, round); }
};

// A run of the whole story (setup, a round, a cut, a round, the timeout,
// the thaw) as one log, with the step counts of each run.
std::vector<std::string> story() {
  three_nodes t;
  t.kick(1);
  auto steps = t.net.run();
  t.log->push_back("round 1: " + std::to_string(steps) + " steps");
  t.net.cut(*t.w1.sys);
  steps = t.net.run();
  t.log->push_back("cut: " + std::to_string(steps) + " steps");
  t.kick(2);
  steps = t.net.run();
  t.log->push_back("round 2: " + std::to_string(steps) + " steps");
  auto fired = t.net.advance(*t.d.sys, 2s);
  steps = t.net.run();
  t.log->push_back("2 s later: " + std::to_string(fired) + " fired, " + std::to_string(steps)
                   + " steps");
  t.net.thaw(*t.w1.sys);
  steps = t.net.run();
  t.log->push_back("thawed: " + std::to_string(steps) + " steps");
  return *t.log;
}

} // namespace

BOOST_AUTO_TEST_CASE(workers_join_over_basp_and_answer_the_drivers_requests) {
  three_nodes t;
  BOOST_TEST(*t.log
               == (std::vector<std::string>{"published at 4000", "w1 connected to a proxy",
                                            "driver: hello from w1 (a proxy)",
                                            "w2 connected to a proxy",
                                            "driver: hello from w2 (a proxy)"}),
             boost::test_tools::per_element());
  t.log->clear();
  t.kick(1);
  BOOST_TEST(t.net.run() > 0u);
  BOOST_TEST(*t.log
               == (std::vector<std::string>{"w1: work 1", "w2: work 1", "driver: w1 answered 10",
                                            "driver: w2 answered 10"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.net.run() == 0u);
  // CAF 0.17.6 never cancels an answered request's timeout: both stay on
  // the driver's test clock and fire into nothing.
  t.log->clear();
  BOOST_TEST(t.net.advance(*t.d.sys, 2s) == 2u);
  t.net.run();
  BOOST_TEST(t.log->empty());
}

BOOST_AUTO_TEST_CASE(a_cut_brings_down_msgs_on_both_sides_and_the_lost_request_ends_by_timeout) {
  three_nodes t;
  t.log->clear();
  t.net.cut(*t.w1.sys);
  BOOST_TEST(t.net.frozen(*t.w1.sys));
  t.net.run();
  BOOST_TEST(*t.log == std::vector<std::string>{"driver: w1 down, remote_link_unreachable"},
             boost::test_tools::per_element());
  t.log->clear();
  // A message to a killed proxy is dropped, not bounced: w1's request stays
  // open until the driver's clock moves, while w2 keeps answering.
  t.kick(2);
  t.net.run();
  BOOST_TEST(*t.log == (std::vector<std::string>{"w2: work 2", "driver: w2 answered 20"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.d.sched->has_pending_timeout());
  t.log->clear();
  BOOST_TEST(t.net.advance(*t.d.sys, 1999ms) == 0u);
  t.net.run();
  BOOST_TEST(t.log->empty());
  BOOST_TEST(t.net.advance(*t.d.sys, 1ms) == 2u);  // w2's answered request's too
  t.net.run();
  BOOST_TEST(*t.log == std::vector<std::string>{"driver: w1 failed, request_timeout"},
             boost::test_tools::per_element());
  // The lost node learns of it only when it runs again.
  t.log->clear();
  t.net.thaw(*t.w1.sys);
  t.net.run();
  BOOST_TEST(*t.log == std::vector<std::string>{"w1: driver down, remote_link_unreachable"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_armed_cut_strikes_after_exactly_its_steps_inside_a_round) {
  // A round with nothing cut, for its step count; then the round once for
  // every k with a cut of w1 armed to strike after k steps: early, w1 never
  // gets the work; then it works but its answer is lost; from some k on the
  // answer arrives first. Past the round's steps the cut is still armed.
  size_t round = 0;
  {
    three_nodes t;
    t.kick(1);
    round = t.net.run();
  }
  BOOST_TEST(round > 4u);
  auto count = [](const std::vector<std::string>& log, const std::string& line) {
    return std::count(log.begin(), log.end(), line);
  };
  std::vector<int> outcome;  // 0: w1 never worked, 1: worked, answer lost, 2: answered
  for (size_t k = 1; k <= round + 1; ++k) {
    three_nodes t;
    t.log->clear();
    auto before = t.net.steps();
    t.net.cut_after(*t.w1.sys, k);
    BOOST_TEST(t.net.cut_armed());
    t.kick(1);
    t.net.run();
    BOOST_TEST(count(*t.log, "driver: w2 answered 10") == 1, "k=" << k);
    bool worked = count(*t.log, "w1: work 1") == 1;
    bool answered = count(*t.log, "driver: w1 answered 10") == 1;
    outcome.push_back(answered ? 2 : worked ? 1 : 0);
    if (k <= round) {
      BOOST_TEST(!t.net.cut_armed(), "k=" << k);
      BOOST_TEST(t.net.frozen(*t.w1.sys), "k=" << k);
      BOOST_TEST(count(*t.log, "driver: w1 down, remote_link_unreachable") == 1, "k=" << k);
    } else {
      BOOST_TEST(t.net.cut_armed());
      BOOST_TEST(t.net.steps() - before == round);
      t.net.cut_now();  // strikes at once
      BOOST_TEST(!t.net.cut_armed());
      BOOST_TEST(t.net.frozen(*t.w1.sys));
    }
  }
  BOOST_TEST(std::is_sorted(outcome.begin(), outcome.end()));
  BOOST_TEST(outcome.front() == 0);
  BOOST_TEST(std::count(outcome.begin(), outcome.end(), 1) >= 1);
  BOOST_TEST(outcome.back() == 2);
  three_nodes t;
  BOOST_CHECK_EXCEPTION(t.net.cut_after(*t.w1.sys, 0), sluice::invalid_argument,
                        [](const auto& e) {
                          return std::string{e.what()}
                                 == "sim_network::cut_after: expected at least 1 step, got 0";
                        });
  t.net.cut_after(*t.w1.sys, 3);
  BOOST_CHECK_EXCEPTION(t.net.cut_after(*t.w2.sys, 1), sluice::invalid_argument,
                        [](const auto& e) {
                          return std::string{e.what()}
                                 == "sim_network::cut_after: a cut is armed already";
                        });
  t.net.cut_now();
  t.net.cut_now();  // nothing armed: nothing happens
  BOOST_TEST(t.net.frozen(*t.w1.sys));
  BOOST_TEST(!t.net.frozen(*t.w2.sys));
}

BOOST_AUTO_TEST_CASE(a_stall_keeps_the_links_open_and_a_thaw_delivers_what_waited) {
  three_nodes t;
  t.log->clear();
  t.net.stall(*t.w1.sys);
  BOOST_TEST(t.net.frozen(*t.w1.sys));
  BOOST_CHECK_THROW(t.net.stall(*t.w1.sys), sluice::invalid_argument);
  // No down message anywhere: the stalled node only stops answering, and
  // its request ends by the driver's timeout as a lost node's does.
  t.kick(3);
  t.net.run();
  BOOST_TEST(*t.log == (std::vector<std::string>{"w2: work 3", "driver: w2 answered 30"}),
             boost::test_tools::per_element());
  t.log->clear();
  BOOST_TEST(t.net.advance(*t.d.sys, 2s) == 2u);
  t.net.run();
  BOOST_TEST(*t.log == std::vector<std::string>{"driver: w1 failed, request_timeout"},
             boost::test_tools::per_element());
  // Woken, it works on what waited; its late answer reaches the driver,
  // whose request ended already.
  t.log->clear();
  t.net.thaw(*t.w1.sys);
  BOOST_TEST(!t.net.frozen(*t.w1.sys));
  t.net.run();
  BOOST_TEST(*t.log == std::vector<std::string>{"w1: work 3"}, boost::test_tools::per_element());
  t.log->clear();
  t.kick(4);
  t.net.run();
  BOOST_TEST(*t.log
               == (std::vector<std::string>{"w1: work 4", "w2: work 4", "driver: w1 answered 40",
                                            "driver: w2 answered 40"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(two_runs_give_identical_logs_on_the_calling_thread_alone) {
  auto threads = thread_count();
  auto first = story();
  BOOST_TEST(thread_count() == threads);
  auto second = story();
  BOOST_TEST(thread_count() == threads);
  BOOST_TEST(first == second, boost::test_tools::per_element());
  // The story's events, in order (the step counts are whatever they are,
  // as long as both runs agree).
  std::vector<std::string> events;
  for (auto& line : first)
    if (line.find("steps") == std::string::npos)
      events.push_back(line);
  BOOST_TEST(events
               == (std::vector<std::string>{
                 "published at 4000", "w1 connected to a proxy", "driver: hello from w1 (a proxy)",
                 "w2 connected to a proxy", "driver: hello from w2 (a proxy)",
                 "w1: work 1", "w2: work 1", "driver: w1 answered 10", "driver: w2 answered 10",
                 "driver: w1 down, remote_link_unreachable", "w2: work 2",
                 "driver: w2 answered 20", "driver: w1 failed, request_timeout",
                 "w1: driver down, remote_link_unreachable"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(run_until_idle_runs_the_network_of_its_system_and_only_it_otherwise) {
  three_nodes t;
  BOOST_TEST(sim_network::of(*t.w2.sys) == &t.net);
  // A kick from w2's system to the driver's actor (a proxy there) reaches
  // both workers and their answers the driver only if running w2's system
  // runs the whole network. (The fixture's publish and connects already
  // needed that of reply_ready.)
  t.log->clear();
  {
    caf::scoped_actor self{*t.w2.sys};
    caf::actor proxy;
    auto c = self->request(t.w2.sys->middleman().actor_handle(), caf::infinite,
                           caf::connect_atom_v, std::string{"driver"}, uint16_t{4000});
    sluice::detail::await_reply(self, "the cached connect");
    c.receive([&](caf::node_id&, caf::strong_actor_ptr& p,
                  std::set<std::string>&) { proxy = caf::actor_cast<caf::actor>(p); },
              [&](caf::error& e) { BOOST_FAIL(caf::to_string(e)); });
    BOOST_TEST((proxy.node() != t.w2.sys->node()));
    self->send(proxy, kick_atom::value, int32_t{3});
    BOOST_TEST(sluice::detail::run_until_idle(*t.w2.sys) > 0u);
  }
  BOOST_TEST(*t.log
               == (std::vector<std::string>{"w1: work 3", "w2: work 3", "driver: w1 answered 30",
                                            "driver: w2 answered 30"}),
             boost::test_tools::per_element());
  // Outside any network a system runs alone, as before.
  node lone;
  BOOST_TEST(sim_network::of(*lone.sys) == nullptr);
  auto count = std::make_shared<int>(0);
  auto a = lone.sys->spawn([count](caf::event_based_actor*) -> caf::behavior {
    return {[count](work_atom, int32_t) { ++*count; }};
  });
  lone.sched->run();
  caf::anon_send(a, work_atom::value, int32_t{1});
  BOOST_TEST(sluice::detail::run_until_idle(*lone.sys) == 1u);
  BOOST_TEST(*count == 1);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  lone.sched->run();
}

BOOST_AUTO_TEST_CASE(membership_is_checked_and_ends_with_remove_or_the_network) {
  node a, b;
  caf::actor_system_config plain_cfg;
  plain_cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system plain{plain_cfg};
  {
    sim_network net;
    BOOST_CHECK_EXCEPTION(net.add(plain), sluice::invalid_argument, [](const auto& e) {
      return std::string{e.what()}.find("has no middleman") != std::string::npos;
    });
    net.add(*a.sys);
    BOOST_CHECK_EXCEPTION(net.add(*a.sys), sluice::invalid_argument, [](const auto& e) {
      return std::string{e.what()}.find("already in a network") != std::string::npos;
    });
    BOOST_CHECK_EXCEPTION(net.cut(*b.sys), sluice::invalid_argument, [](const auto& e) {
      return std::string{e.what()}.find("sim_network::cut") != std::string::npos
             && std::string{e.what()}.find("is not in this network") != std::string::npos;
    });
    net.add(*b.sys);
    net.connect(*a.sys, *b.sys, "a", 1);
    BOOST_CHECK_EXCEPTION(net.connect(*a.sys, *b.sys, "a", 1), sluice::invalid_argument,
                          [](const auto& e) {
                            return std::string{e.what()}.find("unused connection to a:1")
                                   != std::string::npos;
                          });
    net.remove(*b.sys);
    BOOST_TEST(sim_network::of(*b.sys) == nullptr);
    BOOST_TEST(sim_network::of(*a.sys) == &net);
  }
  BOOST_TEST(sim_network::of(*a.sys) == nullptr);
}
