#include "worker_processes.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "sluice/error.hpp"

extern char** environ;

namespace sluice::detail {

namespace {

/// This process's arguments, as it was started.
std::vector<std::string> own_arguments() {
  std::ifstream in{"/proc/self/cmdline", std::ios::binary};
  std::vector<std::string> out;
  for (std::string arg; std::getline(in, arg, '\0');)
    out.push_back(arg);
  return out;
}

std::string describe(pid_t pid, int status) {
  if (WIFEXITED(status))
    return "pid " + std::to_string(pid) + " exited with status "
           + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "pid " + std::to_string(pid) + " was killed by signal "
           + std::to_string(WTERMSIG(status));
  return "pid " + std::to_string(pid) + " ended";
}

} // namespace

worker_processes::worker_processes(int count, int cores, const std::string& driver,
                                   int context)
    : args_(own_arguments()) {
  if (args_.empty())
    throw error("local-cluster: cannot read this program's arguments from /proc/self/cmdline");
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "SLUICE_WORKER", 13) != 0)
      env_.emplace_back(*e);
  env_.push_back("SLUICE_WORKER=" + driver);
  env_.push_back("SLUICE_WORKER_CORES=" + std::to_string(cores));
  env_.push_back("SLUICE_WORKER_CONTEXT=" + std::to_string(context));
  try {
    add(count);
  } catch (...) {
    end(std::chrono::milliseconds{0});
    throw;
  }
}

void worker_processes::add(int count) {
  std::vector<char*> argv;
  for (auto& a : args_)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  for (int i = 0; i < count; ++i) {
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), envp.data());
    if (rc != 0) {
      posix_spawn_file_actions_destroy(&actions);
      throw error("local-cluster: cannot start worker " + std::to_string(i + 1) + " of "
                  + std::to_string(count) + " (" + args_[0] + "): " + std::strerror(rc));
    }
    pids_.push_back(pid);
  }
  posix_spawn_file_actions_destroy(&actions);
}

worker_processes::~worker_processes() { end(std::chrono::seconds(5)); }

int worker_processes::end(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  int killed = 0;
  while (!pids_.empty()) {
    for (auto i = pids_.begin(); i != pids_.end();) {
      int status = 0;
      if (waitpid(*i, &status, WNOHANG) != 0)  // ended (or not our child any more)
        i = pids_.erase(i);
      else
        ++i;
    }
    if (pids_.empty())
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (auto pid : pids_) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        ++killed;
      }
      pids_.clear();
      break;
    }
    // A bounded wait for other processes: nothing here to wake us.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return killed;
}

std::vector<std::string> worker_processes::ended() {
  std::vector<std::string> out;
  for (auto i = pids_.begin(); i != pids_.end();) {
    int status = 0;
    if (waitpid(*i, &status, WNOHANG) == *i) {
      out.push_back(describe(*i, status));
      i = pids_.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

} // namespace sluice::detail
