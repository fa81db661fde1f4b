#include "sluice/block_manager.hpp"

#include "sluice/actor_probe.hpp"
#include "sluice/block.hpp"

#include <spdlog/spdlog.h>

#include "sluice/cluster_driver.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/log.hpp"
#include "sluice/receiver_wal.hpp"

namespace sluice::detail {

namespace {

/// Sends `b` to the remote tracker; the reply (true, or the tracker's
/// error) follows the tracker's answer.
caf::result<bool> confirm_stored(caf::stateful_actor<block_manager_state>* self, block b) {
  auto& st = self->state;
  bool queued = b.queued;
  auto id = b.id;
  auto records = b.records;
  block_msg m;
  try {
    m = pack(std::move(b), *st.net, st.tracker);
  } catch (const std::exception& e) {
    if (queued)
      st.source->release();
    std::string what = "receiver stream " + std::to_string(st.stream) + ": block "
                       + std::to_string(id) + " could not be reported: " + e.what();
    if (st.on_error)
      st.on_error(what);
    return caf::make_error(caf::sec::runtime_error, what);
  }
  auto rp = self->make_response_promise<bool>();
  self->request(st.tracker, caf::infinite, std::move(m))
    .then(
      [=]() mutable {
        self->state.blocks.emplace(id, records);
        if (queued)
          self->state.source->release();
        rp.deliver(true);
      },
      [=](caf::error& err) mutable {
        // Logged here too: a block cut by the block generator has no one
        // waiting for this reply.
        logger()->warn("receiver stream {}: block {} ({} records) was not stored on the driver: "
                       "{}", self->state.stream, id, records, error_text(err));
        if (queued)
          self->state.source->release();
        rp.deliver(std::move(err));
      });
  return rp;
}

} // namespace

caf::behavior block_manager(caf::stateful_actor<block_manager_state>* self,
                            std::shared_ptr<block_source> source, caf::actor tracker,
                            std::shared_ptr<receiver_wal> wal,
                            std::function<void(std::string)> on_error,
                            std::shared_ptr<transport> net, bool confirm) {
  auto& st = self->state;
  st.source = std::move(source);
  st.tracker = std::move(tracker);
  st.wal = std::move(wal);
  st.on_error = std::move(on_error);
  st.net = std::move(net);
  st.confirm = confirm;
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
          st.wal_bytes += log_block(*st.wal, *st.source, b);
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
      bool queued = b.queued;
      if (st.confirm)
        return confirm_stored(self, std::move(b));
      st.blocks.emplace(b.id, b.records);
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
        records += i->second;
      st.blocks.erase(st.blocks.begin(), end);
      if (n > 0)
        st.source->processed(n, records);
    },
  };
}

} // namespace sluice::detail
