#include "sluice/block_manager.hpp"

#include "sluice/fault_injector.hpp"
#include "sluice/receiver_wal.hpp"

namespace sluice::detail {

caf::behavior block_manager(caf::stateful_actor<block_manager_state>* self,
                            std::shared_ptr<block_source> source, caf::actor tracker,
                            std::shared_ptr<receiver_wal> wal,
                            std::function<void(std::string)> on_error) {
  auto& st = self->state;
  st.source = std::move(source);
  st.tracker = std::move(tracker);
  st.wal = std::move(wal);
  st.on_error = std::move(on_error);
  return {
    [=](block& b) -> caf::result<bool> {
      auto& st = self->state;
      try {
        fault_injector::global().hit(fault_points::block_write);
        if (st.wal)
          st.wal->append_block(b.stream, b.id, b.created_ms, st.source->encode(b.data));
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
      self->send(st.tracker, std::move(b));
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
