#include "sluice/sim_network.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "sluice/error.hpp"

namespace sluice::detail {

namespace {

using caf::io::accept_handle;
using caf::io::connection_handle;
using caf::io::network::test_multiplexer;
using caf::scheduler::test_coordinator;

// Which network each system belongs to, for run_until_idle(sys). Tests in
// real mode run on many threads, so it is guarded; the count keeps the
// common case (no network at all) free of the lock.
std::mutex registry_mx;
std::unordered_map<const caf::actor_system*, sim_network*> registry;
std::atomic<size_t> registered{0};

void enrol(caf::actor_system& sys, sim_network* net) {
  std::lock_guard<std::mutex> guard{registry_mx};
  if (!registry.emplace(&sys, net).second)
    throw invalid_argument("sim_network: the actor system (node "
                           + caf::to_string(sys.node()) + ") is already in a network");
  ++registered;
}

void unenrol(const caf::actor_system* sys) {
  std::lock_guard<std::mutex> guard{registry_mx};
  if (registry.erase(sys) > 0)
    --registered;
}

} // namespace

// -- member types -------------------------------------------------------------

struct sim_network::node {
  caf::actor_system* sys;
  test_coordinator* sched;
  test_multiplexer* mpx;
  bool frozen = false;
};

// One prepared connection, by its handle on each end.
struct sim_network::link {
  caf::actor_system* server;
  int64_t server_hdl;
  caf::actor_system* client;
  int64_t client_hdl;
};

// The accept handle of a server's port: every connection to the port is
// prepared on the same handle, so one doorman (one publish) accepts them all.
struct sim_network::acceptor {
  caf::actor_system* server;
  uint16_t port;
  int64_t hdl;
};

// -- construction -------------------------------------------------------------

sim_network::sim_network() = default;

sim_network::~sim_network() {
  for (auto& n : nodes_)
    unenrol(n.sys);
}

void sim_network::configure(caf::actor_system_config& cfg) {
  // As CAF's own fixture (caf/test/dsl.hpp): with zero workers BASP
  // deserializes inline, on the thread that runs the network.
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("middleman.network-backend", caf::atom("testing"));
  cfg.set("middleman.workers", size_t{0});
}

// -- membership ---------------------------------------------------------------

void sim_network::add(caf::actor_system& sys) {
  auto* sched = dynamic_cast<test_coordinator*>(&sys.scheduler());
  if (sched == nullptr)
    throw invalid_argument("sim_network::add: the actor system does not run on CAF's test "
                           "coordinator; expected scheduler.policy=testing");
  if (!sys.has_middleman())
    throw invalid_argument("sim_network::add: the actor system has no middleman; expected "
                           "the config to load caf::io::middleman");
  auto* mpx = dynamic_cast<test_multiplexer*>(&sys.middleman().backend());
  if (mpx == nullptr)
    throw invalid_argument("sim_network::add: the actor system's middleman does not use CAF's "
                           "test multiplexer; expected middleman.network-backend=testing");
  if (auto workers = caf::get_or(sys.config(), "middleman.workers", size_t{1}); workers != 0)
    throw invalid_argument("sim_network::add: middleman.workers is " + std::to_string(workers)
                           + "; expected 0 (BASP workers are threads)");
  enrol(sys, this);
  nodes_.push_back(node{&sys, sched, mpx});
}

void sim_network::remove(caf::actor_system& sys) {
  find(sys, "remove");
  if (cut_sys_ == &sys)
    cut_sys_ = nullptr;
  auto involves = [&](const link& l) { return l.server == &sys || l.client == &sys; };
  links_.erase(std::remove_if(links_.begin(), links_.end(), involves), links_.end());
  acceptors_.erase(std::remove_if(acceptors_.begin(), acceptors_.end(),
                                  [&](const acceptor& a) { return a.server == &sys; }),
                   acceptors_.end());
  nodes_.erase(std::find_if(nodes_.begin(), nodes_.end(),
                            [&](const node& n) { return n.sys == &sys; }));
  unenrol(&sys);
}

sim_network* sim_network::of(caf::actor_system& sys) {
  if (registered.load(std::memory_order_relaxed) == 0)
    return nullptr;
  std::lock_guard<std::mutex> guard{registry_mx};
  auto i = registry.find(&sys);
  return i == registry.end() ? nullptr : i->second;
}

const sim_network::node* sim_network::lookup(caf::actor_system& sys) const {
  for (auto& n : nodes_)
    if (n.sys == &sys)
      return &n;
  return nullptr;
}

sim_network::node& sim_network::find(caf::actor_system& sys, const char* what) {
  if (auto* n = lookup(sys))
    return const_cast<node&>(*n);
  throw invalid_argument(std::string{"sim_network::"} + what + ": the actor system (node "
                         + caf::to_string(sys.node()) + ") is not in this network");
}

// -- connections --------------------------------------------------------------

void sim_network::connect(caf::actor_system& server, caf::actor_system& client,
                          const std::string& host, uint16_t port) {
  auto& s = find(server, "connect");
  auto& c = find(client, "connect");
  if (&s == &c)
    throw invalid_argument("sim_network::connect: server and client are the same actor system; "
                           "expected two systems of the network");
  // The test multiplexer keeps one pending connection per (host, port):
  // a second would be dropped without a word.
  if (c.mpx->has_pending_scribe(host, port))
    throw invalid_argument("sim_network::connect: the client already holds an unused "
                           "connection to " + host + ":" + std::to_string(port)
                           + "; expected it to connect before the next is prepared");
  auto a = std::find_if(acceptors_.begin(), acceptors_.end(), [&](const acceptor& x) {
    return x.server == &server && x.port == port;
  });
  if (a == acceptors_.end())
    a = acceptors_.insert(acceptors_.end(), acceptor{&server, port, next_handle_++});
  auto server_hdl = next_handle_++;
  auto client_hdl = next_handle_++;
  s.mpx->prepare_connection(accept_handle::from_int(a->hdl),
                            connection_handle::from_int(server_hdl), *c.mpx, host, port,
                            connection_handle::from_int(client_hdl));
  links_.push_back(link{&server, server_hdl, &client, client_hdl});
}

void sim_network::cut(caf::actor_system& sys) {
  auto& n = find(sys, "cut");
  n.frozen = true;
  auto fail = [](test_multiplexer& mpx, int64_t id) {
    auto hdl = connection_handle::from_int(id);
    // A connection not yet accepted is withdrawn; one whose scribe is
    // already detached ignores a second failure (manager::detach).
    auto& pending = mpx.pending_connects();
    for (auto i = pending.begin(); i != pending.end();)
      i = i->second == hdl ? pending.erase(i) : std::next(i);
    if (auto& scribe = mpx.impl_ptr(hdl))
      scribe->io_failure(&mpx, caf::io::network::operation::read);
  };
  for (auto& l : links_) {
    if (l.server != &sys && l.client != &sys)
      continue;
    auto& server = find(*l.server, "cut");
    auto& client = find(*l.client, "cut");
    // The peer's end first: what the cut node's broker does next never runs.
    if (l.server == &sys) {
      fail(*client.mpx, l.client_hdl);
      fail(*server.mpx, l.server_hdl);
    } else {
      fail(*server.mpx, l.server_hdl);
      fail(*client.mpx, l.client_hdl);
    }
  }
}

void sim_network::cut_after(caf::actor_system& sys, size_t steps) {
  find(sys, "cut_after");
  if (steps == 0)
    throw invalid_argument("sim_network::cut_after: expected at least 1 step, got 0");
  if (cut_sys_ != nullptr)
    throw invalid_argument("sim_network::cut_after: a cut is armed already");
  cut_sys_ = &sys;
  cut_at_ = steps_ + steps;
}

void sim_network::cut_now() {
  if (cut_sys_ == nullptr)
    return;
  auto* sys = cut_sys_;
  cut_sys_ = nullptr;
  cut(*sys);
}

void sim_network::stall(caf::actor_system& sys) {
  auto& n = find(sys, "stall");
  if (n.frozen)
    throw invalid_argument("sim_network::stall: the actor system (node "
                           + caf::to_string(sys.node()) + ") is frozen already");
  // Nothing else: run() skips a frozen node, so bytes written to its end of
  // a link stay in the link's buffer until it runs again.
  n.frozen = true;
}

void sim_network::thaw(caf::actor_system& sys) { find(sys, "thaw").frozen = false; }

bool sim_network::frozen(caf::actor_system& sys) const {
  auto* n = lookup(sys);
  return n != nullptr && n->frozen;
}

// -- running ------------------------------------------------------------------

size_t sim_network::run() {
  // The loop of CAF's io_dsl (exec_all_fixtures) without its
  // trigger_timeouts: BASP brokers are io actors, queued on their
  // multiplexer rather than on the coordinator, so both are run.
  auto step = [](node& n) {
    return n.sched->try_run_once() || n.mpx->try_exec_runnable() || n.mpx->read_data()
           || n.mpx->try_accept_connection();
  };
  size_t steps = 0;
  for (;;) {
    bool any = false;
    // By index: a handler may not add a system, but stay safe if one does.
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!nodes_[i].frozen && step(nodes_[i])) {
        any = true;
        ++steps;
        if (++steps_ >= cut_at_ && cut_sys_ != nullptr)
          cut_now();  // between two steps, as a SIGKILL between two instructions
      }
    if (!any)
      return steps;
  }
}

size_t sim_network::advance(caf::actor_system& sys, caf::timespan d) {
  return find(sys, "advance").sched->advance_time(d);
}

} // namespace sluice::detail
