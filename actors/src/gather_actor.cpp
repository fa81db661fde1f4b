#include "sluice/gather_actor.hpp"

#include "sluice/actor_probe.hpp"

#include "sluice/narrow.hpp"
#include "sluice/error.hpp"
#include "sluice/state_chunk.hpp"

namespace sluice::detail {

namespace {

/// A gather's result to the gathers consuming it (gather_plan::consumers).
void send_to_gathers(caf::stateful_actor<gather_state>* self, const wiring& w,
                     const gather_plan& gp, int64_t t, std::optional<parts> data) {
  for (size_t i = 0; i < gp.consumers.size(); ++i) {
    auto& c = gp.consumers[i];
    auto& to = w.gathers[static_cast<size_t>(c.target)];
    if (!data) {
      self->send(to, batch_msg{t, c.port, -1, true, {}});
      continue;
    }
    bool last = i + 1 == gp.consumers.size();
    parts mine = last ? std::move(*data) : *data;  // shared data: receivers copy on take
    self->send(to, batch_msg{t, c.port, -1, false, w.net->pack(std::move(mine), to)});
  }
}

} // namespace

caf::behavior gather_actor(caf::stateful_actor<gather_state>* self, wiring_ptr w, int gather) {
  auto& gp = w->layout->gathers[static_cast<size_t>(gather)];
  self->state.op = gp.node->make_gather(w->info);
  self->state.w = std::move(w);
  self->state.gather = gather;
  auto& wr = *self->state.w;
  if (gp.node->checkpoints_history() && wr.restore_from && wr.checkpoint_writer) {
    // A recovered run: the history comes from the checkpoint writer before
    // the first batch (await holds the batches back).
    self->request(wr.checkpoint_writer, caf::infinite, restore_atom::value, gp.node->id(),
                  int32_t{0}, *wr.restore_from)
      .await([=](state_rows_msg& r) { self->state.restored_chunks = std::move(r.chunks); },
             [=](caf::error& err) { self->state.restore_failure = failure_of(err); });
  }
  return {
    [=](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
    [=](batch_msg& m) {
      auto& st = self->state;
      auto& wr = *st.w;
      auto& gp = wr.layout->gathers[static_cast<size_t>(st.gather)];
      auto ports = gp.expected.size();
      auto& pend = st.batches.at(m.t, ports);
      auto port = static_cast<size_t>(m.port);
      ++pend.received[port];
      if (m.none)
        pend.none[port] = true;
      int64_t t = m.t;
      try {
        for (auto& p : wr.net->unpack(m.data))
          pend.data[port].push_back(std::move(p));
      } catch (const std::exception& e) {
        self->send(wr.scheduler, batch_failed{t, gp.node->name() + " (operator "
                                                   + std::to_string(gp.node->id())
                                                   + "): " + e.what(), 0});
        return;
      }
      for (size_t i = 0; i < ports; ++i)
        if (pend.received[i] < gp.expected[i])
          return;
      std::vector<std::optional<parts>> inputs(ports);
      for (size_t i = 0; i < ports; ++i)
        if (!pend.none[i])
          inputs[i] = std::move(pend.data[i]);
      st.batches.finish(t);
      auto w = st.w; // keeps the wiring alive in asynchronous continuations
      int id = st.gather;
      // Called from catch blocks (and by asynchronous ops): keeps the cause.
      auto fail = [self, w, t](std::string what) {
        uint64_t cause = 0;
        if (auto e = std::current_exception())
          cause = w->net->keep(e);
        self->send(w->scheduler, batch_failed{t, std::move(what), cause});
      };
      auto pass_on = [self, w, id, t](gather_result& result) {
        auto& gp = w->layout->gathers[static_cast<size_t>(id)];
        if (gp.node->valid_at(batch_time{t}, w->info.zero)) {
          if (gp.stage >= 0)
            scatter(*w, gp.stage, t, std::move(result.data));
          else if (!gp.consumers.empty())
            send_to_gathers(self, *w, gp, t, std::move(result.data));
        }
        uint64_t job = 0;
        if (result.job) // output jobs run on the scheduler, in this process
          job = w->net->keep(std::move(result.job));
        self->send(w->scheduler, gather_done{t, id, job});
      };
      auto done = [self, w, id, t, fail, pass_on](gather_result result) {
        auto& gp = w->layout->gathers[static_cast<size_t>(id)];
        auto prefix = gp.node->name() + " (operator " + std::to_string(gp.node->id()) + "): ";
        std::optional<state_write_msg> m;
        if (gp.node->checkpoints_history()) {
          try {
            auto& op = *self->state.op;
            m = self->state.checkpointer.at_batch(*gp.node, *w, 0, t,
                                                  [&](bool full, auto& upserts, auto& removed) {
                                                    op.checkpoint(full, upserts, removed);
                                                    return true;
                                                  });
          } catch (const std::exception& e) {
            fail(prefix + "checkpoint failed: " + e.what());
            return;
          }
        }
        if (!m) {
          pass_on(result);
          return;
        }
        // The history is stored before the batch goes on (await: no other
        // batch runs here meanwhile).
        auto kept = std::make_shared<gather_result>(std::move(result));
        self->request(w->checkpoint_writer, caf::infinite, std::move(*m))
          .await(
            [=](bool) {
              try {
                pass_on(*kept);
              } catch (const std::exception& e) {
                fail(e.what());
              }
            },
            [=](caf::error& err) {
              auto f = failure_of(err);
              self->send(w->scheduler, batch_failed{t, prefix + "checkpoint failed: " + f.what,
                                                    f.cause});
            });
      };
      try {
        if (!st.restored) {
          st.restored = true;
          if (st.restore_failure) {
            // Rethrown as what it was (a storage_error stays one).
            if (auto x = wr.net->take(st.restore_failure->cause))
              std::rethrow_exception(std::any_cast<std::exception_ptr>(std::move(*x)));
            throw error(st.restore_failure->what);
          }
          if (st.restored_chunks)
            st.op->restore(state_from_chunks(*st.restored_chunks));
          st.restored_chunks.reset();
        }
      } catch (const std::exception& e) {
        fail(e.what());
        return;
      }
      std::optional<gather_result> result;
      try {
        // The node's own functions (transform, reduce, ...); an asynchronous
        // op reports its later failures itself.
        auto* actor = static_cast<caf::event_based_actor*>(self);
        if (!st.op->compute_async(batch_time{t}, inputs, actor, done, fail))
          result = st.op->compute(batch_time{t}, inputs);
      } catch (const std::exception& e) {
        fail(failure_message(*gp.node, t, e.what()));
        return;
      }
      if (!result)
        return;
      try {
        done(std::move(*result));
      } catch (const std::exception& e) {
        fail(e.what());
      }
    },
  };
}

void scatter(const wiring& w, int stage, int64_t t,
             std::optional<parts> data) {
  auto& slots = w.stages[static_cast<size_t>(stage)];
  auto n = slots.size();
  if (!data) {
    for (auto& a : slots)
      caf::anon_send(a, batch_msg{t, 0, -1, true, {}});
    return;
  }
  std::vector<parts> per_slot(n);
  for (auto& p : *data)
    per_slot[static_cast<size_t>(p.index) % n].push_back(std::move(p));
  for (size_t i = 0; i < n; ++i)
    caf::anon_send(slots[i], batch_msg{t, 0, -1, false, w.net->pack(std::move(per_slot[i]), slots[i])});
}

} // namespace sluice::detail
