// The job scheduler's output operations: each batch's outputs run in their
// order once their input is complete, on the scheduler's thread when they
// are known to be short, else on an output runner (output_runner.hpp).
#include "sluice/job_scheduler_steps.hpp"

#include <algorithm>

#include "sluice/narrow.hpp"
#include "sluice/output_runner.hpp"

namespace sluice::detail::scheduling {

namespace {

/// Batch t's output `op.id` ended: `r` says how.
void output_ended(self_ptr self, int64_t t, output_operation_info& op, const output_run& r) {
  auto& st = self->state;
  auto k = static_cast<size_t>(op.id);
  op.start_us = r.start_us;
  op.end_us = r.end_us;
  auto& slow = st.slow_runs[k];
  slow = r.end_us - r.start_us >= inline_output_limit_us ? std::min(slow + 1, 2) : 0;
  if (r.failed) {
    auto& node = *st.w->layout->gathers[static_cast<size_t>(st.w->layout->outputs[k])].node;
    op.failure_reason = failure_message(node, t, r.what);
  }
  publish(self, {listener_event::kind::output_completed, {}, op, {}, 0});
}

/// The call number `call` (batch t's output `op.id`) ended on runner `r`.
void output_ran(self_ptr self, size_t r, uint64_t call, int64_t t, output_operation_info op,
                const output_run& run, uint64_t cause) {
  auto& st = self->state;
  event_scope events{self};
  st.runner_call[r] = 0;
  output_ended(self, t, op, run);
  auto i = st.running.find(t);
  bool current = i != st.running.end() && i->second.output_call == call;
  if (current)
    i->second.output_call = 0;
  if (run.failed)
    fail_with_cause(self, *op.failure_reason, cause);
  else if (current) {
    ++i->second.next_output;
    run_outputs(self, t);
  }
  // The runner is idle: the batches that wait for one.
  while (!st.waiting_outputs.empty() && !st.stopped
         && std::find(st.runner_call.begin(), st.runner_call.end(), 0) != st.runner_call.end()) {
    auto w = st.waiting_outputs.front();
    st.waiting_outputs.pop_front();
    run_outputs(self, w);
  }
  answer_stops(self);
}

/// Runs batch t's next output, `job`: on this thread when it is known to be
/// short (or there are no runners), else on an idle runner, or later when
/// none is idle (t waits for one). True when it ran here.
bool run_output(self_ptr self, int64_t t, std::function<void()>& job) {
  auto& st = self->state;
  auto& b = st.running[t];
  auto k = b.next_output;
  if (st.slow_runs.size() <= k)
    st.slow_runs.resize(k + 1, 2);
  auto idle = std::find(st.runner_call.begin(), st.runner_call.end(), 0);
  bool here = st.runners.empty() || st.slow_runs[k] < 2;
  if (!here && idle == st.runner_call.end()) {
    if (std::find(st.waiting_outputs.begin(), st.waiting_outputs.end(), t)
        == st.waiting_outputs.end())
      st.waiting_outputs.push_back(t);
    return false;
  }
  auto& node = *st.w->layout->gathers[static_cast<size_t>(st.w->layout->outputs[k])].node;
  output_operation_info op;
  op.batch = batch_time{t};
  op.id = static_cast<int>(k);
  op.name = node.name();
  op.start_us = now_us();
  publish(self, {listener_event::kind::output_started, {}, op, {}, 0});
  if (here) {
    auto run = run_output_job(job);
    output_ended(self, t, op, run);
    if (run.failed) {
      // on_failure sees the cause as the current exception (its type
      // reaches await_termination).
      try {
        std::rethrow_exception(run.cause);
      } catch (...) {
        fail(self, *op.failure_reason);
      }
    }
    return true;
  }
  auto r = static_cast<size_t>(idle - st.runner_call.begin());
  uint64_t call = ++st.calls;
  b.output_call = call;
  st.runner_call[r] = call;
  auto handle = st.w->net->keep(std::any{std::move(job)});
  self->request(st.runners[r], caf::infinite, run_atom::value, handle)
    .then(
      [=](int64_t start, int64_t end, bool failed, std::string& what, uint64_t cause) {
        output_run run{start, end, failed, std::move(what), {}};
        output_ran(self, r, call, t, op, run, cause);
      },
      [=](caf::error& err) {
        output_run run{op.start_us, now_us(), true, self->system().render(err), {}};
        output_ran(self, r, call, t, op, run, 0);
      });
  return false;
}

} // namespace

/// Answers the stops that wait, once no output runs.
void answer_stops(self_ptr self) {
  auto& st = self->state;
  if (std::any_of(st.runner_call.begin(), st.runner_call.end(), [](uint64_t c) { return c; }))
    return;
  if (!st.stop_replies.empty())
    flush_events(self);
  for (auto& rp : st.stop_replies)
    rp.deliver(true);
  st.stop_replies.clear();
}

void run_outputs(self_ptr self, int64_t t) {
  auto& st = self->state;
  auto i = st.running.find(t);
  if (i == st.running.end() || st.unsaved.contains(t))
    return;
  auto& b = i->second;
  if (b.output_call != 0)
    return; // the running output goes on when it ends
  auto& layout = *st.w->layout;
  while (b.next_output < layout.outputs.size() && !st.failed && !st.stopped) {
    auto g = layout.outputs[b.next_output];
    auto& node = *layout.gathers[static_cast<size_t>(g)].node;
    if (node.parents()[0]->valid_at(batch_time{t}, st.w->info.zero) && !b.reported.count(g))
      return; // its input is not complete yet
    if (auto j = b.jobs.find(g); j != b.jobs.end() && j->second)
      if (!run_output(self, t, j->second) || st.failed)
        return; // goes on when its runner is done (or one is idle)
    ++b.next_output;
  }
  if (!st.failed && !st.stopped && b.done == b.expected && b.pending_sources == 0)
    complete(self, t);
}

} // namespace sluice::detail::scheduling
