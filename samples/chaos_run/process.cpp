// chaos_run's processes: the program under test and its workers.
#include "process.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace chaos_run {

void wait_gone(const std::vector<pid_t>& pids, std::chrono::seconds deadline) {
  wait_until(
    [&] {
      return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return ::kill(p, 0) == 0; });
    },
    deadline);
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d)
    return out;
  while (auto* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0)
      continue;
    std::ifstream stat{std::string("/proc/") + e->d_name + "/stat"};
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{line.substr(close + 2)};
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != 'Z')
      out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

program::program(std::vector<std::string> args, std::filesystem::path log)
    : args_(std::move(args)), log_(std::move(log)) {
  // nop
}

program::~program() {
  kill_all();
}

void program::start() {
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Dies with chaos_run, which may have died before this line.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
      ::_exit(126);
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args_)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror("chaos_run: exec");
    ::_exit(127);
  }
  ++starts_;
}

void program::kill_driver() {
  if (pid_ <= 0)
    return;
  auto workers = children_of(pid_);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status_, 0);
  pid_ = -1;
  wait_gone(workers, std::chrono::seconds(30));
}

void program::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  wait_until([&] { return exited(); }, std::chrono::seconds(30)); // reaps it
  kill_all(); // still running: SIGKILL, it and its workers
}

bool program::exited() {
  if (pid_ <= 0)
    return true;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

std::string program::how_it_ended() const {
  if (WIFEXITED(status_))
    return "exit status " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_))
    return "signal " + std::to_string(WTERMSIG(status_));
  return "wait status " + std::to_string(status_);
}

std::string program::last_log_line() const {
  std::ifstream in{log_};
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty())
      last = line;
  return last;
}

void program::kill_all() {
  if (pid_ <= 0)
    return;
  auto workers = children_of(pid_);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status_, 0);
  for (auto w : workers)
    ::kill(w, SIGKILL);
  pid_ = -1;
}

} // namespace chaos_run
