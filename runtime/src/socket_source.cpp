#include "sluice/detail/socket_source.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace sluice::detail {

namespace {

constexpr std::chrono::milliseconds initial_backoff{100};
constexpr std::chrono::milliseconds max_backoff{2000};

int64_t wall_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

/// Drops one trailing '\r' (lines may end in "\r\n").
void strip_cr(std::string& line) {
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
}

std::string errno_text(int e) {
  char buf[256];
  // GNU strerror_r returns the message (possibly not in buf).
  return ::strerror_r(e, buf, sizeof(buf));
}

} // namespace

socket_source::socket_source(duration batch, std::string host, uint16_t port)
    : source_node<std::string>("socket_text_stream", batch), host_(std::move(host)),
      port_(port) {}

socket_source::~socket_source() {
  stop();
}

std::string socket_source::endpoint() const {
  bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

void socket_source::start(const source_env& env) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (started_ || stopping_)
    return;
  env_ = env;
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw error("socket_text_stream " + endpoint() + ": cannot create a wake pipe: "
                + errno_text(errno));
  started_ = true;
  report("started");
  thread_ = std::thread{[this] { run(); }};
}

void socket_source::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_)
      return;
    stopping_ = true;
    if (wake_[1] >= 0) {
      char c = 1;
      [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    }
    cv_.notify_all();
  }
  if (thread_.joinable())
    thread_.join();
  for (int& fd : wake_)
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  if (started_)
    report("stopped");
}

std::optional<parts> socket_source::generate(batch_time) {
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    lines.swap(buffer_);
  }
  parts out;
  if (!lines.empty())
    out.push_back({0, erase(std::move(lines))});
  return out;
}

bool socket_source::stopping() {
  std::lock_guard<std::mutex> guard{mtx_};
  return stopping_;
}

void socket_source::report(const std::string& what, const std::string& err) {
  if (!env_.report)
    return;
  receiver_info info;
  info.stream_id = id();
  info.name = "socket_text_stream(" + endpoint() + ")";
  info.active = what != "stopped";
  if (!err.empty()) {
    info.last_error = err;
    info.last_error_us = wall_us();
  }
  env_.report(what, info);
}

void socket_source::append(std::vector<std::string>&& lines) {
  if (lines.empty())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (buffer_.empty())
    buffer_ = std::move(lines);
  else
    std::move(lines.begin(), lines.end(), std::back_inserter(buffer_));
}

void socket_source::run() {
  auto delay = initial_backoff;
  while (!stopping()) {
    std::string err;
    int fd = connect_once(err);
    if (fd >= 0) {
      delay = initial_backoff; // a successful connection resets the backoff
      err = read_lines(fd);
      ::close(fd);
    }
    if (stopping())
      return;
    report("error", err);
    if (!backoff(delay))
      return;
    delay = std::min(delay * 2, max_backoff);
  }
}

bool socket_source::wait_ready(int fd, short events) {
  pollfd fds[2] = {{fd, events, 0}, {wake_[0], POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (fds[1].revents != 0 || stopping())
      return false;
    return true; // ready, or an error the caller's next call will see
  }
}

bool socket_source::backoff(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> guard{mtx_};
  return !cv_.wait_for(guard, d, [this] { return stopping_; });
}

int socket_source::connect_once(std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  auto port = std::to_string(port_);
  int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    err = "Error connecting to " + endpoint() + ": cannot resolve host: "
          + (rc == EAI_SYSTEM ? errno_text(errno) : std::string(::gai_strerror(rc)));
    return -1;
  }
  int last = ECONNREFUSED;
  int result = -1;
  for (auto* ai = res; ai != nullptr && result < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    int c = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (c != 0 && errno == EINPROGRESS) {
      if (!wait_ready(fd, POLLOUT)) {
        ::close(fd);
        break; // stopping
      }
      int so = 0;
      socklen_t len = sizeof(so);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
      c = so == 0 ? 0 : -1;
      errno = so;
    }
    if (c == 0) {
      result = fd;
    } else {
      last = errno;
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (result < 0)
    err = "Error connecting to " + endpoint() + ": " + errno_text(last);
  return result;
}

void socket_source::flush_partial(std::string& partial) {
  if (partial.empty())
    return;
  strip_cr(partial);
  append({std::move(partial)});
  partial.clear();
}

std::string socket_source::read_lines(int fd) {
  std::string partial;
  char buf[65536];
  for (;;) {
    if (!wait_ready(fd, POLLIN))
      return {};
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      int e = errno;
      flush_partial(partial);
      return "Lost connection to " + endpoint() + ": " + errno_text(e);
    }
    if (n == 0) {
      flush_partial(partial);
      return "Lost connection to " + endpoint()
             + ": socket data stream had no more data (end of stream)";
    }
    std::vector<std::string> lines;
    const char* p = buf;
    const char* end = buf + n;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      if (nl == nullptr) {
        partial.append(p, end);
        break;
      }
      partial.append(p, nl);
      strip_cr(partial);
      lines.push_back(std::move(partial));
      partial.clear();
      p = nl + 1;
    }
    append(std::move(lines));
  }
}

} // namespace sluice::detail
