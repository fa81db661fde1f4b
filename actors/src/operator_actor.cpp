#include "sluice/operator_actor.hpp"

#include <algorithm>

#include "sluice/checkpoint_store.hpp"
#include "sluice/detail/user_failure.hpp"
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

void run_batch(caf::stateful_actor<operator_state>* self, int64_t t,
               std::vector<operator_state::input>& msgs) {
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
    for (auto& m : msgs)
      for (auto& p : m.data)
        ports[static_cast<size_t>(m.port)].push_back(std::move(p.data));
    if (sp.head->stateful()) {
      if (!st.state) {
        st.state = sp.head->make_slot_state(st.slot, w.info);
        if (w.restore_from)
          sp.head->restore_state(st.state.get(),
                                 state_checkpointer::restored(*sp.head, w, st.slot));
      }
      auto r = attributed(sp.head, [&] {
        return sp.head->reduce_at(batch_time{t}, none, ports, st.state.get(), w.info);
      });
      st.checkpointer.at_batch(*sp.head, w, st.slot, t,
                               [&](bool full, auto& upserts, auto& removed) {
                                 return sp.head->checkpoint_state(st.state.get(), full, upserts,
                                                                  removed);
                               });
      if (!r.emit) { // not a batch time of this node: only the state moved on
        self->send(w.scheduler, gather_done{t, -1, 0});
        return;
      }
      if (!r.data) {
        send_none(self, sp, t);
        return;
      }
      input.push_back({st.slot, std::move(*r.data)});
    } else if (none) {
      send_none(self, sp, t);
      return;
    } else {
      input.push_back({st.slot, attributed(sp.head, [&] { return sp.head->reduce(ports); })});
    }
  } else if (none) {
    send_none(self, sp, t);
    return;
  } else {
    for (auto& m : msgs)
      for (auto& p : m.data)
        input.push_back(std::move(p));
  }
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
  return {
    [=](batch_msg& m) {
      auto& st = self->state;
      auto& sp = st.w->layout->stages[static_cast<size_t>(st.stage)];
      auto& pend = st.batches[m.t];
      if (pend.received.empty())
        pend.received.assign(sp.expected.size(), 0);
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
      st.batches.erase(t);
      try {
        run_batch(self, t, msgs);
      } catch (const user_failure& e) {
        st.writer.reset(); // may hold part of the failed batch
        uint64_t cause = e.cause() ? st.w->net->keep(e.cause()) : 0;
        self->send(st.w->scheduler,
                   batch_failed{t, failure_message(*e.node(), t, e.what()), cause});
      } catch (const std::exception& e) {
        st.writer.reset();
        self->send(st.w->scheduler,
                   batch_failed{t, e.what(), st.w->net->keep(std::current_exception())});
      }
    },
  };
}

} // namespace sluice::detail
