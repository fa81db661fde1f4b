#include "sluice/job_scheduler.hpp"

#include "sluice/checkpoint_writer.hpp"
#include "sluice/detail/user_failure.hpp"

namespace sluice::detail {

namespace {

thread_local bool in_job = false;

using self_ptr = caf::stateful_actor<scheduler_state>*;

void publish(self_ptr self, listener_event e) {
  self->send(self->state.cfg.listener_bus, std::move(e));
}

void fail(self_ptr self, const std::string& what) {
  auto& st = self->state;
  if (st.failed)
    return;
  st.failed = true;
  st.stopped = true;
  st.queued.clear();
  if (st.cfg.on_failure)
    st.cfg.on_failure(what);
}

/// fail() with the exception kept under `cause` in the transport (if it is
/// still there) as the current exception: its type reaches await_termination.
void fail_with_cause(self_ptr self, const std::string& what, uint64_t cause) {
  std::exception_ptr e;
  if (cause != 0)
    if (auto x = self->state.w->net->take(cause))
      e = std::any_cast<std::exception_ptr>(std::move(*x));
  if (!e) {
    fail(self, what);
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (...) {
    fail(self, what);
  }
}

void check_drains(self_ptr self) {
  auto& st = self->state;
  for (auto i = st.drains.begin(); i != st.drains.end();) {
    bool pending = (!st.running.empty() && st.running.begin()->first <= i->first)
                   || (!st.queued.empty() && st.queued.front().first <= i->first);
    if (!pending && (st.last_completed >= i->first || st.stopped)) {
      i->second.deliver(true);
      i = st.drains.erase(i);
    } else {
      ++i;
    }
  }
}

void finish(self_ptr self, int64_t t);
/// Batch t is done (and its metadata checkpoint stored): forgets it, answers
/// drains, starts the next batches.
void retire(self_ptr self, int64_t t);

/// The reports that complete batch t: every gather whose parent has a batch
/// at t, and every slot of a stateful stage that only updates its state at t.
int expected_reports(const plan& p, batch_time t, batch_time zero) {
  int n = 0;
  for (auto& g : p.gathers)
    if (g.node->parents()[0]->valid_at(t, zero))
      ++n;
  for (auto& s : p.stages)
    if (s.in == stage_plan::input::shuffle && s.head->stateful()
        && s.head->parents()[0]->valid_at(t, zero) && !s.head->valid_at(t, zero))
      n += s.slots;
  return n;
}

void start(self_ptr self, int64_t t, int64_t submitted_us) {
  auto& st = self->state;
  auto& w = *st.w;
  auto& b = st.running[t];
  b.info.time = batch_time{t};
  b.info.submission_us = submitted_us;
  b.info.processing_start_us = now_us();
  publish(self, {listener_event::kind::batch_started, b.info, {}, {}, 0});
  b.expected = expected_reports(*w.layout, batch_time{t}, w.info.zero);
  auto& srcs = w.layout->sources;
  for (size_t i = 0; i < srcs.size(); ++i) {
    std::optional<parts> data;
    try {
      data = st.cfg.sources[i]->generate(batch_time{t});
    } catch (const std::exception& e) {
      fail(self, "source '" + srcs[i].first->name() + "' failed at " + to_string(batch_time{t})
                   + ": " + e.what());
      return;
    }
    int64_t n = 0;
    if (data)
      for (auto& p : *data)
        n += static_cast<int64_t>(srcs[i].first->records(p.data));
    b.info.num_records += n;
    b.source_records.push_back(n);
    try {
      scatter(w, srcs[i].second, t, std::move(data));
    } catch (const std::exception& e) {
      fail(self, "source '" + srcs[i].first->name() + "' at " + to_string(batch_time{t}) + ": "
                   + e.what());
      return;
    }
  }
  if (b.expected == 0)
    finish(self, t);
}

void try_start(self_ptr self) {
  auto& st = self->state;
  while (!st.stopped && !st.queued.empty()
         && static_cast<int>(st.running.size()) < st.cfg.concurrent_jobs) {
    auto [t, submitted] = st.queued.front();
    st.queued.pop_front();
    start(self, t, submitted);
  }
}

void finish(self_ptr self, int64_t t) {
  auto& st = self->state;
  auto i = st.running.find(t);
  auto& b = i->second;
  auto& outputs = st.w->layout->outputs;
  for (size_t k = 0; k < outputs.size() && !st.failed; ++k) {
    auto j = b.jobs.find(outputs[k]);
    if (j == b.jobs.end() || !j->second)
      continue;
    output_operation_info op;
    auto& node = *st.w->layout->gathers[static_cast<size_t>(outputs[k])].node;
    op.batch = batch_time{t};
    op.id = static_cast<int>(k);
    op.name = node.name();
    op.start_us = now_us();
    publish(self, {listener_event::kind::output_started, {}, op, {}, 0});
    std::exception_ptr cause;
    try {
      in_job = true;
      j->second();
      in_job = false;
    } catch (const std::exception& e) {
      in_job = false;
      op.failure_reason = failure_message(node, t, e.what());
      cause = std::current_exception();
    }
    op.end_us = now_us();
    publish(self, {listener_event::kind::output_completed, {}, op, {}, 0});
    if (op.failure_reason) {
      // on_failure sees the cause as the current exception (its type
      // reaches await_termination).
      try {
        std::rethrow_exception(cause);
      } catch (...) {
        fail(self, *op.failure_reason);
      }
    }
  }
  b.info.processing_end_us = now_us();
  if (!st.failed) {
    publish(self, {listener_event::kind::batch_completed, b.info, {}, {}, 0});
    st.last_completed = std::max(st.last_completed, t);
    for (size_t k = 0; k < b.source_records.size(); ++k)
      st.cfg.sources[k]->on_batch_completed(b.info, b.source_records[k]);
    if (st.cfg.metadata) {
      std::vector<int64_t> pending;
      for (auto& [rt, rb] : st.running)
        if (rt != t)
          pending.push_back(rt);
      for (auto& q : st.queued)
        pending.push_back(q.first);
      std::optional<metadata_checkpoint> m;
      try {
        m = st.cfg.metadata(b.info, pending);
      } catch (const std::exception& e) {
        fail(self, std::string("checkpoint after ") + to_string(batch_time{t}) + " failed: "
                     + e.what());
      }
      if (m) {
        // Stored before the next batch starts or a drain is answered, as
        // when the scheduler wrote it itself (await: messages wait, no
        // thread blocks).
        self->request(st.w->checkpoint_writer, caf::infinite, std::move(*m))
          .await([=](bool) { retire(self, t); },
                 [=](caf::error& err) {
                   auto f = failure_of(err);
                   fail_with_cause(self, "checkpoint after " + to_string(batch_time{t})
                                           + " failed: " + f.what, f.cause);
                   retire(self, t);
                 });
        return;
      }
    }
  }
  retire(self, t);
}

void retire(self_ptr self, int64_t t) {
  auto& st = self->state;
  st.running.erase(t);
  check_drains(self);
  try_start(self);
}

} // namespace

bool on_job_thread() { return in_job; }

caf::behavior job_scheduler(caf::stateful_actor<scheduler_state>* self, wiring_ptr w,
                            scheduler_config cfg) {
  self->state.w = std::move(w);
  self->state.cfg = std::move(cfg);
  return {
    [=](tick_atom, int64_t t) {
      auto& st = self->state;
      if (st.stopped)
        return;
      // The batch is generated now: sources bind their input to it (a batch
      // that waits keeps the input of its own interval, not more).
      for (auto* src : st.cfg.sources) {
        try {
          src->prepare(batch_time{t});
        } catch (const std::exception& e) {
          fail(self, "a source failed to prepare " + to_string(batch_time{t}) + ": " + e.what());
          return;
        }
      }
      batch_info info;
      info.time = batch_time{t};
      info.submission_us = now_us();
      publish(self, {listener_event::kind::batch_submitted, info, {}, {}, 0});
      st.queued.emplace_back(t, info.submission_us);
      try_start(self);
    },
    [=](gather_done& d) {
      auto& st = self->state;
      std::function<void()> job;
      if (d.job != 0) // taken even when dropped: the transport holds it until then
        if (auto x = st.w->net->take(d.job))
          job = std::any_cast<std::function<void()>>(std::move(*x));
      auto i = st.running.find(d.t);
      if (i == st.running.end() || st.failed || st.stopped)
        return;
      if (job)
        i->second.jobs[d.gather] = std::move(job);
      if (++i->second.done == i->second.expected)
        finish(self, d.t);
    },
    [=](const batch_failed& f) {
      fail_with_cause(self, f.what, f.cause);
      check_drains(self);
    },
    [=](drain_atom, int64_t until) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      self->state.drains.emplace_back(until, rp);
      check_drains(self);
      return rp;
    },
    [=](stop_atom) {
      auto& st = self->state;
      st.stopped = true;
      st.queued.clear();
      st.running.clear();
      check_drains(self);
      return true;
    },
  };
}

} // namespace sluice::detail
