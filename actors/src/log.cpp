#include "sluice/log.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice::detail {

std::shared_ptr<spdlog::logger> logger() {
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto l = spdlog::get("sluice"))
    return l;
  try {
    return spdlog::stderr_color_mt("sluice");
  } catch (const spdlog::spdlog_ex&) { // registered by the application meanwhile
    return spdlog::get("sluice");
  }
}

} // namespace sluice::detail
