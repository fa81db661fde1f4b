#define BOOST_TEST_MODULE actors/middleman_requests
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "sluice/deterministic.hpp"
#include "sluice/error.hpp"
#include "sluice/middleman_requests.hpp"
#include "sluice/sim_network.hpp"

// The cluster code's middleman calls and its request-then-receive helper
// (call) on two nodes of a sim network, driven by this thread alone: what
// real mode does with blocking calls answered by other threads, answered
// here once every node has run.

using namespace std::chrono_literals;
using sluice::detail::call;
using sluice::detail::sim_network;

namespace {

using work_atom = caf::atom_constant<caf::atom("work")>;
using mute_atom = caf::atom_constant<caf::atom("mute")>;

struct node {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  node() {
    cfg.load<caf::io::middleman>();
    sim_network::configure(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

// Answers work with ten times its number; takes mute and never answers.
caf::behavior server(caf::event_based_actor* self) {
  return {
    [](work_atom, int32_t x) { return x * 10; },
    // The promise marks the request answered, and is never delivered.
    [self](mute_atom) { self->make_response_promise(); },
  };
}

// Node a publishes `server` on port 5000; node b reaches it.
struct two_nodes {
  node a, b;
  sim_network net;
  caf::actor srv;
  two_nodes() {
    net.add(*a.sys);
    net.add(*b.sys);
    net.connect(*a.sys, *b.sys, "a", 5000);
    srv = a.sys->spawn(server);
  }
  ~two_nodes() {
    caf::anon_send_exit(srv, caf::exit_reason::user_shutdown);
    net.run();
  }
};

std::string text(caf::actor_system& sys, const caf::error& e) { return sys.render(e); }

} // namespace

BOOST_AUTO_TEST_CASE(publish_and_remote_actor_reach_an_actor_on_another_node) {
  two_nodes t;
  auto port = sluice::detail::publish(*t.a.sys, t.srv, 5000, "a");
  if (!port)
    BOOST_FAIL(text(*t.a.sys, port.error()));
  BOOST_TEST(*port == 5000);
  auto proxy = sluice::detail::remote_actor(*t.b.sys, "a", 5000);
  if (!proxy)
    BOOST_FAIL(text(*t.b.sys, proxy.error()));
  BOOST_TEST(((*proxy).node() != t.b.sys->node()));
  caf::scoped_actor self{*t.b.sys};
  int32_t answer = 0;
  call(self, *proxy, caf::infinite, work_atom::value, int32_t{4})
    .receive([&](int32_t x) { answer = x; },
             [&](caf::error& e) { BOOST_FAIL(text(*t.b.sys, e)); });
  BOOST_TEST(answer == 40);
  sluice::detail::unpublish(*t.a.sys, t.srv, 5000);
}

BOOST_AUTO_TEST_CASE(middleman_errors_are_cafs_own) {
  two_nodes t;
  auto invalid = sluice::detail::publish(*t.a.sys, caf::actor{}, 5000, "a");
  BOOST_REQUIRE(!invalid);
  BOOST_TEST(text(*t.a.sys, invalid.error()) == "system_error(cannot_publish_invalid_actor)");
  // Nothing prepared for port 5001: the test multiplexer cannot connect.
  auto none = sluice::detail::remote_actor(*t.b.sys, "a", 5001);
  BOOST_REQUIRE(!none);
  BOOST_TEST(text(*t.b.sys, none.error()) == "system_error(cannot_connect_to_node)");
}

BOOST_AUTO_TEST_CASE(a_reply_that_cannot_come_is_a_timeout_or_with_no_timeout_an_error) {
  two_nodes t;
  caf::scoped_actor self{*t.a.sys};
  std::string got;
  call(self, t.srv, 1s, mute_atom::value)
    .receive([&](int32_t) { got = "a reply"; },
             [&](caf::error& e) { got = e == caf::sec::request_timeout ? "timeout" : "?"; });
  BOOST_TEST(got == "timeout");
  BOOST_CHECK_EXCEPTION(call(self, t.srv, caf::infinite, mute_atom::value), sluice::illegal_state,
                        [](const sluice::illegal_state& e) {
                          return std::string{e.what()}
                                 == "deterministic run: no reply to the request ('mute') once "
                                    "every actor had run (a reply that needs another thread or a "
                                    "timer never comes in this mode)";
                        });
}
