// The web UI's server: on by default, off on request, port fallback, the
// bearer token, malformed and concurrent requests, stopped with the context.
#define BOOST_TEST_MODULE ui_server
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <poll.h>
#include <thread>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/stream_io.hpp"
#include "fixtures/ui_client.hpp"
#include "sluice/checkpoint_store.hpp"

using namespace sluice;
using fixtures::batch_counter;
using fixtures::http_get;
using json = nlohmann::json;

namespace {

conf ui_conf(const std::string& port = "0") {
  auto c = fixtures::manual_conf();
  c.set("sluice.ui.port", port);
  return c;
}

int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

/// Sends `request` as raw bytes and returns the server's status line and
/// headers (what came within 10 s); with `hang_up`, closes at once.
std::string raw_exchange(int port, const std::string& request, bool hang_up = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to port " + std::to_string(port) + " failed");
  }
  fixtures::tcp_server::send_all(fd, request);
  std::string out;
  if (hang_up) {
    ::close(fd);
    return out;
  }
  char buf[4096];
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0)
      continue;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    if (out.find("\r\n\r\n") != std::string::npos)
      break;  // the status line and the headers: enough
  }
  ::close(fd);
  return out;
}

template <class T>
void run_batches(streaming_context& ssc, batch_counter& counter, int from, int to) {
  for (int i = from; i <= to; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter.wait_for(i);
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(the_ui_serves_by_default_and_not_when_disabled) {
  {
    streaming_context ssc{ui_conf(), seconds(1)};
    ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
    ssc.start();
    auto url = ssc.ui_url();
    BOOST_TEST(http_get(url, "/api/v1/applications").status == 200);
    BOOST_TEST(http_get(url, "/").content_type == "text/html; charset=utf-8");
    ssc.stop();
    BOOST_TEST(ssc.ui_url() == "");
    // Stopped with the context: nothing answers there any more.
    BOOST_CHECK_THROW(http_get(url, "/api/v1/applications"), std::runtime_error);
  }
  auto c = ui_conf();
  c.set("sluice.ui.enabled", "false");
  streaming_context ssc{c, seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_TEST(ssc.ui_url() == "");
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(a_taken_port_moves_the_ui_to_a_later_one) {
  fixtures::tcp_server taken;  // listening on 127.0.0.1:<taken.port()>
  streaming_context ssc{ui_conf(std::to_string(taken.port())), seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto url = ssc.ui_url();
  int port = port_of(url);
  BOOST_TEST(url == "http://127.0.0.1:" + std::to_string(port));
  BOOST_TEST(port > taken.port());
  BOOST_TEST(port <= taken.port() + 16);
  BOOST_TEST(http_get(url, "/api/v1/applications").status == 200);
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(without_retries_a_taken_port_fails_start_naming_it) {
  fixtures::tcp_server taken;
  auto p = std::to_string(taken.port());
  auto c = ui_conf(p);
  c.set("sluice.port.maxRetries", "0");
  streaming_context ssc{c, seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  BOOST_CHECK_EXCEPTION(ssc.start(), illegal_state, [&](const illegal_state& e) {
    BOOST_TEST(std::string(e.what())
               == "cannot start the web UI: no port free on 127.0.0.1 from " + p + " to "
                    + p + " (sluice.ui.port=" + p
                    + ", sluice.port.maxRetries=0); choose another port, 0 for any free one, "
                      "or set sluice.ui.enabled=false");
    return true;
  });
  BOOST_TEST(ssc.ui_url() == "");
}

BOOST_AUTO_TEST_CASE(with_a_token_every_request_needs_it_as_a_bearer) {
  auto c = ui_conf();
  c.set("sluice.ui.token", "s3cret");
  streaming_context ssc{c, seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto url = ssc.ui_url();
  json refused{{"status", 401},
               {"message", "this UI needs the header Authorization: Bearer <token> with the "
                           "token of sluice.ui.token"}};
  for (auto path : {"/api/v1/applications", "/metrics", "/", "/nowhere"}) {
    auto none = http_get(url, path);
    BOOST_TEST(none.status == 401, path);
    BOOST_TEST(none.json() == refused, path);
    auto wrong = http_get(url, path, {{"Authorization", "Bearer s3creT"}});
    BOOST_TEST(wrong.status == 401, path);
    auto basic = http_get(url, path, {{"Authorization", "Basic s3cret"}});
    BOOST_TEST(basic.status == 401, path);
  }
  BOOST_TEST(http_get(url, "/api/v1/applications", {{"Authorization", "Bearer s3cret"}}).status
             == 200);
  BOOST_TEST(http_get(url, "/metrics", {{"Authorization", "Bearer s3cret"}}).status == 200);
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(the_token_stays_out_of_the_checkpoint) {
  fixtures::temp_dir dir{"ui-token"};
  auto c = ui_conf();
  c.set("sluice.ui.token", "s3cret");
  {
    streaming_context ssc{c, seconds(1)};
    ssc.checkpoint(dir.str());
    auto counter = std::make_shared<batch_counter>();
    ssc.add_listener(counter);
    ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
    ssc.start();
    run_batches<int>(ssc, *counter, 1, 1);
    ssc.stop();
  }
  auto m = checkpoint_store::open(dir.str())->latest_metadata();
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->batch_time_ms == 1000);
  BOOST_TEST(m->conf.at("sluice.ui.port") == "0");
  BOOST_TEST(m->conf.count("sluice.ui.token") == 0u);
}

BOOST_AUTO_TEST_CASE(the_ui_conf_keys_are_checked) {
  auto refused = [](const std::string& key, const std::string& value, const std::string& expected) {
    conf c;
    BOOST_CHECK_EXCEPTION(c.set(key, value), sluice::invalid_argument,
                          [&](const sluice::invalid_argument& e) {
                            BOOST_TEST(std::string(e.what())
                                       == "invalid value '" + value + "' for " + key
                                            + ": expected " + expected);
                            return true;
                          });
  };
  refused("sluice.port.maxRetries", "-1", "an integer >= 0");
  refused("sluice.streaming.ui.retainedBatches", "many", "an integer >= 0");
  refused("sluice.ui.host", "", "a host name or address to bind, such as 127.0.0.1 or 0.0.0.0");
  refused("sluice.ui.port", "70000", "a port number from 0 to 65535");
  refused("sluice.ui.enabled", "yes", "true or false");
}

BOOST_AUTO_TEST_CASE(an_empty_token_is_refused) {
  conf c;
  BOOST_CHECK_EXCEPTION(c.set("sluice.ui.token", ""), sluice::invalid_argument,
                        [](const sluice::invalid_argument& e) {
                          BOOST_TEST(std::string(e.what())
                                     == "invalid value '' for sluice.ui.token: expected "
                                        "a non-empty token");
                          return true;
                        });
}

BOOST_AUTO_TEST_CASE(malformed_requests_get_an_error_and_the_context_runs_on) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  ssc.queue_stream<int>({{1}, {2}, {3}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto url = ssc.ui_url();
  int port = port_of(url);
  run_batches<int>(ssc, *counter, 1, 1);
  auto garbage = raw_exchange(port, "GARBAGE\r\n\r\n");
  BOOST_TEST(garbage.rfind("HTTP/1.1 400 Bad Request", 0) == 0u, garbage);
  auto long_uri = raw_exchange(port, "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n");
  BOOST_TEST(long_uri.rfind("HTTP/1.1 4", 0) == 0u, long_uri.substr(0, 100));
  auto binary = raw_exchange(port, std::string("\x00\xff\x13\x37\r\n\r\n", 8));
  BOOST_TEST(binary.rfind("HTTP/1.1 400", 0) == 0u, binary);
  // Half a request, then the client goes away.
  raw_exchange(port, "GET /api/v1/applications HTTP/1.1\r\nHost: x", true);
  auto post = raw_exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  BOOST_TEST(post.rfind("HTTP/1.1 404", 0) == 0u, post);
  run_batches<int>(ssc, *counter, 2, 3);
  auto p = "/api/v1/applications/"
           + http_get(url, "/api/v1/applications").json().at(0).at("id").get<std::string>();
  BOOST_TEST(http_get(url, p + "/streaming/statistics").json().at("numTotalCompletedBatches")
             == 3);
  // A client that sent half a request and waits holds up stop() for the
  // server's read timeout (1 s) at most.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  fixtures::tcp_server::send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x");
  auto before = std::chrono::steady_clock::now();
  ssc.stop();
  auto took = std::chrono::steady_clock::now() - before;
  ::close(fd);
  BOOST_TEST(took < std::chrono::seconds(5),
             std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

BOOST_AUTO_TEST_CASE(concurrent_clients_get_consistent_answers_while_batches_run) {
  streaming_context ssc{ui_conf(), seconds(1)};
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(counter);
  std::vector<std::vector<int>> input(20, std::vector<int>{1, 2});
  ssc.queue_stream<int>(input).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto url = ssc.ui_url();
  auto p = "/api/v1/applications/"
           + http_get(url, "/api/v1/applications").json().at(0).at("id").get<std::string>()
           + "/streaming";
  std::atomic<bool> done{false};
  std::atomic<int> requests{0}, failures{0};
  std::mutex mtx;
  std::string first_failure;
  auto failed = [&](const std::string& why) {
    std::lock_guard<std::mutex> guard{mtx};
    if (failures++ == 0)
      first_failure = why;
  };
  std::vector<std::thread> clients;
  for (int k = 0; k < 4; ++k)
    clients.emplace_back([&, k] {
      while (!done) {
        try {
          auto path = k == 0 ? "/metrics" : k == 1 ? p + "/batches" : p + "/statistics";
          auto r = http_get(url, path);
          bool good = r.status == 200;
          if (k >= 2) {
            // A snapshot is consistent: the records are 2 per completed batch.
            auto s = r.json();
            good = good && s.at("numProcessedRecords").get<int64_t>()
                              == 2 * s.at("numTotalCompletedBatches").get<int64_t>();
          } else if (k != 0) {
            good = good && r.json().is_array();
          }
          if (!good)
            failed(path + ": " + std::to_string(r.status) + " " + r.body);
        } catch (const std::exception& e) {
          failed(e.what());
        }
        ++requests;
      }
    });
  run_batches<int>(ssc, *counter, 1, 20);
  // Every client got a few answers in while the batches ran.
  BOOST_TEST(fixtures::eventually([&] { return requests.load() >= 40; }, std::chrono::seconds(20)));
  done = true;
  for (auto& t : clients)
    t.join();
  BOOST_TEST(failures.load() == 0, first_failure);
  auto stats = http_get(url, p + "/statistics").json();
  BOOST_TEST(stats.at("numTotalCompletedBatches") == 20);
  BOOST_TEST(stats.at("numProcessedRecords") == 40);
  ssc.stop();
}
