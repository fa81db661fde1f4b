// Cluster mode's listener events and timing conf, shared by start
// (cluster_start.cpp) and re-placement (cluster_replace.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "sluice/conf.hpp"
#include "sluice/messages.hpp"

namespace sluice::detail {

/// Tells the listeners that worker `name` was added (reason "") or removed.
void publish_worker(const caf::actor& bus, std::string name, int cores, std::string reason);

/// Tells the listeners where the operators were placed.
void publish_placement(const caf::actor& bus, const std::vector<worker_hello>& workers,
                       std::optional<int64_t> state_as_of, bool replaced);

/// sluice.cluster.heartbeatInterval (1 s).
duration heartbeat_interval(const conf& c);

/// sluice.cluster.workerTimeout (10 s).
duration worker_timeout(const conf& c);

} // namespace sluice::detail
