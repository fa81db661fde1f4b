// Spark's CustomReceiver: a user-written receiver that reads lines of text
// from a TCP server on a thread of its own, and a word count over them,
// every second.
//
//   custom_receiver [--master M] <host> <port>
//
// --master is the master URL (default local[2]), as spark-submit's.
//
// Try it with a server such as `nc -lk 9999`, then type lines into it. When
// the server goes away the receiver asks to be restarted; the engine starts
// it again after a delay that grows with consecutive restarts.
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <sluice/sluice.hpp>

namespace {

int usage(const char* what) {
  if (what != nullptr)
    std::cerr << "custom_receiver: " << what << "\n";
  std::cerr << "Usage: custom_receiver [--master M] <host> <port>\n"
               "  <host> and <port> describe the TCP server that the custom receiver\n"
               "  connects to to receive lines of text, e.g. localhost 9999\n"
               "  --master M is the master URL (default local[2])\n";
  return 2;
}

/// Parses a TCP port (1..65535); returns 0 if `s` is not one.
uint16_t parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  long v = std::stol(s);
  return v >= 1 && v <= 65535 ? static_cast<uint16_t>(v) : 0;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> words;
  size_t start = 0;
  for (;;) {
    auto end = line.find(' ', start);
    words.push_back(line.substr(start, end - start));
    if (end == std::string::npos)
      return words;
    start = end + 1;
  }
}

/// Connects to host:port; returns the socket, or -1 with `err` set.
int connect_to(const std::string& host, uint16_t port, std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    err = ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      err = std::strerror(errno);
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    err = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  return fd;
}

/// Receives lines of text from a TCP server, as Spark's CustomReceiver
/// example: on_start starts a thread that connects and stores every line;
/// when the connection fails or the server closes it, the receiver asks
/// the engine to restart it.
class line_receiver : public sluice::receiver<std::string> {
 public:
  line_receiver(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}

  // The engine keeps its own copy; a receiver that has not started has
  // no thread or socket to carry over.
  line_receiver(const line_receiver& o)
      : sluice::receiver<std::string>(o), host_(o.host_), port_(o.port_) {}

  void on_start() override {
    // Must not block: connecting and reading happen on a thread of our own.
    if (thread_.joinable()) // left over from a run that ended on its own
      thread_.join();
    thread_ = std::thread{[this] { receive(); }};
  }

  void on_stop() override {
    // is_stopped() is true by now; unblock a recv() in progress, then wait.
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (fd_ >= 0)
        ::shutdown(fd_, SHUT_RDWR);
    }
    if (thread_.joinable())
      thread_.join();
  }

 private:
  void receive() {
    std::string where = host_ + ":" + std::to_string(port_);
    std::string err;
    int fd = connect_to(host_, port_, err);
    if (fd < 0) {
      restart("Error connecting to " + where + ": " + err);
      return;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      fd_ = fd;
    }
    std::cerr << "custom_receiver: connected to " << where << "\n";
    std::string pending;
    char buf[4096];
    try {
      while (!is_stopped()) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
          break; // end of stream, an error, or on_stop's shutdown
        pending.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (auto nl = pending.find('\n'); nl != std::string::npos;
             nl = pending.find('\n', start)) {
          size_t end = nl > start && pending[nl - 1] == '\r' ? nl - 1 : nl;
          store(pending.substr(start, end - start));
          start = nl + 1;
        }
        pending.erase(0, start);
      }
    } catch (const std::exception& e) {
      report_error(std::string{"Error receiving data: "} + e.what());
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      fd_ = -1;
      ::close(fd);
    }
    if (!is_stopped())
      restart("Trying to connect again");
  }

  std::string host_;
  uint16_t port_;
  std::thread thread_;
  std::mutex mtx_;
  int fd_ = -1; ///< guarded by mtx_
};

/// Shows the receiver's restarts (their reasons) on stderr.
class receiver_log : public sluice::streaming_listener {
 public:
  void on_receiver_error(const sluice::receiver_info& r) override {
    std::cerr << "custom_receiver: " << r.name << ": " << r.last_error << "\n";
  }
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Spark's CustomReceiver: word counts of the lines a user-written receiver reads "
               "from a TCP server"};
  std::string master = "local[2]";
  std::vector<std::string> args;
  app.add_option("--master", master,
                 "master URL: local[N], local-cluster[W,C] or sluice://HOST:PORT")
    ->capture_default_str();
  app.add_option("args", args, "<host> <port>");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { // --help exits 0 with CLI11's help
    return e.get_exit_code() == 0 ? app.exit(e) : usage(e.what());
  }
  if (args.size() != 2)
    return usage(nullptr);
  std::string host = args[0];
  uint16_t port = parse_port(args[1]);
  if (host.empty())
    return usage("the host must not be empty");
  if (port == 0)
    return usage("the port must be a number in 1..65535");
  try {
    sluice::conf c;
    c.app_name("CustomReceiver").master(master); // a bad master throws, naming it
    sluice::streaming_context ssc{c, sluice::seconds(1)};
    auto lines = ssc.receiver_stream(line_receiver{host, port});
    auto words = lines.flat_map([](const std::string& l) { return split(l); });
    auto counts = words.map([](const std::string& w) { return std::pair<std::string, int>{w, 1}; })
                    .reduce_by_key([](int a, int b) { return a + b; });
    counts.print();
    ssc.add_listener(std::make_shared<receiver_log>());
    ssc.start();
    ssc.await_termination();
  } catch (const sluice::error& e) {
    std::cerr << "custom_receiver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
