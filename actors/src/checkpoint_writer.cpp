#include "sluice/checkpoint_writer.hpp"

#include "sluice/actor_probe.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "sluice/checkpoint_store.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/listener_bus.hpp"
#include "sluice/replace_atoms.hpp"

namespace sluice::detail {

namespace {

/// The error a requester on node `reader` gets for exception `x`: its
/// message, and `x` kept for a requester in this process (one on another
/// node gets the message only).
caf::error error_for(caf::stateful_actor<checkpoint_writer_state>* self, std::exception_ptr x,
                     const caf::node_id& reader) {
  std::string what = "the checkpoint writer failed";
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  return caf::make_error(caf::sec::runtime_error, std::move(what),
                         self->state.net->keep_for(x, reader));
}

/// f()'s result, or error_for the exception it threw.
template <class F>
auto guarded(caf::stateful_actor<checkpoint_writer_state>* self, F f)
  -> caf::result<decltype(f())> {
  try {
    return f();
  } catch (const std::exception&) {
    auto from = self->current_sender();
    return error_for(self, std::current_exception(), from ? from->node() : self->node());
  }
}

/// Tells the listeners that a checkpoint written from `start_us` on is stored.
void report(caf::stateful_actor<checkpoint_writer_state>* self, checkpoint_info info,
            int64_t start_us) {
  if (!self->state.bus)
    return;
  info.time_us = now_us();
  info.duration_us = info.time_us - start_us;
  listener_event e;
  e.what = listener_event::kind::checkpoint_written;
  e.time_us = info.time_us;
  e.checkpoint = std::move(info);
  self->send(self->state.bus, std::move(e));
}

/// Answers one restore request, then quits: spawned detached per request
/// (a plain actor in a deterministic run),
/// so the partitions of a recovery read their state in parallel and the
/// writer goes on with its mailbox meanwhile.
caf::behavior state_reader(caf::stateful_actor<checkpoint_writer_state>* self,
                           std::shared_ptr<checkpoint_store> store,
                           std::shared_ptr<transport> net) {
  self->state.store = std::move(store);
  self->state.net = std::move(net);
  return {
    [=](restore_atom, int32_t op, int32_t partition, int64_t t) {
      self->quit();
      return guarded(self, [&] {
        state_rows_msg r;
        r.chunks = self->state.store->read_state_chunks(op, partition, t, &r.chain);
        return r;
      });
    },
  };
}

/// Writes the queued metadata checkpoints in one transaction and answers
/// their requesters. Called by the flush and before any other message, so
/// messages are still handled in arrival order.
void flush_metadata(caf::stateful_actor<checkpoint_writer_state>* self) {
  auto& st = self->state;
  if (st.metadata.empty())
    return;
  auto queued = std::exchange(st.metadata, {});
  std::vector<const metadata_checkpoint*> group;
  group.reserve(queued.size());
  for (auto& q : queued)
    group.push_back(&q.m);
  auto start = now_us();
  auto failed = st.store->write_metadata_group(group);
  for (size_t i = 0; i < queued.size(); ++i) {
    auto& q = queued[i];
    if (!failed[i]) {
      checkpoint_info info;
      info.batch = batch_time{q.m.batch_time_ms};
      report(self, std::move(info), start);
      q.promise.deliver(true);
      continue;
    }
    q.promise.deliver(error_for(self, failed[i], q.reader));
  }
}

} // namespace

caf::behavior checkpoint_writer(caf::stateful_actor<checkpoint_writer_state>* self,
                                std::shared_ptr<checkpoint_store> store,
                                std::shared_ptr<transport> net, caf::actor bus) {
  self->state.store = std::move(store);
  self->state.net = std::move(net);
  self->state.bus = std::move(bus);
  return {
    [=](state_write_msg& m) {
      flush_metadata(self);
      return guarded(self, [&] {
        auto& st = *self->state.store;
        auto start = now_us();
        st.write_state(m.op, m.partition, m.t, m.full, m.upserts, m.removed);
        if (m.delete_before >= 0)
          st.delete_state_before(m.op, m.partition, m.delete_before);
        checkpoint_info info;
        info.what = checkpoint_info::kind::state;
        info.batch = batch_time{m.t};
        info.operator_id = m.op;
        info.partition = m.partition;
        info.full = m.full;
        info.entries = static_cast<int64_t>(m.upserts.size() + m.removed.size());
        info.bytes = static_cast<int64_t>(m.upserts.payload_bytes());
        report(self, std::move(info), start);
        return true;
      });
    },
    [=](restore_atom a, int32_t op, int32_t partition, int64_t t) {
      flush_metadata(self);
      // The reader replies to the requester itself. Answering after later
      // messages changes nothing: it reads the rows at or before t only, and
      // the one writer of (op, partition) is the actor waiting for this reply.
      auto reader = spawn_service(self, state_reader, self->state.store,
                                  self->state.net);
      return self->delegate(reader, a, op, partition, t);
    },
    [=](drain_atom) {
      flush_metadata(self);
      return true;
    },
    [=](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
    [=](cut_atom, const std::vector<int32_t>& ops, const std::vector<int32_t>& partitions,
        int64_t bound) {
      flush_metadata(self);
      return guarded(self, [&] {
        // As recovery.cpp's consistent cut: the oldest of every partition's
        // newest state (a partition without rows restores empty).
        auto& st = *self->state.store;
        int64_t cut = std::numeric_limits<int64_t>::max();
        bool any = false;
        for (size_t i = 0; i < ops.size() && i < partitions.size(); ++i) {
          auto stored = st.state_partitions(ops[i]);
          for (int32_t p = 0; p < partitions[i]; ++p)
            if (std::find(stored.begin(), stored.end(), p) == stored.end())
              stored.push_back(p);
          for (auto p : stored)
            if (auto ts = st.latest_state_time(ops[i], p, bound)) {
              cut = std::min(cut, *ts);
              any = true;
            }
        }
        return any ? cut : int64_t{-1};
      });
    },
    [=](metadata_checkpoint& m) -> caf::result<bool> {
      auto& st = self->state;
      auto from = self->current_sender();
      auto promise = self->make_response_promise();
      st.metadata.push_back({std::move(m), promise, from ? from->node() : self->node()});
      if (st.metadata.size() == 1)
        self->send(self, flush_atom::value);
      return promise;
    },
    [=](flush_atom) { flush_metadata(self); },
  };
}

writer_failure failure_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.match_elements<std::string, uint64_t>())
    return {ctx.get_as<std::string>(0), ctx.get_as<uint64_t>(1)};
  return {"the checkpoint writer failed: " + caf::to_string(err), 0};
}

} // namespace sluice::detail
