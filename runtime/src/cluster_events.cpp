#include "cluster_events.hpp"

#include "sluice/listener_bus.hpp"

namespace sluice::detail {

void publish_worker(const caf::actor& bus, std::string name, int cores, std::string reason) {
  listener_event e;
  e.what = reason.empty() ? listener_event::kind::worker_added
                          : listener_event::kind::worker_removed;
  e.worker = {std::move(name), cores, now_us(), std::move(reason)};
  caf::anon_send(bus, std::move(e));
}

void publish_placement(const caf::actor& bus, const std::vector<worker_hello>& workers,
                       std::optional<int64_t> state_as_of, bool replaced) {
  listener_event e;
  e.what = listener_event::kind::operators_placed;
  for (auto& w : workers)
    e.placement.workers.push_back(w.name);
  if (state_as_of)
    e.placement.state_as_of = batch_time{*state_as_of};
  e.placement.replaced = replaced;
  e.placement.time_us = now_us();
  caf::anon_send(bus, std::move(e));
}

duration heartbeat_interval(const conf& c) {
  return c.get_duration("sluice.cluster.heartbeatInterval", std::chrono::seconds(1));
}

duration worker_timeout(const conf& c) {
  return c.get_duration("sluice.cluster.workerTimeout", std::chrono::seconds(10));
}

} // namespace sluice::detail
