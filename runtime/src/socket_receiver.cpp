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

/// Cuts a byte stream into lines of at most `max` bytes. Over-long lines
/// are not kept: once a line passes `max`, what it held is freed and only
/// its length is counted until its '\n'.
class line_splitter {
 public:
  explicit line_splitter(size_t max) : max_(max) {}

  /// Hands every line completed by [p, end) (without '\n' and a trailing
  /// '\r') to on_line(std::string&&) and the length of every over-long one
  /// to on_dropped(uint64_t), in stream order; returns false as soon as a
  /// callback does.
  template <class OnLine, class OnDropped>
  bool feed(const char* p, const char* end, OnLine on_line, OnDropped on_dropped) {
    while (p < end) {
      auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      auto seg = static_cast<size_t>((nl != nullptr ? nl : end) - p);
      if (dropping_ > 0) {
        dropping_ += seg;
      } else if (partial_.size() + seg > max_) {
        dropping_ = partial_.size() + seg;
        std::string{}.swap(partial_); // give the memory back now
      } else {
        partial_.append(p, seg);
      }
      if (nl == nullptr)
        return true;
      p = nl + 1;
      if (dropping_ > 0) {
        if (!on_dropped(std::exchange(dropping_, 0)))
          return false;
        continue;
      }
      strip_cr(partial_);
      if (!on_line(std::exchange(partial_, {})))
        return false;
    }
    return true;
  }

  /// At the end of the stream: the unterminated last line, if any, as feed
  /// would hand it on.
  template <class OnLine, class OnDropped>
  void finish(OnLine on_line, OnDropped on_dropped) {
    if (dropping_ > 0) {
      on_dropped(std::exchange(dropping_, 0));
    } else if (!partial_.empty()) {
      strip_cr(partial_);
      on_line(std::exchange(partial_, {}));
    }
  }

 private:
  size_t max_;
  std::string partial_;    ///< the line so far, while within max_
  uint64_t dropping_ = 0;  ///< bytes of the over-long line so far (0: none)
};

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

void socket_receiver::report_too_long(uint64_t bytes, bool at_end) {
  report_error("socket_text_stream " + endpoint() + ": dropped a line of " + std::to_string(bytes)
               + " bytes" + (at_end ? " (cut by the end of the connection)" : "")
               + ", over the limit of " + std::to_string(max_line_bytes_)
               + " bytes (sluice.streaming.socket.maxLineBytes); receiving goes on with the "
                 "next line");
}

std::string socket_receiver::read_lines(int fd) {
  if (reliable_)
    return read_chunks(fd);
  line_splitter lines{max_line_bytes_};
  auto store_line = [&](std::string&& line) {
    store(std::move(line));
    return true;
  };
  auto dropped = [&](bool at_end) {
    return [this, at_end](uint64_t bytes) {
      report_too_long(bytes, at_end);
      return true;
    };
  };
  char buf[65536];
  for (;;) {
    if (!wait_ready(fd, POLLIN))
      return {};
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      int e = errno;
      lines.finish(store_line, dropped(true));
      return "Lost connection to " + endpoint() + ": " + errno_text(e);
    }
    if (n == 0) {
      lines.finish(store_line, dropped(true));
      return "Lost connection to " + endpoint()
             + ": socket data stream had no more data (end of stream)";
    }
    lines.feed(buf, buf + n, store_line, dropped(false));
  }
}

std::string socket_receiver::read_chunks(int fd) {
  line_splitter splitter{max_line_bytes_};
  std::vector<std::string> lines;
  int64_t dropped = 0;  // over-long lines since the last flush
  int64_t done = 0;     // lines stored or dropped on this connection: what "ack <n>" reports
  int64_t acked = 0;
  bool stop = false;
  // Stores `lines` (returns only once they are in the WAL), then acks them
  // and the dropped lines among them: the ack counts every line the sender
  // need not send again.
  auto flush = [&]() -> std::string {
    auto n = static_cast<int64_t>(lines.size());
    if (n > 0)
      store(std::exchange(lines, {}));
    done += n + std::exchange(dropped, 0);
    if (!acknowledge_ || done == acked)
      return {};
    acked = done;
    return send_ack(fd, done, stop);
  };
  auto keep = [&](std::string&& line) {
    lines.push_back(std::move(line));
    return true;
  };
  auto drop = [&](bool at_end) {
    return [&, at_end](uint64_t bytes) {
      report_too_long(bytes, at_end);
      ++dropped;
      return true;
    };
  };
  auto lost = [&](std::string cause) {
    splitter.finish(keep, drop(true));
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
    bool more = splitter.feed(buf, buf + n, [&](std::string&& line) {
      lines.push_back(std::move(line));
      if (lines.size() < max_chunk_lines)
        return true;
      err = flush();
      return err.empty() && !stop;
    }, drop(false));
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
