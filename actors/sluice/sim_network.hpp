// A simulated network: several actor systems in one process, each on CAF's
// test coordinator and test multiplexer, exchanging real BASP messages while
// one thread drives all of them (notes/sim-worker-loss.md, stage 1). It is
// the network seam of DESIGN.md's "Determinism seams": connections are
// prepared instead of opened, a node is lost by failing its connections, and
// time moves only when the caller moves one system's test clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace sluice::detail {

/// A set of actor systems that reach each other only through prepared
/// connections, run by the thread that calls run().
///
/// Every system added must have been built with scheduler.policy=testing,
/// middleman.network-backend=testing and middleman.workers=0 (configure
/// sets them), and all calls, like every touch of those
/// systems' actors, come from one thread. Node ids differ per system but are
/// not stable across runs: nothing derived from them belongs in a trace.
///
/// Lifetime: a system must be removed (remove) or the network destroyed
/// before that system is destroyed. ~actor_system runs its own system only,
/// so its actors must have ended before (run() with them exited).
class sim_network {
public:
  sim_network();
  sim_network(const sim_network&) = delete;
  sim_network& operator=(const sim_network&) = delete;

  /// Removes every system from the network (it does not destroy them).
  ~sim_network();

  /// Sets the three options a system of a sim network needs on `cfg`
  /// (which must have loaded caf::io::middleman).
  static void configure(caf::actor_system_config& cfg);

  /// Adds `sys`. Throws invalid_argument if `sys` does not run on the test
  /// coordinator and the test multiplexer, or is already in a network.
  void add(caf::actor_system& sys);

  /// Removes `sys` and forgets its connections: run() no longer runs it and
  /// run_until_idle(sys) runs it alone again. Throws invalid_argument if
  /// `sys` is not in this network.
  void remove(caf::actor_system& sys);

  /// Prepares one connection: `client`'s next connect to (`host`, `port`)
  /// (connect_atom to its middleman actor) reaches `server`'s doorman on
  /// `port`, i.e. an actor `server` publishes on that port. Call it once
  /// per connect. The first call for a port must come before the publish
  /// on it (the test multiplexer opens no port nobody will connect to);
  /// later ones may come after (e.g. a replacement worker). Throws
  /// invalid_argument if a system is not in this network, both are the
  /// same, or `client` still holds an unused connection to (`host`, `port`).
  void connect(caf::actor_system& server, caf::actor_system& client, const std::string& host,
               uint16_t port);

  /// Runs every system that is not frozen, one job or I/O event at a time
  /// and round-robin in the order added, until none has anything left to
  /// do; returns how many steps ran. Fires no timeout: timers move only by
  /// advance.
  size_t run();

  /// Moves `sys`'s test clock by `d` and fires its timeouts due by then, in
  /// order (their messages are only enqueued: run() delivers them); returns
  /// how many fired. Throws invalid_argument if `sys` is not in this network.
  size_t advance(caf::actor_system& sys, caf::timespan d);

  /// Loses `sys` as a SIGKILL would: fails both ends of each of its
  /// connections (the path a socket error takes, so BASP on every peer
  /// kills `sys`'s proxies with exit_reason::remote_link_unreachable) and
  /// freezes `sys`. Bytes not yet read on either side are lost. Throws
  /// invalid_argument if `sys` is not in this network.
  void cut(caf::actor_system& sys);

  /// Arms a cut of `sys` (as cut) that strikes once run() has run `steps`
  /// more steps (>= 1) of any system: in the middle of what runs next,
  /// e.g. a batch. One cut is armed at a time. Throws invalid_argument if
  /// `sys` is not in this network, `steps` is 0 or a cut is armed already.
  void cut_after(caf::actor_system& sys, size_t steps);

  /// Whether a cut is armed and has not struck yet.
  bool cut_armed() const noexcept {
    return cut_sys_ != nullptr;
  }

  /// Withdraws the armed cut and strikes it now. No-op if none is armed.
  void cut_now();

  /// Steps run() has run, all systems, since the network was made.
  size_t steps() const noexcept {
    return steps_;
  }

  /// Stalls `sys` as a SIGSTOP would: freezes it and leaves its connections
  /// open. What its peers send it waits, unread and in order, until thaw
  /// (SIGCONT's analogue); they see no error, only no answer. Throws
  /// invalid_argument if `sys` is not in this network or is frozen already.
  void stall(caf::actor_system& sys);

  /// Lets a frozen system run again. After cut, e.g. to exit its actors
  /// before it is destroyed: its connections stay failed, nothing it sends
  /// reaches another system. After stall, as a SIGCONT: it reads what
  /// waited for it and its answers reach its peers. Throws invalid_argument
  /// if `sys` is not in this network.
  void thaw(caf::actor_system& sys);

  /// Whether `sys` is frozen (cut or stalled, and not thawed).
  bool frozen(caf::actor_system& sys) const;

  /// The network `sys` belongs to, or nullptr.
  static sim_network* of(caf::actor_system& sys);

private:
  struct node;
  struct link;
  struct acceptor;

  node& find(caf::actor_system& sys, const char* what);
  const node* lookup(caf::actor_system& sys) const;

  std::vector<node> nodes_;
  std::vector<link> links_;
  std::vector<acceptor> acceptors_;
  int64_t next_handle_ = 1;  // one counter for every handle: no clash on any multiplexer
  size_t steps_ = 0;
  caf::actor_system* cut_sys_ = nullptr;  // the armed cut's system, or none
  size_t cut_at_ = 0;                     // ... strikes when steps_ reaches this
};

} // namespace sluice::detail
