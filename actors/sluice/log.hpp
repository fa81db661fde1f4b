// The engine's log: spdlog's logger named "sluice".
#pragma once

#include <memory>

namespace spdlog {
class logger;
} // namespace spdlog

namespace sluice::detail {

/// The logger sluice writes to: the spdlog logger registered as "sluice".
/// Unless the application registered its own under that name before (e.g.
/// to send it to a file or change its level), it is created on first use,
/// writing to stderr at level info. Thread-safe.
std::shared_ptr<spdlog::logger> logger();

} // namespace sluice::detail
