// chaos_run: runs a recoverable sluice program twice over the same seeded
// input, once undisturbed and once under a seeded schedule of real faults
// (--kinds, all by default: kill-driver, SIGKILL of the driver, which is
// then started again; stop-driver, SIGSTOP of the driver for a while;
// kill-worker and stop-worker, the same to a local-cluster worker; at
// local[N] these do nothing), and checks that
// the faulty run ends with the output the undisturbed one ended with.
//
// Usage: chaos_run [--seed S] [--faults N] [--files N] [--interval-ms MS]
//                  [--kinds K,...] [--settle-ms MS] [--timeout-s S] [--work DIR]
//                  -- <program> <args...>
//
// The program's arguments may hold {input}, {checkpoint} and {output}: each
// run gets its own directories for them under the work directory. chaos_run
// drops --files text files of seeded words into {input} (written as a
// dot-file and renamed), one per --interval-ms, once the program has written
// its first output file. The program's output is the newest file in
// {output} (by the number in its name, e.g. counts-<batch ms>.txt): the
// undisturbed run's is taken once it has not changed for --settle-ms after
// the last file; the faulty run passes when its newest output equals it
// within --timeout-s. The program is told to stop with SIGTERM.
//
// The seed (default: SLUICE_SIM_SEED, else the clock) and the fault plan are
// printed as one line each; the same seed gives the same input and plan (the
// moments are times from the first file, so a run is repeatable, not
// identical). Exit status: 0 equal, 1 different or timed out, 2 usage.
//
// Example: chaos_run --seed 7 -- build/samples/recoverable_file_word_count
//            --master 'local-cluster[2,1]' {input} {checkpoint} {output}
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

struct options {
  uint64_t seed = 0;
  int faults = 4;
  int files = 12;
  int interval_ms = 500;
  int settle_ms = 4000;
  int timeout_s = 120;
  std::string work;
  std::vector<std::string> kinds{"kill-driver", "stop-driver", "kill-worker", "stop-worker"};
  std::vector<std::string> command;
};

enum class fault_kind { kill_driver, stop_driver, kill_worker, stop_worker };

const char* name_of(fault_kind k) {
  switch (k) {
    case fault_kind::kill_driver: return "kill-driver";
    case fault_kind::stop_driver: return "stop-driver";
    case fault_kind::kill_worker: return "kill-worker";
    case fault_kind::stop_worker: return "stop-worker";
  }
  return "?";
}

struct fault {
  int after_file = 0;  ///< injected right after this many files were dropped
  fault_kind kind = fault_kind::kill_driver;
  int stop_ms = 0;     ///< SIGSTOP faults: how long before SIGCONT
};

std::string plan_text(const std::vector<fault>& plan) {
  std::ostringstream out;
  for (auto& f : plan) {
    out << name_of(f.kind) << '@' << f.after_file;
    if (f.stop_ms > 0)
      out << '/' << f.stop_ms << "ms";
    out << ' ';
  }
  auto s = out.str();
  return s.empty() ? "(none)" : s.substr(0, s.size() - 1);
}

fault_kind kind_named(const std::string& name) {
  for (auto k : {fault_kind::kill_driver, fault_kind::stop_driver, fault_kind::kill_worker,
                 fault_kind::stop_worker})
    if (name == name_of(k))
      return k;
  throw CLI::ValidationError("--kinds", "unknown fault kind '" + name
                                          + "', expected kill-driver, stop-driver, kill-worker "
                                            "or stop-worker");
}

std::vector<fault> make_plan(std::mt19937_64& rng, const options& o) {
  std::vector<fault_kind> kinds;
  for (auto& k : o.kinds)
    kinds.push_back(kind_named(k));
  std::vector<fault> plan;
  std::uniform_int_distribution<int> when(1, o.files);
  std::uniform_int_distribution<size_t> kind(0, kinds.size() - 1);
  std::uniform_int_distribution<int> stop(o.interval_ms, 4 * o.interval_ms);
  for (int i = 0; i < o.faults; ++i) {
    fault f{when(rng), kinds[kind(rng)], 0};
    if (f.kind == fault_kind::stop_driver || f.kind == fault_kind::stop_worker)
      f.stop_ms = stop(rng);
    plan.push_back(f);
  }
  std::stable_sort(plan.begin(), plan.end(),
                   [](const fault& a, const fault& b) { return a.after_file < b.after_file; });
  return plan;
}

std::vector<std::string> make_files(std::mt19937_64& rng, int n) {
  static const char* vocabulary[] = {"alpha", "beta", "gamma", "delta", "epsilon",
                                     "zeta",  "eta",  "theta", "iota",  "kappa"};
  std::uniform_int_distribution<int> word(0, 9), count(1, 30);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string text;
    for (int k = count(rng); k > 0; --k)
      text += std::string(vocabulary[word(rng)]) + (k % 8 == 1 ? "\n" : " ");
    out.push_back(text + "\n");
  }
  return out;
}

/// The live children of `parent` (local-cluster workers), from /proc.
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

template <class Pred>
bool wait_until(Pred pred, milliseconds deadline) {
  auto until = clock_type::now() + deadline;
  while (!pred()) {
    if (clock_type::now() >= until)
      return false;
    std::this_thread::sleep_for(milliseconds(20)); // polling files another process writes
  }
  return true;
}

/// The program of one run: started, stopped, killed, started again.
class program {
 public:
  program(std::vector<std::string> args, fs::path log) : args_(std::move(args)), log_(std::move(log)) {}
  ~program() { kill_all(); }

  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
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
  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }

  /// SIGKILL and reap (its local-cluster workers exit on their own: they lose the driver).
  void kill_driver() {
    if (pid_ <= 0)
      return;
    auto workers = children_of(pid_);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    wait_gone(workers, std::chrono::seconds(30));
  }
  /// SIGTERM (a graceful stop), then SIGKILL after 30 s.
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    wait_until([&] { return exited(); }, std::chrono::seconds(30)); // reaps it
    kill_all(); // still running: SIGKILL, it and its workers
  }
  bool exited() {
    if (pid_ <= 0)
      return true;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

 private:
  /// Not our children: no waitpid, only whether they still exist.
  static void wait_gone(const std::vector<pid_t>& pids, std::chrono::seconds deadline) {
    wait_until(
      [&] {
        return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return ::kill(p, 0) == 0; });
      },
      deadline);
  }
  void kill_all() {
    if (pid_ <= 0)
      return;
    auto workers = children_of(pid_);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    for (auto w : workers)
      ::kill(w, SIGKILL);
    pid_ = -1;
  }

  std::vector<std::string> args_;
  fs::path log_;
  pid_t pid_ = -1;
  int starts_ = 0;
};

/// The newest output file's text ("" when there is none): the greatest
/// number in a file name, dot-files (not yet renamed) left out.
std::string newest_output(const fs::path& dir) {
  long long best = -1;
  fs::path file;
  std::error_code ec;
  for (auto& e : fs::directory_iterator{dir, ec}) {
    auto name = e.path().filename().string();
    if (name.empty() || name[0] == '.')
      continue;
    auto digit = name.find_first_of("0123456789");
    if (digit == std::string::npos)
      continue;
    long long n = std::atoll(name.c_str() + digit);
    if (n > best) {
      best = n;
      file = e.path();
    }
  }
  if (best < 0)
    return {};
  std::ifstream in{file};
  return {std::istreambuf_iterator<char>{in}, {}};
}

bool has_output(const fs::path& dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator{dir, ec})
    if (e.path().filename().string()[0] != '.')
      return true;
  return false;
}

void drop_file(const fs::path& dir, int n, const std::string& text) {
  auto tmp = dir / (".part-" + std::to_string(n) + ".tmp");
  std::ofstream{tmp} << text;
  fs::rename(tmp, dir / ("part-" + std::to_string(n) + ".txt"));
}

struct run_dirs {
  fs::path input, checkpoint, output, log;
};

run_dirs make_dirs(const fs::path& work, const std::string& name) {
  run_dirs d{work / name / "input", work / name / "checkpoint", work / name / "output",
             work / name / "program.log"};
  fs::create_directories(d.input);
  fs::create_directories(d.output);
  return d;
}

std::vector<std::string> substitute(const std::vector<std::string>& command, const run_dirs& d) {
  std::vector<std::string> out;
  for (auto a : command) {
    for (auto [key, value] : {std::pair<std::string, std::string>{"{input}", d.input},
                              {"{checkpoint}", d.checkpoint},
                              {"{output}", d.output}})
      for (auto at = a.find(key); at != std::string::npos; at = a.find(key))
        a.replace(at, key.size(), value);
    out.push_back(a);
  }
  return out;
}

/// Restarts the driver if it died of anything but our SIGKILL (a worker's
/// loss the context could not survive ends it): the faulty run goes on.
void keep_alive(program& p) {
  if (p.exited())
    p.start();
}

void inject(program& p, const fault& f) {
  switch (f.kind) {
    case fault_kind::kill_driver:
      p.kill_driver();
      p.start();
      break;
    case fault_kind::stop_driver:
      ::kill(p.pid(), SIGSTOP);
      std::this_thread::sleep_for(milliseconds(f.stop_ms)); // the fault is the pause
      ::kill(p.pid(), SIGCONT);
      break;
    case fault_kind::kill_worker:
    case fault_kind::stop_worker: {
      auto workers = children_of(p.pid());
      if (workers.empty())
        break; // local[N]: no worker to hit
      auto w = workers[static_cast<size_t>(f.after_file) % workers.size()];
      if (f.kind == fault_kind::kill_worker) {
        ::kill(w, SIGKILL);
      } else {
        ::kill(w, SIGSTOP);
        std::this_thread::sleep_for(milliseconds(f.stop_ms));
        ::kill(w, SIGCONT);
      }
      break;
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  int split = 1;
  while (split < argc && std::string{argv[split]} != "--")
    ++split;
  options o;
  if (auto* s = std::getenv("SLUICE_SIM_SEED"))
    o.seed = std::strtoull(s, nullptr, 10);
  else
    o.seed = static_cast<uint64_t>(clock_type::now().time_since_epoch().count()) % 1000000;
  CLI::App app{"Runs a recoverable sluice program under seeded real faults and compares its "
               "output with an undisturbed run"};
  app.add_option("--seed", o.seed, "the seed of the input and the fault plan");
  app.add_option("--faults", o.faults, "faults to inject")->check(CLI::Range(0, 100));
  app.add_option("--files", o.files, "input files to drop")->check(CLI::Range(1, 10000));
  app.add_option("--interval-ms", o.interval_ms, "between two files")->check(CLI::Range(10, 60000));
  app.add_option("--settle-ms", o.settle_ms, "undisturbed run: output unchanged this long = done")
    ->check(CLI::Range(100, 600000));
  app.add_option("--timeout-s", o.timeout_s, "faulty run: time to reach the expected output")
    ->check(CLI::Range(1, 3600));
  app.add_option("--work", o.work, "work directory (default: a new one under the temp dir)");
  app.add_option("--kinds", o.kinds, "fault kinds to draw from")->delimiter(',');
  try {
    app.parse(split, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (int i = split + 1; i < argc; ++i)
    o.command.emplace_back(argv[i]);
  if (o.command.empty() || !fs::exists(o.command[0])) {
    std::cerr << "chaos_run: expected -- <program> <args...> naming an existing program, got '"
              << (o.command.empty() ? "" : o.command[0]) << "'\n";
    return 2;
  }
  fs::path work = o.work.empty()
                    ? fs::temp_directory_path() / ("chaos-run-" + std::to_string(::getpid()))
                    : fs::path{o.work};
  fs::create_directories(work);

  std::mt19937_64 rng{o.seed};
  auto files = make_files(rng, o.files);
  std::vector<fault> plan;
  try {
    plan = make_plan(rng, o);
  } catch (const CLI::ValidationError& e) {
    std::cerr << "chaos_run: " << e.what() << '\n';
    return 2;
  }
  std::cout << "seed " << o.seed << "\nplan " << plan_text(plan) << "\nwork " << work.string()
            << std::endl;

  // 1. Undisturbed.
  auto clean = make_dirs(work, "clean");
  std::string expected;
  {
    program p{substitute(o.command, clean), clean.log};
    p.start();
    if (!wait_until([&] { return has_output(clean.output) || p.exited(); },
                    std::chrono::seconds(o.timeout_s))
        || p.exited()) {
      std::cerr << "chaos_run: the undisturbed run wrote no output (see " << clean.log << ")\n";
      return 1;
    }
    for (int i = 0; i < o.files; ++i) {
      drop_file(clean.input, i, files[static_cast<size_t>(i)]);
      std::this_thread::sleep_for(milliseconds(o.interval_ms)); // the input's pace
    }
    auto last = newest_output(clean.output);
    auto since = clock_type::now();
    while (clock_type::now() - since < milliseconds(o.settle_ms)) {
      std::this_thread::sleep_for(milliseconds(50));
      if (auto now = newest_output(clean.output); now != last) {
        last = now;
        since = clock_type::now();
      }
    }
    expected = last;
    p.stop();
  }

  // 2. Under the plan.
  auto faulty = make_dirs(work, "faulty");
  program p{substitute(o.command, faulty), faulty.log};
  p.start();
  if (!wait_until([&] { return has_output(faulty.output); }, std::chrono::seconds(o.timeout_s))) {
    std::cerr << "chaos_run: the faulty run wrote no output (see " << faulty.log << ")\n";
    return 1;
  }
  size_t next = 0;
  for (int i = 0; i < o.files; ++i) {
    drop_file(faulty.input, i, files[static_cast<size_t>(i)]);
    for (; next < plan.size() && plan[next].after_file == i + 1; ++next) {
      keep_alive(p);
      inject(p, plan[next]);
      std::cout << "injected " << name_of(plan[next].kind) << " after file " << i + 1
                << std::endl;
    }
    std::this_thread::sleep_for(milliseconds(o.interval_ms));
    keep_alive(p);
  }
  bool equal = wait_until(
    [&] {
      keep_alive(p);
      return newest_output(faulty.output) == expected;
    },
    std::chrono::seconds(o.timeout_s));
  p.stop();
  std::cout << "driver starts " << p.starts() << "\n";
  if (!equal) {
    std::cout << "DIFFERENT: the faulty run's newest output is not the undisturbed run's\n"
              << "expected:\n" << expected << "got:\n" << newest_output(faulty.output)
              << "replay: chaos_run --seed " << o.seed << " --faults " << o.faults
              << " --files " << o.files << " --interval-ms " << o.interval_ms << " -- ...\n";
    return 1;
  }
  std::cout << "EQUAL: the faulty run ends with the undisturbed run's output\n";
  if (o.work.empty())
    fs::remove_all(work);
  return 0;
}
