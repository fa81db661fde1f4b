#include "sluice/deterministic.hpp"

#include <limits>
#include <string>

#include <caf/scheduler/test_coordinator.hpp>

#include "sluice/error.hpp"
#include "sluice/sim_network.hpp"

namespace sluice::detail {

namespace {

thread_local bool running = false;  // inside run_until_idle

caf::scheduler::test_coordinator* coordinator_of(caf::actor_system& sys) {
  return dynamic_cast<caf::scheduler::test_coordinator*>(&sys.scheduler());
}

/// What runs the coordinator's jobs here: an actor scheduled from a handler
/// goes to the back of the queue, as with the coordinator's own worker.
class inline_unit : public caf::execution_unit {
 public:
  explicit inline_unit(caf::scheduler::test_coordinator& c)
      : caf::execution_unit(&c.system()), c_(c) {
    // nop
  }

  void exec_later(caf::resumable* job) override { c_.jobs.push_back(job); }

 private:
  caf::scheduler::test_coordinator& c_;
};

/// The coordinator's run(), except that a job handles every message in its
/// mailbox in one resume instead of one message per resume. The order is
/// the same for messages of one priority (all of sluice's are normal): run()
/// puts a job that has more messages back at the front, so it runs again
/// next. Only a high-priority message an actor sends itself could come later
/// in its resume than in run()'s. What differs is CAF's cost per resume (its
/// round over the mailbox's queues, the logger's actor id), paid once.
size_t drain(caf::scheduler::test_coordinator& c) {
  inline_unit unit{c};
  size_t n = 0;
  while (!c.jobs.empty()) {
    auto* job = c.jobs.front();
    c.jobs.pop_front();
    switch (job->resume(&unit, std::numeric_limits<size_t>::max())) {
      case caf::resumable::resume_later:
        c.jobs.push_front(job);
        break;
      case caf::resumable::done:
      case caf::resumable::awaiting_message:
        intrusive_ptr_release(job);
        break;
      case caf::resumable::shutdown_execution_unit:
        break;
    }
    ++n;
  }
  return n;
}

} // namespace

bool is_deterministic(caf::actor_system& sys) { return coordinator_of(sys) != nullptr; }

size_t run_until_idle(caf::actor_system& sys) {
  auto* c = coordinator_of(sys);
  if (c == nullptr)
    return 0;
  // run() drains the job queue only; it fires no timeout (the request
  // timeouts of the stop path stay pending, as they should). A system of a
  // sim network runs with all of it: a reply may need another node.
  bool outer = !running;
  running = true;
  auto* net = sim_network::of(sys);
  auto n = net != nullptr ? net->run() : drain(*c);
  if (outer)
    running = false;
  return n;
}

size_t advance_timers(caf::actor_system& sys, caf::timespan d) {
  auto* c = coordinator_of(sys);
  if (c == nullptr)
    return 0;
  if (running)
    throw illegal_state("deterministic run: an actor's handler moves the timers, which only the "
                        "thread running every actor may do");
  // advance_time only enqueues what is due; a handler that ran may schedule
  // more at the same time (a zero delay), so go on until nothing is due.
  size_t delivered = c->advance_time(d);
  for (run_until_idle(sys);; run_until_idle(sys)) {
    auto more = c->advance_time(caf::timespan{0});
    if (more == 0)
      return delivered;
    delivered += more;
  }
}

bool in_deterministic_run() { return running; }

bool reply_ready(caf::scoped_actor& self) {
  if (!is_deterministic(self->home_system()))
    return true;
  if (running)
    throw illegal_state("deterministic run: an actor's handler waits for another actor's reply, "
                        "which cannot run before that handler returns");
  run_until_idle(self->home_system());
  return self->has_next_message();
}

void await_reply(caf::scoped_actor& self, const char* what) {
  if (!reply_ready(self))
    throw illegal_state(std::string{"deterministic run: no reply to "} + what
                        + " once every actor had run (a reply that needs another thread or "
                          "a timer never comes in this mode)");
}

void no_reply(const std::string& request) {
  throw illegal_state("deterministic run: no reply to the request " + request
                      + " once every actor had run (a reply that needs another thread or a timer "
                        "never comes in this mode)");
}

} // namespace sluice::detail
