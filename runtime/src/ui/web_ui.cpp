#include "ui/web_ui.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "sluice/error.hpp"
#include "sluice/listener_bus.hpp"
#include "sluice/log.hpp"
#include "ui/page.hpp"
#include "ui/prometheus.hpp"

namespace sluice::detail::ui {

namespace {

std::string user_name() {
  if (auto* pw = ::getpwuid(::geteuid()); pw && pw->pw_name)
    return pw->pw_name;
  return std::to_string(::geteuid());
}

/// Compares without stopping at the first difference: the time a wrong
/// token takes says nothing about the right one (only about its length).
bool same_token(const std::string& given, const std::string& token) {
  if (given.size() != token.size())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  return diff == 0;
}

std::string reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 500: return "Internal Server Error";
    default: return "HTTP status " + std::to_string(status);
  }
}

/// SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
/// two contexts bind the same port instead of the second moving on.
void socket_options(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

void json_reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

/// Reads a whole file; empty when it cannot.
std::string read_file(const char* path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return in ? out.str() : std::string{};
}

} // namespace

std::unique_ptr<web_ui> web_ui::start(const sluice::conf& c, duration batch) {
  if (!c.get_bool("sluice.ui.enabled", true))
    return nullptr;
  auto host = c.get("sluice.ui.host").value_or("127.0.0.1");
  auto base = c.get_int("sluice.ui.port", 4040);
  auto retries = c.get_int("sluice.port.maxRetries", 16);
  std::unique_ptr<web_ui> ui{new web_ui};
  ui->stats_ = std::make_shared<statistics>(
    batch.count(), static_cast<size_t>(c.get_int("sluice.streaming.ui.retainedBatches", 1000)));
  ui->app_.start_ms = now_us() / 1000;
  ui->app_.id = "local-" + std::to_string(ui->app_.start_ms);
  ui->app_.name = c.app_name();
  ui->app_.user = user_name();
  ui->server_ = std::make_unique<httplib::Server>();
  auto& svr = *ui->server_;
  svr.set_socket_options(socket_options);
  int port = -1;
  if (base == 0) {
    port = svr.bind_to_any_port(host);
  } else {
    for (int64_t p = base; p <= std::min<int64_t>(base + retries, 65535); ++p)
      if (svr.bind_to_port(host, static_cast<int>(p))) {
        port = static_cast<int>(p);
        break;
      }
  }
  if (port <= 0)
    throw illegal_state("cannot start the web UI: no port free on " + host + " from "
                        + std::to_string(base) + " to "
                        + std::to_string(std::min<int64_t>(base + retries, 65535))
                        + " (sluice.ui.port=" + std::to_string(base)
                        + ", sluice.port.maxRetries=" + std::to_string(retries)
                        + "); choose another port, 0 for any free one, or set "
                          "sluice.ui.enabled=false");
  ui->routes(c.get("sluice.ui.token").value_or(""));
  // A few workers: idle keep-alive connections hold one each, briefly.
  // stop() waits for the workers, so a client that sends half a request
  // delays the context's stop by at most the read timeout.
  svr.new_task_queue = [] { return new httplib::ThreadPool(8); };
  svr.set_keep_alive_timeout(1);
  svr.set_read_timeout(1);
  svr.set_payload_max_length(64 * 1024);
  ui->thread_ = std::thread{[&svr] { svr.listen_after_bind(); }};
  // stop() before the accept loop runs would be lost: wait for it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!svr.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  auto shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  ui->url_ = "http://" + shown + ":" + std::to_string(port);
  logger()->info("Bound the web UI to {}, and started at {}", host, ui->url_);
  return ui;
}

web_ui::~web_ui() { stop(); }

std::string web_ui::url() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return url_;
}

void web_ui::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (url_.empty())
      return;
    url_.clear();
  }
  server_->stop();
  if (thread_.joinable())
    thread_.join();
}

void web_ui::routes(const std::string& token) {
  auto& svr = *server_;
  if (!token.empty())
    svr.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
      auto given = req.get_header_value("Authorization");
      if (given.rfind("Bearer ", 0) == 0 && same_token(given.substr(7), token))
        return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer realm=\"sluice\"");
      json_reply(res, 401,
                 error_body(401, "this UI needs the header Authorization: Bearer <token> with "
                                 "the token of sluice.ui.token"));
      return httplib::Server::HandlerResponse::Handled;
    });
  svr.Get(R"(/api(/.*)?)", [this](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::string> status;
    auto range = req.params.equal_range("status");
    for (auto i = range.first; i != range.second; ++i)
      status.push_back(i->second);
    // The live view and the graph need no batches.
    auto ends = [&](const std::string& tail) {
      return req.path.size() >= tail.size()
             && req.path.compare(req.path.size() - tail.size(), tail.size(), tail) == 0;
    };
    auto which = statistics::batches::all;
    if (ends("/streaming/actors") || ends("/streaming/operators"))
      which = statistics::batches::none;
    else if (ends("/streaming/statistics"))
      which = statistics::batches::times_only;  // averages of delays and inputs
    auto r = rest_api(stats_->snapshot(which), app_, req.path, status);
    json_reply(res, r.status, r.body);
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    // Of the batches, /metrics shows the newest completed one only.
    res.set_content(prometheus_text(stats_->snapshot(statistics::batches::newest), app_),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(streaming_page(), "text/html; charset=utf-8");
  });
  svr.Get("/static/chart.min.js", [](const httplib::Request&, httplib::Response& res) {
    auto js = read_file(chart_js_path);
    if (js.empty()) {
      json_reply(res, 404, error_body(404, std::string("Chart.js is not installed at ")
                                             + chart_js_path + " (Debian: libjs-chart.js)"));
      return;
    }
    res.set_content(js, "text/javascript");
  });
  // Whatever else fails (an unknown path, a malformed request) answers in
  // JSON too, unless a handler already wrote its body.
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty())
      json_reply(res, res.status, error_body(res.status, reason(res.status)));
  });
  svr.set_exception_handler(
    [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      json_reply(res, 500, error_body(500, what));
    });
}

} // namespace sluice::detail::ui
