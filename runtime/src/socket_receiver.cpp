#include "sluice/detail/socket_receiver.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace sluice::detail {

namespace {

constexpr auto retry_delay = std::chrono::milliseconds{100};

/// Drops one trailing '\r' (lines may end in "\r\n").
void strip_cr(std::string& line) {
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
}

/// Appends [p, end) to `partial` and hands every completed line (without
/// '\n' and a trailing '\r') to on_line(std::string&&); returns false as
/// soon as on_line does.
template <class OnLine>
bool split_lines(const char* p, const char* end, std::string& partial, OnLine on_line) {
  while (p < end) {
    auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      partial.append(p, end);
      return true;
    }
    partial.append(p, nl);
    strip_cr(partial);
    p = nl + 1;
    if (!on_line(std::exchange(partial, {})))
      return false;
  }
  return true;
}

std::string errno_text(int e) {
  char buf[256];
  return ::strerror_r(e, buf, sizeof(buf)); // GNU: returns the message
}

} // namespace

socket_receiver::~socket_receiver() {
  if (thread_.joinable()) {
    stopping_ = true;
    if (wake_[1] >= 0)
      [[maybe_unused]] auto n = ::write(wake_[1], "x", 1);
    thread_.join();
  }
  close_pipe();
}

std::string socket_receiver::endpoint() const {
  bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

void socket_receiver::on_start() {
  stopping_ = false;
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw error("socket_text_stream " + endpoint() + ": cannot create a wake pipe: "
                + errno_text(errno));
  thread_ = std::thread{[this] { run(); }};
}

void socket_receiver::on_stop() {
  stopping_ = true;
  if (wake_[1] >= 0)
    [[maybe_unused]] auto n = ::write(wake_[1], "x", 1);
  if (thread_.joinable())
    thread_.join();
  close_pipe();
}

void socket_receiver::close_pipe() {
  for (auto& fd : wake_)
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
}

void socket_receiver::run() {
  std::string err;
  int fd = connect_once(err);
  if (fd >= 0) {
    try {
      err = read_lines(fd);
    } catch (const std::exception& e) { // e.g. an injected fault at receiver.store
      err = "socket_text_stream " + endpoint() + ": " + e.what();
    }
    ::close(fd);
  }
  if (!stopping_)
    restart(err, retry_delay); // the supervisor backs off and starts us again
}

bool socket_receiver::wait_ready(int fd, short events) {
  pollfd fds[2] = {{fd, events, 0}, {wake_[0], POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR)
      continue;
    return fds[1].revents == 0 && !stopping_;
  }
}

int socket_receiver::connect_once(std::string& err) {
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

std::string socket_receiver::read_lines(int fd) {
  if (reliable_)
    return read_chunks(fd);
  std::string partial;
  char buf[65536];
  auto flush_partial = [&] {
    if (partial.empty())
      return;
    strip_cr(partial);
    store(std::move(partial));
    partial.clear();
  };
  for (;;) {
    if (!wait_ready(fd, POLLIN))
      return {};
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      int e = errno;
      flush_partial();
      return "Lost connection to " + endpoint() + ": " + errno_text(e);
    }
    if (n == 0) {
      flush_partial();
      return "Lost connection to " + endpoint()
             + ": socket data stream had no more data (end of stream)";
    }
    split_lines(buf, buf + n, partial, [&](std::string&& line) {
      store(std::move(line));
      return true;
    });
  }
}

std::string socket_receiver::read_chunks(int fd) {
  std::string partial;
  std::vector<std::string> lines;
  int64_t stored = 0; // lines stored on this connection: what "ack <n>" reports
  bool stop = false;
  // Stores `lines` (returns only once they are in the WAL), then acks them.
  auto flush = [&]() -> std::string {
    if (lines.empty())
      return {};
    auto n = static_cast<int64_t>(lines.size());
    store(std::exchange(lines, {}));
    stored += n;
    return acknowledge_ ? send_ack(fd, stored, stop) : std::string{};
  };
  auto lost = [&](std::string cause) {
    if (!partial.empty()) {
      strip_cr(partial);
      lines.push_back(std::move(partial));
    }
    flush(); // the peer may be gone: the last ack is best effort
    return stop ? std::string{} : "Lost connection to " + endpoint() + ": " + cause;
  };
  char buf[65536];
  for (;;) {
    if (!wait_ready(fd, POLLIN))
      return {};
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      return lost(errno_text(errno));
    }
    if (n == 0)
      return lost("socket data stream had no more data (end of stream)");
    std::string err;
    bool more = split_lines(buf, buf + n, partial, [&](std::string&& line) {
      lines.push_back(std::move(line));
      if (lines.size() < max_chunk_lines)
        return true;
      err = flush();
      return err.empty() && !stop;
    });
    if (!more)
      return err;
    err = flush();
    if (!err.empty() || stop)
      return err;
  }
}

std::string socket_receiver::send_ack(int fd, int64_t n, bool& stop) {
  auto text = "ack " + std::to_string(n) + "\n";
  size_t off = 0;
  while (off < text.size()) {
    ssize_t w = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (w >= 0) {
      off += static_cast<size_t>(w);
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return "Lost connection to " + endpoint() + ": cannot send \"ack " + std::to_string(n)
             + "\": " + errno_text(errno);
    if (!wait_ready(fd, POLLOUT)) { // stopping while the send buffer is full
      stop = true;
      return {};
    }
  }
  return {};
}

} // namespace sluice::detail
