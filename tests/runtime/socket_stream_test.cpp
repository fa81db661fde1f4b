#define BOOST_TEST_MODULE runtime/socket_stream
#include <boost/test/unit_test.hpp>

#include <exception>
#include <fstream>
#include <future>
#include <thread>

#include "fixtures/stream_io.hpp"

using namespace sluice;
using fixtures::tcp_server;
using strings = std::vector<std::string>;

namespace {

/// A server script run on its own thread; its exception (if any) is
/// rethrown by join(). `release` lets it close its connections.
class server_thread {
 public:
  template <class F>
  explicit server_thread(F f) {
    thread_ = std::thread{[this, f, done = release_.get_future().share()]() mutable {
      try {
        f(done);
      } catch (...) {
        error_ = std::current_exception();
      }
    }};
  }
  ~server_thread() { join(); }
  void join() {
    if (!thread_.joinable())
      return;
    release_.set_value();
    thread_.join();
    if (error_)
      std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  std::promise<void> release_;
  std::exception_ptr error_;
  std::thread thread_;
};

/// The process's peak resident set size (VmHWM) in KiB.
int64_t peak_rss_kib() {
  std::ifstream in{"/proc/self/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stoll(line.substr(6));
  throw std::runtime_error("no VmHWM in /proc/self/status");
}

/// Resets VmHWM to the current resident set size (Linux >= 4.0).
void reset_peak_rss() {
  std::ofstream out{"/proc/self/clear_refs"};
  out << "5";
  out.flush();
  if (!out)
    throw std::runtime_error("cannot reset VmHWM through /proc/self/clear_refs");
}

struct pipeline {
  streaming_context ssc;
  std::shared_ptr<fixtures::batch_counter> counter = std::make_shared<fixtures::batch_counter>();
  std::shared_ptr<fixtures::receiver_events> events = std::make_shared<fixtures::receiver_events>();
  fixtures::sink<std::string> out;
  int batches = 0;

  explicit pipeline(const std::string& host, uint16_t port, conf c = fixtures::manual_conf())
      : ssc(std::move(c), seconds(1)) {
    out.attach(ssc.socket_text_stream(host, port));
    ssc.add_listener(counter);
    ssc.add_listener(events);
  }
  void run_until(size_t n) { fixtures::advance_until(ssc, *counter, out, n, batches); }
  void finish() {
    ssc.stop();
    ssc.await_termination();
  }
};

strings numbered(const std::string& prefix, int from, int to) {
  strings v;
  for (int i = from; i < to; ++i)
    v.push_back(prefix + std::to_string(i));
  return v;
}

std::string as_lines(const strings& v) {
  std::string s;
  for (auto& x : v)
    s += x + "\n";
  return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(lines_sent_are_counted_exactly) {
  tcp_server server;
  auto expected = numbered("line-", 0, 1000);
  server_thread st{[&](std::shared_future<void> done) {
    int c = server.accept();
    // Sent in uneven chunks so lines straddle reads; one ends in "\r\n".
    std::string data = as_lines(expected);
    data.replace(data.find("line-7\n"), 7, "line-7\r\n");
    for (size_t off = 0; off < data.size(); off += 777)
      tcp_server::send_all(c, data.substr(off, 777));
    done.wait(); // keeps the connection open: stop() must still be prompt
    ::close(c);
  }};
  pipeline p{"127.0.0.1", server.port()};
  p.ssc.start();
  p.run_until(expected.size());
  p.finish();
  st.join();
  BOOST_TEST(p.out.records() == expected, boost::test_tools::per_element());
  BOOST_TEST(p.events->started().size() == 1u);
  BOOST_TEST(p.events->stopped().size() == 1u);
  BOOST_TEST(p.events->errors().empty());
}

BOOST_AUTO_TEST_CASE(localhost_works_and_empty_intervals_give_empty_batches) {
  tcp_server server;
  server_thread st{[&](std::shared_future<void> done) {
    int c = server.accept();
    tcp_server::send_all(c, "hello\n");
    done.wait();
    ::close(c);
  }};
  pipeline p{"localhost", server.port()}; // may resolve to ::1 first, then 127.0.0.1
  p.ssc.start();
  p.run_until(1);
  int before = p.batches;
  for (int i = 1; i <= 3; ++i) {
    p.ssc.manual_clock().advance(seconds(1));
    p.counter->wait_for(before + i);
  }
  p.finish();
  st.join();
  BOOST_TEST(p.out.records() == strings{"hello"}, boost::test_tools::per_element());
  auto batches = p.out.batches();
  BOOST_REQUIRE(batches.size() == static_cast<size_t>(before + 3));
  for (size_t i = before; i < batches.size(); ++i) // an empty batch, not "no batch"
    BOOST_TEST(batches[i].empty());
  BOOST_TEST(p.events->errors().empty());
}

BOOST_AUTO_TEST_CASE(server_goes_away_and_comes_back) {
  tcp_server server;
  server_thread st{[&](std::shared_future<void> done) {
    int c = server.accept();
    tcp_server::send_all(c, "a\nb\nc"); // the partial last line at EOF counts
    ::close(c);
    c = server.accept(); // the receiver reconnects after its backoff
    tcp_server::send_all(c, "d\ne\n");
    done.wait();
    ::close(c);
  }};
  pipeline p{"127.0.0.1", server.port()};
  p.ssc.start();
  p.run_until(5);
  p.finish();
  st.join();
  BOOST_TEST(p.out.records() == (strings{"a", "b", "c", "d", "e"}),
             boost::test_tools::per_element());
  auto errors = p.events->errors();
  BOOST_REQUIRE(!errors.empty());
  BOOST_TEST(errors[0].last_error.find(std::to_string(server.port())) != std::string::npos,
             errors[0].last_error);
  BOOST_TEST(errors[0].last_error_us > 0);
  BOOST_TEST(errors[0].name.find("socket_text_stream") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(connection_refused_then_server_appears) {
  tcp_server server{false}; // bound, not listening: connections are refused
  pipeline p{"127.0.0.1", server.port()};
  p.ssc.start();
  // Refused at least twice: the receiver keeps retrying with backoff.
  BOOST_REQUIRE(p.events->wait_errors(2));
  auto first = p.events->errors()[0].last_error;
  BOOST_TEST(first.find("127.0.0.1:" + std::to_string(server.port())) != std::string::npos, first);
  BOOST_TEST(first.find(std::strerror(ECONNREFUSED)) != std::string::npos, first);
  server.listen();
  server_thread st{[&](std::shared_future<void> done) {
    int c = server.accept();
    tcp_server::send_all(c, as_lines(numbered("x", 0, 10)));
    done.wait();
    ::close(c);
  }};
  p.run_until(10);
  p.finish();
  st.join();
  BOOST_TEST(p.out.records() == numbered("x", 0, 10), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stop_is_prompt_while_refused) {
  tcp_server server{false};
  pipeline p{"127.0.0.1", server.port()};
  p.ssc.start();
  BOOST_REQUIRE(p.events->wait_errors(1));
  p.finish(); // returns although the receiver is backing off
  BOOST_TEST(p.events->stopped().size() == 1u);
}

BOOST_AUTO_TEST_CASE(invalid_arguments_throw) {
  streaming_context ssc{fixtures::manual_conf(), seconds(1)};
  BOOST_CHECK_EXCEPTION(ssc.socket_text_stream("localhost", 0), sluice::invalid_argument,
                        [](const sluice::invalid_argument& e) {
                          return std::string(e.what()).find("0") != std::string::npos
                                 && std::string(e.what()).find("port") != std::string::npos;
                        });
  BOOST_CHECK_THROW(ssc.socket_text_stream("", 9999), sluice::invalid_argument);
}

// A peer that sends a line without end must not make the receiver buffer it:
// the line is dropped once past sluice.streaming.socket.maxLineBytes (1 MiB
// by default), reported, and the lines around it arrive as sent.
BOOST_AUTO_TEST_CASE(an_over_long_line_is_dropped_and_reported_with_memory_bounded) {
  constexpr size_t long_bytes = 64u << 20;
  tcp_server server;
  auto before = numbered("before-", 0, 100);
  auto after = numbered("after-", 0, 100);
  std::promise<int64_t> peak_growth_kib;
  server_thread st{[&](std::shared_future<void> done) {
    int c = server.accept();
    tcp_server::send_all(c, as_lines(before));
    reset_peak_rss();
    int64_t base = peak_rss_kib();
    std::string piece(64 * 1024, 'x'); // the line is never whole in this process either
    for (size_t sent = 0; sent < long_bytes; sent += piece.size())
      tcp_server::send_all(c, piece);
    tcp_server::send_all(c, "\n" + as_lines(after));
    done.wait();
    peak_growth_kib.set_value(peak_rss_kib() - base);
    ::close(c);
  }};
  pipeline p{"127.0.0.1", server.port()};
  p.ssc.start();
  p.run_until(before.size() + after.size());
  p.finish();
  st.join();
  auto expected = before;
  expected.insert(expected.end(), after.begin(), after.end());
  BOOST_TEST(p.out.records() == expected, boost::test_tools::per_element());
  auto errors = p.events->errors();
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].last_error
             == "socket_text_stream 127.0.0.1:" + std::to_string(server.port())
                  + ": dropped a line of 67108864 bytes, over the limit of 1048576 bytes "
                    "(sluice.streaming.socket.maxLineBytes); receiving goes on with the next "
                    "line");
  BOOST_TEST(errors[0].name == "socket_text_stream 127.0.0.1:" + std::to_string(server.port())
                                 + " 0");
  BOOST_TEST(p.events->stopped().size() == 1u); // dropped and went on: no restart
  BOOST_TEST(p.events->started().size() == 1u);
  // Buffering the line would take 64 MiB at least; the cap keeps it near 1 MiB.
  auto growth = peak_growth_kib.get_future().get();
  BOOST_TEST_MESSAGE("peak RSS grew by " << growth << " KiB while a 64 MiB line arrived");
  BOOST_TEST(growth < 32 * 1024, "peak RSS grew by " << growth << " KiB");
}

BOOST_AUTO_TEST_CASE(an_over_long_last_line_at_end_of_stream_is_reported_too) {
  tcp_server server;
  server_thread st{[&](std::shared_future<void> done) {
    int c = server.accept();
    tcp_server::send_all(c, "a\nbb\nccccc\nddd\neeee");
    ::close(c);
    done.wait();
  }};
  auto c = fixtures::manual_conf();
  c.set("sluice.streaming.socket.maxLineBytes", "3");
  pipeline p{"127.0.0.1", server.port(), c};
  p.ssc.start();
  BOOST_REQUIRE(p.events->wait_errors(3)); // two long lines, then the end of stream
  p.run_until(3);
  p.finish();
  st.join();
  BOOST_TEST(p.out.records() == (strings{"a", "bb", "ddd"}), boost::test_tools::per_element());
  auto errors = p.events->errors();
  BOOST_REQUIRE_GE(errors.size(), 3u);
  auto at = "socket_text_stream 127.0.0.1:" + std::to_string(server.port());
  BOOST_TEST(errors[0].last_error
             == at + ": dropped a line of 5 bytes, over the limit of 3 bytes "
                     "(sluice.streaming.socket.maxLineBytes); receiving goes on with the next "
                     "line");
  BOOST_TEST(errors[1].last_error
             == at + ": dropped a line of 4 bytes (cut by the end of the connection), over the "
                     "limit of 3 bytes (sluice.streaming.socket.maxLineBytes); receiving goes on "
                     "with the next line");
  BOOST_TEST(errors[2].last_error.rfind("Lost connection to 127.0.0.1:", 0) == 0u,
             errors[2].last_error);
}

BOOST_AUTO_TEST_CASE(max_line_bytes_is_a_checked_positive_integer) {
  conf c;
  BOOST_CHECK_EXCEPTION(c.set("sluice.streaming.socket.maxLineBytes", "0"),
                        sluice::invalid_argument, [](const sluice::invalid_argument& e) {
                          return std::string(e.what())
                                 == "invalid value '0' for sluice.streaming.socket.maxLineBytes: "
                                    "expected an integer >= 1";
                        });
  BOOST_CHECK_NO_THROW(c.set("sluice.streaming.socket.maxLineBytes", "1048576"));
}
