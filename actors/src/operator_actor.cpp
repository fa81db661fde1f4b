#include "sluice/operator_actor.hpp"

#include "sluice/actor_probe.hpp"

#include <algorithm>

#include "sluice/checkpoint_writer.hpp"
#include "sluice/error.hpp"
#include "sluice/narrow.hpp"
#include "sluice/fault_injector.hpp"

namespace sluice::detail {

namespace {

/// Builds the chain of `sp`, ending in `term` (an emitter of the tail's type).
chain build(const stage_plan& sp, emitter_base* term, chain c) {
  emitter_base* down = term;
  for (auto i = sp.chain.rbegin(); i != sp.chain.rend(); ++i) {
    c.links.push_back((*i)->wrap(down));
    down = c.links.back().get();
  }
  c.head = sp.head->make_feeder(down);
  return c;
}

void send_buckets(caf::stateful_actor<operator_state>* self, const wiring& w, const consumer& c, int64_t t,
                  int slot, std::vector<erased> buckets) {
  auto& targets = w.stages[static_cast<size_t>(c.target)];
  for (size_t r = 0; r < buckets.size(); ++r) {
    std::vector<part_msg> data;
    data.push_back({static_cast<int32_t>(r), w.net->pack(std::move(buckets[r]), targets[r])});
    self->send(targets[r], batch_msg{t, c.port, slot, false, std::move(data)});
  }
}

void send_none(caf::stateful_actor<operator_state>* self, const stage_plan& sp, int64_t t) {
  auto& st = self->state;
  auto& w = *st.w;
  for (auto& c : sp.consumers) {
    if (c.what == consumer::kind::shuffle) {
      for (auto& a : w.stages[static_cast<size_t>(c.target)])
        self->send(a, batch_msg{t, c.port, st.slot, true, {}});
    } else if (c.what == consumer::kind::forward) {
      self->send(w.stages[static_cast<size_t>(c.target)][static_cast<size_t>(st.slot)],
                 batch_msg{t, c.port, st.slot, true, {}});
    } else {
      self->send(w.gathers[static_cast<size_t>(c.target)],
                 batch_msg{t, c.port, st.slot, true, {}});
    }
  }
}

using self_ptr = caf::stateful_actor<operator_state>*;

void run_chain(self_ptr self, int64_t t, parts input);
void run_batch(self_ptr self, int64_t t, std::vector<operator_state::input>& msgs);
void run_ready(self_ptr self);

/// Runs `f`; a failure (a user function's, the store's) fails batch t.
template <class F>
void guarded(self_ptr self, int64_t t, F f) {
  auto& st = self->state;
  try {
    f();
  } catch (const user_failure& e) {
    st.writer.reset(); // may hold part of the failed batch
    uint64_t cause = e.cause() ? st.w->net->keep_for(e.cause(), st.w->scheduler.node()) : 0;
    self->send(st.w->scheduler, batch_failed{t, failure_message(*e.node(), t, e.what()), cause});
  } catch (const std::exception& e) {
    st.writer.reset();
    self->send(st.w->scheduler,
               batch_failed{t, e.what(),
                            st.w->net->keep_for(std::current_exception(), st.w->scheduler.node())});
  }
}

/// After a stateful reducer's batch (and its state checkpoint, if one was
/// due, is stored): passes its partition on.
void after_state(self_ptr self, int64_t t, stateful_result& r) {
  auto& st = self->state;
  auto& sp = st.w->layout->stages[static_cast<size_t>(st.stage)];
  if (!r.emit) { // not a batch time of this node: only the state moved on
    self->send(st.w->scheduler, gather_done{t, -1, 0});
    return;
  }
  if (!r.data) {
    send_none(self, sp, t);
    return;
  }
  parts input;
  input.push_back({st.slot, std::move(*r.data)});
  run_chain(self, t, std::move(input));
}

/// The stateful reducer's batch: restores the partition's state first in a
/// recovered run, and sends a due state checkpoint to the checkpoint writer,
/// waiting for it to be stored before the batch's result goes on (the
/// metadata checkpoint of t, written once t completed, relies on it).
void run_stateful(self_ptr self, int64_t t, bool none, std::vector<std::vector<erased>>& ports) {
  auto& st = self->state;
  auto& w = *st.w;
  auto& sp = w.layout->stages[static_cast<size_t>(st.stage)];
  if (!st.state) {
    st.state = sp.head->make_slot_state(st.slot, w.info, st.restored.has_value());
    if (st.restore_failure) {
      // Rethrown as what it was (a storage_error stays one).
      if (auto x = w.net->take(st.restore_failure->cause))
        std::rethrow_exception(std::any_cast<std::exception_ptr>(std::move(*x)));
      throw error(st.restore_failure->what);
    }
    if (st.restored) {
      sp.head->restore_state_chunks(st.state.get(), *st.restored);
      st.checkpointer.restored(st.restored_chain);
    }
    st.restored.reset();
  }
  auto r = std::make_shared<stateful_result>(attributed(sp.head, [&] {
    return sp.head->reduce_at(batch_time{t}, none, ports, st.state.get(), w.info);
  }));
  auto m = st.checkpointer.at_batch(*sp.head, w, st.slot, t,
                                    [&](bool full, auto& upserts, auto& removed) {
                                      return sp.head->checkpoint_state(st.state.get(), full,
                                                                       upserts, removed);
                                    });
  if (!m) {
    after_state(self, t, *r);
    return;
  }
  // No other batch runs on this slot before the state is stored.
  st.waiting = true;
  self->request(w.checkpoint_writer, caf::infinite, std::move(*m))
    .then(
      [=](bool) {
        self->state.waiting = false;
        guarded(self, t, [&] { after_state(self, t, *r); });
        run_ready(self);
      },
      [=](caf::error& err) {
        self->state.waiting = false;
        auto f = failure_of(err);
        self->send(self->state.w->scheduler, batch_failed{t, f.what, f.cause});
        run_ready(self);
      });
}

void run_batch(self_ptr self, int64_t t, std::vector<operator_state::input>& msgs) {
  auto& st = self->state;
  auto& w = *st.w;
  auto& sp = w.layout->stages[static_cast<size_t>(st.stage)];
  fault_injector::global().hit(fault_points::operator_run);
  bool none = std::any_of(msgs.begin(), msgs.end(), [](auto& m) { return m.none; });
  // Input parts: as received, or the reducer's merge of every sender's bucket.
  std::sort(msgs.begin(), msgs.end(), [](auto& a, auto& b) { return a.from < b.from; });
  parts input;
  if (sp.in == stage_plan::input::shuffle) {
    std::vector<std::vector<erased>> ports(sp.expected.size());
    for (size_t i = 0; i < ports.size(); ++i)
      ports[i].reserve(static_cast<size_t>(sp.expected[i]));  // a bucket per message, mostly
    for (auto& m : msgs)
      for (auto& p : m.data)
        ports[static_cast<size_t>(m.port)].push_back(std::move(p.data));
    if (sp.head->stateful()) {
      run_stateful(self, t, none, ports);
      return;
    } else if (none) {
      send_none(self, sp, t);
      return;
    } else {
      input.push_back({st.slot, attributed(sp.head, [&] { return sp.head->reduce(ports); })});
    }
  } else if (none) {
    send_none(self, sp, t);
    return;
  } else if (msgs.size() == 1) {
    input = std::move(msgs.front().data);
  } else {
    for (auto& m : msgs)
      for (auto& p : m.data)
        input.push_back(std::move(p));
  }
  run_chain(self, t, std::move(input));
}

/// Runs the batches that became ready while the slot waited for the
/// checkpoint writer, until one waits again.
void run_ready(self_ptr self) {
  auto& st = self->state;
  while (!st.waiting && !st.ready.empty()) {
    auto [t, msgs] = std::move(st.ready.front());
    st.ready.pop_front();
    guarded(self, t, [&] { run_batch(self, t, msgs); });
  }
}

/// Runs the stage's fused chain over `input` and sends the result to its
/// consumers.
void run_chain(self_ptr self, int64_t t, parts input) {
  auto& st = self->state;
  auto& w = *st.w;
  auto& sp = w.layout->stages[static_cast<size_t>(st.stage)];
  // A single shuffle consumer gets the records straight from the chain;
  // otherwise the chain collects parts and each consumer gets them.
  if (sp.consumers.size() == 1 && sp.consumers[0].what == consumer::kind::shuffle) {
    auto& c = sp.consumers[0];
    auto& target = w.layout->stages[static_cast<size_t>(c.target)];
    // The writer lives across batches: its tables keep their capacity.
    if (!st.writer)
      st.writer = target.head->make_writer(static_cast<size_t>(c.port));
    auto ch = build(sp, st.writer->input(), chain{});
    // What the links do not attribute comes from the writer: the shuffle
    // node's map-side functions (reduce_by_key's combine).
    auto buckets = attributed(target.head, [&] {
      for (auto& p : input)
        ch.head->feed(std::move(p));
      return st.writer->take();
    });
    send_buckets(self, w, c, t, st.slot, std::move(buckets));
    return;
  }
  chain ch;
  ch.collect = sp.tail()->make_collector();
  auto* term = ch.collect->input();
  ch = build(sp, term, std::move(ch));
  for (auto& p : input)
    ch.head->feed(std::move(p));
  parts out = ch.collect->take();
  for (size_t i = 0; i < sp.consumers.size(); ++i) {
    auto& c = sp.consumers[i];
    bool last = i + 1 == sp.consumers.size();
    parts mine = last ? std::move(out) : out; // shared data: receivers copy on take
    switch (c.what) {
      case consumer::kind::forward: {
        auto& to = w.stages[static_cast<size_t>(c.target)][static_cast<size_t>(st.slot)];
        self->send(to, batch_msg{t, c.port, st.slot, false, w.net->pack(std::move(mine), to)});
        break;
      }
      case consumer::kind::gather: {
        auto& to = w.gathers[static_cast<size_t>(c.target)];
        // A gather that takes partials (count, reduce) gets them instead of the
        // records: in cluster mode only those cross to the driver.
        if (auto* g = w.layout->target_node(c); g->takes_partial(c.port))
          for (auto& p : mine)
            p.data = attributed(g, [&] { return g->partial(c.port, std::move(p.data)); });
        self->send(to, batch_msg{t, c.port, st.slot, false, w.net->pack(std::move(mine), to)});
        break;
      }
      case consumer::kind::shuffle: {
        auto& target = w.layout->stages[static_cast<size_t>(c.target)];
        auto writer = target.head->make_writer(static_cast<size_t>(c.port));
        auto feed = sp.tail()->make_feeder(writer->input());
        auto buckets = attributed(target.head, [&] {
          for (auto& p : mine)
            feed->feed(std::move(p));
          return writer->take();
        });
        send_buckets(self, w, c, t, st.slot, std::move(buckets));
        break;
      }
    }
  }
}

} // namespace

caf::behavior operator_actor(caf::stateful_actor<operator_state>* self, wiring_ptr w, int stage,
                             int slot) {
  self->state.w = std::move(w);
  self->state.stage = stage;
  self->state.slot = slot;
  auto& w_ = *self->state.w;
  auto* head = w_.layout->stages[static_cast<size_t>(stage)].head;
  if (head->stateful() && w_.restore_from && w_.checkpoint_writer) {
    // A recovered run: the partition's state comes from the checkpoint
    // writer before the first batch (`waiting` holds the batches back).
    self->state.waiting = true;
    self->request(w_.checkpoint_writer, caf::infinite, restore_atom::value, head->id(), slot,
                  *w_.restore_from)
      .then(
        [=](state_rows_msg& r) {
          self->state.restored = std::move(r.chunks);
          self->state.restored_chain = r.chain;
          self->state.waiting = false;
          run_ready(self);
        },
        [=](caf::error& err) {
          self->state.restore_failure = failure_of(err);
          self->state.waiting = false;
          run_ready(self);
        });
  }
  return {
    [=](introspect_atom) {
      auto& st = self->state;
      auto r = self_report(self);
      r.stage = st.stage;
      r.slot = st.slot;
      auto* head = st.w->layout->stages[static_cast<size_t>(st.stage)].head;
      if (head->stateful()) {
        r.op = head->id();
        r.state_keys = st.state ? static_cast<int64_t>(st.state->keys()) : 0;
      }
      return std::vector<actor_report>{std::move(r)};
    },
    [=](batch_msg& m) {
      auto& st = self->state;
      auto& sp = st.w->layout->stages[static_cast<size_t>(st.stage)];
      auto& pend = st.batches.at(m.t, sp.expected);
      ++pend.received[static_cast<size_t>(m.port)];
      int64_t t = m.t;
      operator_state::input in{m.port, m.from, m.none, {}};
      try {
        in.data = st.w->net->unpack(m.data);
      } catch (const std::exception& e) {
        self->send(st.w->scheduler,
                   batch_failed{t, sp.head->name() + " (operator " + std::to_string(sp.head->id())
                                     + "): " + e.what(), 0});
        return;
      }
      pend.msgs.push_back(std::move(in));
      for (size_t i = 0; i < sp.expected.size(); ++i)
        if (pend.received[i] < sp.expected[i])
          return;
      auto msgs = std::move(pend.msgs);
      st.batches.finish(t);
      if (st.waiting) {
        st.ready.emplace_back(t, std::move(msgs));
        return;
      }
      guarded(self, t, [&] { run_batch(self, t, msgs); });
    },
    [=](release_initial_atom) {
      self->state.w->layout->stages[static_cast<size_t>(self->state.stage)]
        .head->release_initial_state();
    },
  };
}

} // namespace sluice::detail
