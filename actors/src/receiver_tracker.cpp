#include "sluice/receiver_tracker.hpp"

#include "sluice/actor_probe.hpp"
#include "sluice/block.hpp"

#include <algorithm>

#include "sluice/fault_injector.hpp"
#include "sluice/receiver_wal.hpp"

namespace sluice::detail {

caf::behavior receiver_tracker(caf::stateful_actor<receiver_tracker_state>* self,
                               std::shared_ptr<receiver_wal> wal,
                               std::shared_ptr<rate_estimator> estimator,
                               std::function<void(std::string)> on_error,
                               duration wal_retention, std::shared_ptr<transport> net,
                               tracker_home home) {
  self->state.wal = std::move(wal);
  self->state.estimator = std::move(estimator);
  self->state.on_error = std::move(on_error);
  self->state.wal_retention = wal_retention;
  self->state.net = std::move(net);
  self->state.home = std::move(home);
  return {
    [=](introspect_atom) {
      auto r = self_report(self);
      if (self->state.home.remote) {
        // Cluster mode: this actor, not the block manager on the worker,
        // writes the stream's WAL, so it reports the stream's WAL bytes.
        r.stream = self->state.home_stream;
        r.wal_bytes = self->state.home_wal_bytes;
      }
      return std::vector<actor_report>{std::move(r)};
    },
    [=](caf::actor& manager, caf::actor& supervisor) {
      self->state.manager = std::move(manager);
      self->state.supervisor = std::move(supervisor);
    },
    [=](block_msg& m) -> caf::result<void> {
      auto& st = self->state;
      if (st.home.remote && self->current_sender() != nullptr
          && self->current_sender()->address() != st.manager.address())
        // A worker declared lost may still send before it hears so; its
        // receiver now runs elsewhere with the same block ids.
        return caf::make_error(caf::sec::runtime_error,
                               "receiver stream " + std::to_string(m.stream) + ": block "
                                 + std::to_string(m.id) + " refused: it comes from a block "
                                 "manager no longer hosting the stream");
      try {
        auto b = unpack(m, *st.net);
        st.home_stream = b.stream;
        if (st.home.block_log) {
          st.home_wal_bytes += log_block(*st.home.block_log, *st.home.source, b);
        }
        st.last_id = std::max(st.last_id, b.id);
        st.unallocated.push_back(std::move(b));
      } catch (const std::exception& e) {
        std::string what = "receiver stream " + std::to_string(m.stream) + ": block "
                           + std::to_string(m.id) + " could not be received: " + e.what();
        if (self->state.on_error)
          self->state.on_error(what);
        return caf::make_error(caf::sec::runtime_error, what);
      }
      return caf::unit;
    },
    [=](allocate_atom, int64_t t, block_msg& m) {
      self->state.last_id = std::max(self->state.last_id, m.id);
      self->state.replayed[t].push_back(unpack(m, *self->state.net));
    },
    [=](last_atom) { return self->state.last_id; },
    [=](error_atom, std::string& why) {
      if (self->state.on_error)
        self->state.on_error(why);
    },
    [=](allocate_atom, int64_t t) -> caf::result<allocation_msg> {
      auto& st = self->state;
      allocation_msg a;
      a.t = t;
      fault_injector::global().hit(fault_points::tracker_allocate);
      parts data;
      std::vector<std::pair<int32_t, int64_t>> ids;
      auto take = [&](block& b) {
        ids.emplace_back(b.stream, b.id);
        a.records += b.records;
        data.push_back({static_cast<int32_t>(data.size()), std::move(b.data)});
      };
      // Replayed blocks of batches before t were allocated to those batches
      // again; none is left after them.
      for (auto r = st.replayed.begin(); r != st.replayed.end() && r->first <= t;) {
        if (r->first == t)
          for (auto& b : r->second)
            take(b);
        r = st.replayed.erase(r);
      }
      for (auto& b : st.unallocated)
        take(b);
      if (st.wal) {
        try {
          st.wal->log_allocation(t, ids);
        } catch (const std::exception& e) {
          std::string what = "batch " + std::to_string(t) + " ms: the block allocation could "
                             "not be logged: " + e.what();
          if (st.on_error)
            st.on_error(what);
          return caf::make_error(caf::sec::runtime_error, what);
        }
      }
      if (!ids.empty())
        st.last_block_of_batch[t] = ids.back().second;
      st.unallocated.clear();
      auto to = self->current_sender();
      a.data = st.net->pack(std::move(data), to ? to->node() : self->node());
      return a;
    },
    [=](rate_atom, int64_t end_ms, int64_t records, int64_t processing_ms,
        int64_t scheduling_ms) {
      auto& st = self->state;
      if (!st.estimator || !st.supervisor)
        return;
      if (auto rate = st.estimator->compute(end_ms, records, processing_ms, scheduling_ms))
        self->send(st.supervisor, rate_atom::value, static_cast<int64_t>(*rate));
    },
    [=](cleanup_atom, int64_t done, int64_t t) {
      auto& st = self->state;
      auto done_end = st.last_block_of_batch.upper_bound(done);
      if (done_end != st.last_block_of_batch.begin()) {
        int64_t last = std::prev(done_end)->second;
        if (last > st.released) {
          st.released = last;
          if (st.manager)
            self->send(st.manager, cleanup_atom::value, last);
        }
      }
      auto end = st.last_block_of_batch.upper_bound(t);
      if (end == st.last_block_of_batch.begin())
        return;
      st.last_block_of_batch.erase(st.last_block_of_batch.begin(), end);
      if (st.wal) {
        try {
          // Older metadata checkpoints are kept to fall back to when newer
          // ones are damaged: a recovery from them re-runs their batches.
          auto horizon = t;
          if (auto oldest = st.wal->oldest_metadata_time())
            horizon = std::min(horizon, *oldest);
          st.wal->delete_before(horizon + 1 - st.wal_retention.count());
        } catch (const std::exception& e) {
          if (st.on_error)
            st.on_error(std::string("receiver WAL cleanup failed: ") + e.what());
        }
      }
    },
  };
}

} // namespace sluice::detail
