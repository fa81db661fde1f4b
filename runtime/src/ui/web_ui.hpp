// web_ui: the HTTP server behind streaming_context::ui_url(): the REST API,
// /metrics and the page, fed by a statistics listener.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sluice/conf.hpp"
#include "ui/rest_api.hpp"
#include "ui/statistics.hpp"

namespace httplib {
class Server;
} // namespace httplib

namespace sluice::detail::ui {

/// Serves on its own threads; the handlers only read statistics snapshots,
/// so no request can hold up or crash the context.
class web_ui {
 public:
  /// Returns nullptr when sluice.ui.enabled=false. Binds sluice.ui.host
  /// (127.0.0.1) at sluice.ui.port (4040), or, when that port is taken, the
  /// next one up, trying at most sluice.port.maxRetries (16) more, as Spark
  /// does; port 0 takes any free port. Logs the URL. Throws illegal_state
  /// naming the host and ports when none can be bound.
  static std::unique_ptr<web_ui> start(const sluice::conf& c, duration batch);

  ~web_ui();
  web_ui(const web_ui&) = delete;
  web_ui& operator=(const web_ui&) = delete;

  /// The listener to register first on the bus: once a later listener saw
  /// an event, the UI shows it.
  std::shared_ptr<statistics> stats() const { return stats_; }

  /// "http://<host>:<port>" while serving, "" after stop(). Any thread.
  std::string url() const;

  /// Stops serving and joins the server's thread; idempotent. Any thread.
  void stop();

 private:
  web_ui() = default;
  void routes(const std::string& token);

  std::shared_ptr<statistics> stats_;
  app_info app_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mtx_;
  std::string url_;  ///< guarded by mtx_
};

} // namespace sluice::detail::ui
