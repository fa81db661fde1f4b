#include "sluice/job_scheduler.hpp"

#include <algorithm>
#include <deque>

#include "sluice/actor_probe.hpp"

#include "sluice/checkpoint_writer.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/job_scheduler_steps.hpp"
#include "sluice/narrow.hpp"
#include "sluice/replace_atoms.hpp"

namespace sluice::detail::scheduling {

void publish(self_ptr self, listener_event e) {
  auto& st = self->state;
  if (st.event_scopes > 0)
    st.events.push_back(std::move(e));
  else
    self->send(st.cfg.listener_bus, std::move(e));
}

void flush_events(self_ptr self) {
  auto& st = self->state;
  if (st.events.size() == 1)
    self->send(st.cfg.listener_bus, std::move(st.events.front()));
  else if (!st.events.empty())
    self->send(st.cfg.listener_bus, std::move(st.events));
  st.events.clear();
}

void fail(self_ptr self, const std::string& what) {
  auto& st = self->state;
  if (st.failed)
    return;
  st.failed = true;
  st.stopped = true;
  st.queued.clear();
  flush_events(self);
  if (st.cfg.on_failure)
    st.cfg.on_failure(what);
}

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
                   || (!st.queued.empty() && st.queued.front().first <= i->first)
                   || (!st.storing.empty() && *st.storing.begin() <= i->first);
    if (!pending && (st.last_completed >= i->first || st.stopped)) {
      flush_events(self);
      i->second.deliver(true);
      i = st.drains.erase(i);
    } else {
      ++i;
    }
  }
}

namespace {

/// Batch t is done: forgets it, answers drains, starts the next batches.
void retire(self_ptr self, int64_t t) {
  auto& st = self->state;
  st.running.erase(t);
  check_drains(self);
  try_start(self);
}

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

bool is_receiver(const wiring& w, size_t source) {
  return source < w.trackers.size() && w.trackers[source];
}

/// Source `i`'s partitions of running batch t enter its stage. False when
/// that failed the context.
bool deliver(self_ptr self, int64_t t, size_t i, std::optional<parts> data) {
  auto& st = self->state;
  auto& w = *st.w;
  auto& b = st.running[t];
  auto& src = w.layout->sources[i];
  int64_t n = 0;
  if (data)
    for (auto& p : *data)
      n += static_cast<int64_t>(src.first->records(p.data));
  b.info.num_records += n;
  b.source_records[i] = n;
  auto id = static_cast<int>(src.first->id());
  b.info.stream_id_to_input_info[id] = {id, n};
  try {
    if (st.cfg.on_workers_changed) {
      auto& kept = st.retained[t];
      kept.resize(w.layout->sources.size());
      if (!kept[i].have) {
        kept[i].have = true;
        if (data)
          kept[i].data = w.net->encode_copy(*data);
      }
    }
    scatter(w, src.second, t, std::move(data));
  } catch (const std::exception& e) {
    fail(self, "source '" + src.first->name() + "' at " + to_string(batch_time{t}) + ": "
                 + e.what());
    return false;
  }
  return true;
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
  b.source_records.assign(srcs.size(), 0);
  auto ready = st.allocated.extract(t);
  auto kept = st.retained.find(t);  // a batch that runs again
  for (size_t i = 0; i < srcs.size(); ++i) {
    std::optional<parts> data;
    if (kept != st.retained.end() && i < kept->second.size() && kept->second[i].have) {
      if (kept->second[i].data) {
        auto copy = *kept->second[i].data;  // kept for another loss
        try {
          data = w.net->unpack(copy);
        } catch (const std::exception& e) {
          fail(self, "source '" + srcs[i].first->name() + "': the kept input of "
                       + to_string(batch_time{t}) + " could not be read: " + e.what());
          return;
        }
      }
    } else if (is_receiver(w, i)) {
      if (ready.empty() || !ready.mapped().contains(i)) {
        ++b.pending_sources; // delivered when the tracker's reply comes
        continue;
      }
      data = std::move(ready.mapped()[i]);
    } else {
      try {
        data = st.cfg.sources[i]->generate(batch_time{t});
      } catch (const std::exception& e) {
        fail(self, "source '" + srcs[i].first->name() + "' failed at "
                     + to_string(batch_time{t}) + ": " + e.what());
        return;
      }
    }
    if (!deliver(self, t, i, std::move(data)))
      return;
  }
  run_outputs(self, t);
}

/// Receiver stream `i`'s blocks for batch t came from its tracker.
void allocated(self_ptr self, int64_t t, size_t i, allocation_msg& a) {
  auto& st = self->state;
  if (st.stopped || st.failed)
    return;
  event_scope events{self};
  std::optional<parts> data;
  try {
    data = st.w->net->unpack(a.data);
  } catch (const std::exception& e) {
    fail(self, "receiver stream '" + st.w->layout->sources[i].first->name() + "': the blocks of "
                 + to_string(batch_time{t}) + " could not be received: " + e.what());
    return;
  }
  auto r = st.running.find(t);
  if (r == st.running.end()) {
    st.allocated[t][i] = std::move(data);
    return;
  }
  --r->second.pending_sources;
  if (deliver(self, t, i, std::move(data)))
    run_outputs(self, t);
}

/// The batches a metadata checkpoint lists as pending: the running ones
/// but `done` (a batch that just completed), and the queued ones, oldest
/// first.
std::vector<int64_t> pending_batches(const scheduler_state& st, std::optional<int64_t> done) {
  std::vector<int64_t> pending;
  for (auto& [rt, rb] : st.running)
    if (rt != done)
      pending.push_back(rt);
  for (auto& q : st.queued)
    pending.push_back(q.first);
  return pending;
}

/// Batch t was generated: its metadata checkpoint, with t pending and the
/// sources' positions that fix its input (Kafka offset ranges), is stored
/// before t's output operations run, as Spark's DoCheckpoint after
/// generateJobs. So a batch re-run after a crash reads exactly what it read
/// before, even when its output (a Kafka transaction) was committed before
/// the crash. Its stages need not wait: they change nothing outside, and
/// the writer stores this checkpoint before any state checkpoint of t (it
/// was sent first). False when that failed the context.
bool save_generated(self_ptr self, const batch_info& info) {
  auto& st = self->state;
  auto t = info.time.ms;
  auto pending = pending_batches(st, std::nullopt);
  pending.push_back(t);
  std::optional<metadata_checkpoint> m;
  try {
    m = st.cfg.metadata(info, pending);
  } catch (const std::exception& e) {
    fail(self, std::string("checkpoint at the generation of ") + to_string(info.time)
                 + " failed: " + e.what());
    return false;
  }
  if (!m)
    return true;
  st.unsaved.insert(t);
  self->request(st.w->checkpoint_writer, caf::infinite, std::move(*m))
    .then(
      [=](bool) {
        event_scope events{self};
        self->state.unsaved.erase(t);
        run_outputs(self, t);
      },
      [=](caf::error& err) {
        self->state.unsaved.erase(t);
        auto f = failure_of(err);
        fail_with_cause(self, "checkpoint at the generation of " + to_string(batch_time{t})
                                + " failed: " + f.what, f.cause);
        check_drains(self);
      });
  return true;
}

} // namespace

void try_start(self_ptr self) {
  auto& st = self->state;
  while (!st.stopped && !st.replacing && !st.queued.empty()
         && static_cast<int>(st.running.size()) < st.cfg.concurrent_jobs) {
    auto [t, submitted] = st.queued.front();
    st.queued.pop_front();
    start(self, t, submitted);
  }
}

void complete(self_ptr self, int64_t t) {
  auto& st = self->state;
  auto& b = st.running.find(t)->second;
  auto& w = *st.w;
  b.info.processing_end_us = now_us();
  publish(self, {listener_event::kind::batch_completed, b.info, {}, {}, 0});
  st.last_completed = std::max(st.last_completed, t);
  drop_kept_inputs(self, t);
  int64_t oldest_open = st.queued.empty() ? std::numeric_limits<int64_t>::max()
                                          : st.queued.front().first;
  for (auto& [r, rb] : st.running)
    if (r != t)
      oldest_open = std::min(oldest_open, r);
  if (!st.initial) // the wiring is complete by now
    st.initial.emplace(w);
  if (st.initial->completed(w, t, oldest_open))
    st.initial->release(self, w);
  for (size_t k = 0; k < b.source_records.size(); ++k) {
    if (!is_receiver(w, k)) {
      st.cfg.sources[k]->on_batch_completed(b.info, b.source_records[k]);
      continue;
    }
    // Rate control (Spark's ReceiverRateController), then this batch's
    // blocks are processed (the receiver's buffer bound counts them no
    // more) and those of batches before it are no longer needed.
    self->send(w.trackers[k], rate_atom::value, b.info.processing_end_us / 1000,
               b.source_records[k], b.info.processing_delay_us() / 1000,
               b.info.scheduling_delay_us() / 1000);
    self->send(w.trackers[k], cleanup_atom::value, t, t - w.info.batch.count());
  }
  if (st.cfg.metadata) {
    auto pending = pending_batches(st, t);
    // Taken at the newest generated batch (Spark takes t): this checkpoint
    // knows more than that batch's generation checkpoint, which may be
    // newer than t (it lists t as pending), and recovery takes the one of
    // the greatest batch time.
    auto at = b.info;
    at.time.ms = std::max(t, st.last_generated);
    std::optional<metadata_checkpoint> m;
    try {
      m = st.cfg.metadata(at, pending);
    } catch (const std::exception& e) {
      fail(self, std::string("checkpoint after ") + to_string(batch_time{t}) + " failed: "
                   + e.what());
    }
    if (m) {
      // Stored before a drain up to t is answered, but the next batches
      // do not wait for it (as Spark's CheckpointWriter, off the job path):
      // the writer stores metadata checkpoints in the order they are sent,
      // and a crash before this one is stored recovers from an earlier one,
      // whose batches run again. Waiting here (an await) held every
      // message of the scheduler for a sync of the disk a batch.
      st.storing.insert(t);
      self->request(st.w->checkpoint_writer, caf::infinite, std::move(*m))
        .then(
          [=](bool) {
            self->state.storing.erase(t);
            check_drains(self);
          },
          [=](caf::error& err) {
            self->state.storing.erase(t);
            auto f = failure_of(err);
            fail_with_cause(self, "checkpoint after " + to_string(batch_time{t})
                                    + " failed: " + f.what, f.cause);
            check_drains(self);
          });
    }
  }
  retire(self, t);
}

} // namespace sluice::detail::scheduling

namespace sluice::detail {

caf::behavior job_scheduler(caf::stateful_actor<scheduler_state>* self, wiring_ptr w,
                            scheduler_config cfg) {
  using namespace scheduling;
  self->state.w = std::move(w);
  self->state.cfg = std::move(cfg);
  auto& st = self->state;
  // Deterministic: no runners (how long an output took must not decide
  // the order of what runs).
  if (!is_deterministic(self->home_system()))
    for (int i = 0; i < std::max(1, st.cfg.concurrent_jobs); ++i) {
      st.runners.push_back(self->spawn<caf::detached>(output_runner, st.w->net));
      self->link_to(st.runners.back());
    }
  st.runner_call.assign(st.runners.size(), 0);
  return {
    [=](introspect_atom) {
      // Its output runners are its children (one busy with a long output
      // is left out).
      std::vector<probe_target> children;
      for (size_t r = 0; r < self->state.runners.size(); ++r)
        children.push_back({"output runner " + std::to_string(r), self->state.runners[r], {}});
      return report_with_children(self, "job_scheduler", std::move(children));
    },
    [=](tick_atom, int64_t t) {
      auto& st = self->state;
      // A time comes twice with the system clock (job_generator.hpp): the
      // first tick generates it.
      if (st.stopped || t <= st.last_generated)
        return;
      st.last_generated = t;
      event_scope events{self};
      // The batch is generated now: sources bind their input to it (a batch
      // that waits keeps the input of its own interval, not more). Trackers
      // answer when they can; nothing here waits for them.
      auto& srcs = st.w->layout->sources;
      for (size_t i = 0; i < st.cfg.sources.size(); ++i) {
        if (is_receiver(*st.w, i)) {
          self->request(st.w->trackers[i], caf::infinite, allocate_atom::value, t)
            .then([=](allocation_msg& a) { allocated(self, t, i, a); },
                  [=](caf::error& err) {
                    if (self->state.stopped)
                      return; // the tracker ended with the context
                    fail(self, "receiver stream '" + srcs[i].first->name() + "': no blocks for "
                                 + to_string(batch_time{t}) + ": " + self->system().render(err));
                    check_drains(self);
                  });
          continue;
        }
        try {
          st.cfg.sources[i]->prepare(batch_time{t});
        } catch (const std::exception& e) {
          fail(self, "a source failed to prepare " + to_string(batch_time{t}) + ": " + e.what());
          return;
        }
      }
      batch_info info;
      info.time = batch_time{t};
      info.submission_us = now_us();
      publish(self, {listener_event::kind::batch_submitted, info, {}, {}, 0});
      if (st.cfg.metadata && !save_generated(self, info))
        return;
      st.queued.emplace_back(t, info.submission_us);
      try_start(self);
    },
    [=](gather_done& d) {
      auto& st = self->state;
      event_scope events{self};
      std::function<void()> job;
      if (d.job != 0) // taken even when dropped: the transport holds it until then
        if (auto x = st.w->net->take(d.job))
          job = std::any_cast<std::function<void()>>(std::move(*x));
      if (retired_sender(self))
        return;
      auto i = st.running.find(d.t);
      if (i == st.running.end() || st.failed || st.stopped)
        return;
      if (job)
        i->second.jobs[d.gather] = std::move(job);
      i->second.reported.insert(d.gather);
      ++i->second.done;
      run_outputs(self, d.t);
    },
    [=](const batch_failed& f) {
      if (retired_sender(self))
        return;
      fail_with_cause(self, f.what, f.cause);
      check_drains(self);
    },
    [=](lost_atom, std::string& worker, std::string& why) {
      auto& st = self->state;
      if (st.stopped || st.failed)
        return;
      if (!st.cfg.on_workers_changed) {
        fail(self, "cluster worker " + worker + " lost: " + why);
        check_drains(self);
        return;
      }
      pause_for_replacement(self);
      st.cfg.on_workers_changed(std::move(worker), std::move(why), false);
    },
    [=](join_atom, std::string& worker) {
      auto& st = self->state;
      if (st.stopped || st.failed || !st.cfg.on_workers_changed)
        return;
      pause_for_replacement(self);
      st.cfg.on_workers_changed(std::move(worker), {}, true);
    },
    [=](resume_atom, int64_t cut) { resume(self, cut); },
    [=](cut_atom) -> int64_t {
      auto open = self->state.first_open;
      return open == std::numeric_limits<int64_t>::max() ? open : open - 1;
    },
    [=](drain_atom, int64_t until) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      self->state.drains.emplace_back(until, rp);
      check_drains(self);
      return rp;
    },
    [=](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.stopped = true;
      st.queued.clear();
      st.running.clear();
      st.allocated.clear();
      st.waiting_outputs.clear();
      check_drains(self);
      // An output that runs ends first (a stop from inside it does not
      // wait: the context's stop request_stop()s from a runner's thread).
      auto rp = self->make_response_promise<bool>();
      st.stop_replies.push_back(rp);
      answer_stops(self);
      return rp;
    },
  };
}

} // namespace sluice::detail
