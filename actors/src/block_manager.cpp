#include "sluice/block_manager.hpp"

#include "sluice/actor_probe.hpp"

#include "sluice/fault_injector.hpp"
#include "sluice/receiver_wal.hpp"

namespace sluice::detail {

caf::behavior block_manager(caf::stateful_actor<block_manager_state>* self,
                            std::shared_ptr<block_source> source, caf::actor tracker,
                            std::shared_ptr<receiver_wal> wal,
                            std::function<void(std::string)> on_error,
                            std::shared_ptr<transport> net) {
  auto& st = self->state;
  st.source = std::move(source);
  st.tracker = std::move(tracker);
  st.wal = std::move(wal);
  st.on_error = std::move(on_error);
  st.net = std::move(net);
  return {
    [=](introspect_atom) {
      auto r = self_report(self);
      r.stream = self->state.stream;
      r.wal_bytes = self->state.wal_bytes;
      return std::vector<actor_report>{std::move(r)};
    },
    [=](block_msg& m) -> caf::result<bool> {
      auto& st = self->state;
      block b;
      try {
        b = unpack(m, *st.net);
        st.stream = b.stream;
        fault_injector::global().hit(fault_points::block_write);
        if (st.wal) {
          auto records = st.source->encode(b.data);
          int64_t bytes = 0;
          for (auto& r : records)
            bytes += static_cast<int64_t>(r.size());
          st.wal->append_block(b.stream, b.id, b.created_ms, std::move(records));
          st.wal_bytes += bytes;
        }
      } catch (const std::exception& e) {
        if (b.queued)
          st.source->release();
        std::string what = "receiver stream " + std::to_string(b.stream) + ": block "
                           + std::to_string(b.id) + " could not be stored: " + e.what();
        if (st.on_error)
          st.on_error(what);
        return caf::make_error(caf::sec::runtime_error, what);
      }
      st.blocks.emplace(b.id, std::pair{b.data, b.records});
      bool queued = b.queued;
      try {
        self->send(st.tracker, pack(std::move(b), *st.net, st.tracker));
      } catch (const std::exception& e) {
        std::string what = "receiver stream " + std::to_string(m.stream) + ": block "
                           + std::to_string(m.id) + " could not be reported: " + e.what();
        if (st.on_error)
          st.on_error(what);
        return caf::make_error(caf::sec::runtime_error, what);
      }
      if (queued)
        st.source->release();
      return true;
    },
    [=](cleanup_atom, int64_t last_block) {
      auto& st = self->state;
      auto end = st.blocks.upper_bound(last_block);
      int64_t n = 0, records = 0;
      for (auto i = st.blocks.begin(); i != end; ++i, ++n)
        records += i->second.second;
      st.blocks.erase(st.blocks.begin(), end);
      if (n > 0)
        st.source->processed(n, records);
    },
  };
}

} // namespace sluice::detail
