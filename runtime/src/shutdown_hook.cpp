#include "shutdown_hook.hpp"

#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "context_impl.hpp"

namespace sluice::detail {

namespace {

std::mutex hook_mtx;
std::set<context_impl*> hooked; // guarded by hook_mtx
int hook_pipe[2] = {-1, -1};

extern "C" void on_shutdown_signal(int sig) {
  char c = static_cast<char>(sig);
  [[maybe_unused]] auto n = ::write(hook_pipe[1], &c, 1); // async-signal-safe
}

void watch() {
  for (;;) {
    char c = 0;
    auto n = ::read(hook_pipe[0], &c, 1);
    if (n < 0)
      continue; // EINTR
    if (n == 0)
      return;
    std::lock_guard<std::mutex> guard{hook_mtx};
    for (auto* ctx : hooked)
      ctx->request_graceful_stop();
  }
}

void install() {
  if (hook_pipe[0] >= 0)
    return;
  if (::pipe2(hook_pipe, O_CLOEXEC) != 0)
    throw error("stopGracefullyOnShutdown: cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = on_shutdown_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  std::thread{watch}.detach(); // process-wide, blocked in read() while idle
}

} // namespace

void register_shutdown_hook(context_impl* ctx) {
  std::lock_guard<std::mutex> guard{hook_mtx};
  install();
  hooked.insert(ctx);
}

void unregister_shutdown_hook(context_impl* ctx) {
  std::lock_guard<std::mutex> guard{hook_mtx};
  hooked.erase(ctx);
}

} // namespace sluice::detail
