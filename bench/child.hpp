// A benchmark's run in a process of its own: its RSS growth and peak are its
// own, no heap or threads are left over from an earlier run, and a driver
// that serves one context a process (local-cluster) gets a fresh process.
// Plain C++ and POSIX, no sluice headers.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

namespace detail {

/// Everything readable from `fd` until end of file; `on_chunk(data, n)` sees
/// every chunk as it comes.
template <class OnChunk>
std::string read_all(int fd, OnChunk&& on_chunk) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    on_chunk(buf, static_cast<size_t>(n));
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

inline void write_all(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    done += static_cast<size_t>(n);
  }
}

/// Waits for `pid`; true when it exited with status 0.
inline bool exited_ok(pid_t pid, int* code) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline void make_pipe(int fds[2]) {
  if (::pipe(fds) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
}

inline pid_t checked_fork() {
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
  return pid;
}

} // namespace detail

/// Runs `f` (returning std::string) in a forked copy of this process and
/// returns what it returned; the child's standard output is this process's.
/// Throws, with the child's message, when `f` throws or the child ends other
/// than by returning. Fork only while this process runs one thread (before
/// any actor system exists): the child is a copy of the calling thread alone.
template <class F>
std::string in_child(F&& f) {
  int fds[2];
  detail::make_pipe(fds);
  pid_t pid = detail::checked_fork();
  if (pid == 0) {
    ::close(fds[0]);
    int status = 0;
    std::string out;
    try {
      out = f();
    } catch (const std::exception& e) {
      out = e.what();
      status = 1;
    }
    detail::write_all(fds[1], out);
    ::close(fds[1]);
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(status);
  }
  ::close(fds[1]);
  auto in = detail::read_all(fds[0], [](const char*, size_t) {});
  ::close(fds[0]);
  int code = 0;
  if (!detail::exited_ok(pid, &code))
    throw std::runtime_error("the measuring child process failed (status "
                             + std::to_string(code)
                             + "): " + (in.empty() ? std::string{"no message"} : in));
  return in;
}

/// Runs this program's own executable again with `args` (argv[0] first) and
/// returns its standard output, echoing each line of it, after `prefix`, as it
/// comes; its standard error is this process's. Throws when it cannot start or
/// ends other than with status 0. Safe with threads running (fork + exec).
inline std::string run_self(const std::vector<std::string>& args, const std::string& prefix) {
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  detail::make_pipe(fds);
  pid_t pid = detail::checked_fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[1]);
    ::execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "error: cannot run /proc/self/exe: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string line;
  auto out = detail::read_all(fds[0], [&](const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      line += data[i];
      if (data[i] == '\n') {
        std::printf("%s%s", prefix.c_str(), line.c_str());
        line.clear();
      }
    }
    std::fflush(stdout);
  });
  if (!line.empty())
    std::printf("%s%s\n", prefix.c_str(), line.c_str());
  ::close(fds[0]);
  int code = 0;
  if (!detail::exited_ok(pid, &code))
    throw std::runtime_error("a run in a process of its own (" + args.front()
                             + ") failed with status " + std::to_string(code));
  return out;
}

} // namespace bench
