#include "sluice/actor_probe.hpp"

#include <algorithm>
#include <memory>

#include "sluice/listener_bus.hpp"

namespace sluice::detail {

namespace {

/// The reports of one round of requests, delivered when the last one ended.
struct round {
  std::vector<std::vector<actor_report>> answers;  ///< per child, in order
  size_t remaining = 0;
  std::function<void(std::vector<std::vector<actor_report>>)> done;
};

/// Asks every child for its reports; calls `done` with all answers (empty
/// for a child that failed or timed out) once each request ended.
void ask_all(caf::event_based_actor* self, const std::vector<probe_target>& children,
             std::chrono::milliseconds timeout,
             std::function<void(std::vector<std::vector<actor_report>>)> done) {
  auto r = std::make_shared<round>();
  r->answers.resize(children.size());
  r->remaining = children.size();
  r->done = std::move(done);
  if (children.empty()) {
    r->done({});
    return;
  }
  auto finish = [r](size_t i, std::vector<actor_report> reports) {
    r->answers[i] = std::move(reports);
    if (--r->remaining == 0)
      r->done(std::move(r->answers));
  };
  for (size_t i = 0; i < children.size(); ++i)
    self->request(children[i].handle, timeout, introspect_atom::value)
      .then([=](std::vector<actor_report>& reports) { finish(i, std::move(reports)); },
            [=](caf::error&) { finish(i, {}); });
}

/// Names each child's own report (its first) by the id it was asked under.
void name_children(std::vector<actor_report>& out, const std::vector<probe_target>& children,
                   std::vector<std::vector<actor_report>>& answers, const std::string& parent) {
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].empty())
      continue;
    answers[i].front().id = children[i].id;
    answers[i].front().parent = children[i].parent.empty() ? parent : children[i].parent;
    for (auto& a : answers[i])
      out.push_back(std::move(a));
  }
}

} // namespace

// The mailbox length counts the messages CAF has moved from the actor's inbox
// into its queues (it does so at each round of the actor's run), not those
// that arrived since. mailbox().size() would move them first (fetch_more), but
// that path downcasts CAF 0.17.6's list head to mailbox_element
// (task_queue::back() on an empty queue), undefined behaviour that UBSan
// reports from our instrumented copy of the header (make test-asan failed on
// it in runtime/receiver, cmake/ubsan.supp's vptr_check entry notwithstanding).
// queue().total_task_size() only reads counters.
actor_report self_report(caf::scheduled_actor* self) {
  actor_report r;
  r.kind = self->name();
  r.mailbox = static_cast<int64_t>(self->mailbox().queue().total_task_size());
  return r;
}

caf::result<std::vector<actor_report>>
report_with_children(caf::event_based_actor* self, std::string id,
                     std::vector<probe_target> children, std::chrono::milliseconds timeout) {
  auto own = self_report(self);
  own.id = std::move(id);
  if (children.empty())
    return std::vector<actor_report>{std::move(own)};
  auto promise = self->make_response_promise<std::vector<actor_report>>();
  auto kids = std::make_shared<std::vector<probe_target>>(std::move(children));
  ask_all(self, *kids, timeout,
          [promise, kids, own](std::vector<std::vector<actor_report>> answers) mutable {
            std::vector<actor_report> out{own};
            name_children(out, *kids, answers, own.id);
            promise.deliver(std::move(out));
          });
  return promise;
}

caf::behavior actor_sampler(caf::event_based_actor* self, std::vector<probe_target> targets,
                            std::chrono::milliseconds interval,
                            std::function<void(std::vector<actor_report>, int64_t)> on_sample) {
  auto kids = std::make_shared<std::vector<probe_target>>(std::move(targets));
  auto sink = std::make_shared<decltype(on_sample)>(std::move(on_sample));
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      // Long enough for those that ask their children (child_probe_timeout).
      auto timeout = std::max(interval, 2 * child_probe_timeout);
      ask_all(self, *kids, timeout, [=](std::vector<std::vector<actor_report>> answers) {
        std::vector<actor_report> out;
        name_children(out, *kids, answers, "context");
        (*sink)(std::move(out), now_us());
        self->delayed_send(self, interval, tick_atom::value);
      });
    },
  };
}

} // namespace sluice::detail
