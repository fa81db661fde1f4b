// chaos_run: runs a recoverable sluice program twice over the same seeded
// input, once undisturbed and once under a seeded schedule of real faults,
// and checks that the faulty run ends with the output the undisturbed one
// ended with. The kinds of fault (--kinds; the first four by default):
//   kill-driver  SIGKILL of the driver, which is then started again;
//   stop-driver  SIGSTOP of the driver for a while (1 to 4 --interval-ms);
//   kill-worker, stop-worker  the same to a local-cluster worker (at
//                local[N], where there is none, they do nothing);
//   full-disk    the disk that holds {checkpoint} full until the program
//                stops (at most --full-disk-s), then room again and the
//                program started again on its checkpoint. Needs root: the
//                faulty run's {checkpoint} is then a tmpfs of --disk-mib,
//                mounted in a mount namespace of chaos_run's own, so no
//                mount outlives chaos_run and its programs, and filled with
//                a filler file at the fault. Without root, asking for it is a
//                usage error (status 2). Not a default kind, so the default
//                plans need no root and a seed draws the plans it drew before.
//
// Usage: chaos_run [--seed S] [--faults N] [--files N] [--interval-ms MS]
//                  [--kinds K,...] [--settle-ms MS] [--timeout-s S] [--work DIR]
//                  [--disk-mib N] [--full-disk-s S] -- <program> <args...>
//
// The program's arguments may hold {input}, {checkpoint} and {output}: each
// run gets its own directories for them under the work directory. chaos_run
// drops --files text files of seeded words into {input} (written as a
// dot-file and renamed), one per --interval-ms, once the program has written
// its first output file. The program's output is the newest file in
// {output} (by the number in its name, e.g. counts-<batch ms>.txt): the
// undisturbed run's is taken once it has not changed for --settle-ms after
// the last file; the faulty run passes when its newest output equals it
// within --timeout-s. The program is told to stop with SIGTERM, and is
// killed if chaos_run dies.
//
// The seed (default: SLUICE_SIM_SEED, else the clock) and the fault plan are
// printed as one line each; the same seed and kinds give the same input and
// plan (the moments are times from the first file, so a run is repeatable,
// not identical). After the faulty run, "driver starts N" counts the
// program's starts (1 + each restart). Exit status: 0 equal, 1 different or
// timed out, 2 usage or no full disk to be had.
//
// Example: chaos_run --seed 7 -- build/samples/recoverable_file_word_count
//            --master 'local-cluster[2,1]' {input} {checkpoint} {output}
//
// Files: plan (the seeded draws), process (the program and its workers),
// run_dirs (a run's directories, input and output), disk (the tmpfs of
// full-disk), inject (the faults).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "disk.hpp"
#include "inject.hpp"
#include "plan.hpp"
#include "process.hpp"
#include "run_dirs.hpp"

namespace fs = std::filesystem;
using namespace chaos_run;

namespace {

struct options {
  uint64_t seed = 0;
  int faults = 4;
  int files = 12;
  int interval_ms = 500;
  int settle_ms = 4000;
  int timeout_s = 120;
  std::string work;
  int disk_mib = 64;    ///< full-disk: the tmpfs's size; the filler takes what is left
  int full_disk_s = 30; ///< full-disk: the longest the disk stays full
  std::vector<std::string> kinds{"kill-driver", "stop-driver", "kill-worker", "stop-worker"};
  std::vector<std::string> command;
};

/// The undisturbed run: returns its newest output once it has settled, or
/// nothing (said on stderr) when the program wrote no output.
std::optional<std::string> run_undisturbed(const options& o, const fs::path& work,
                                           const std::vector<std::string>& files) {
  auto clean = make_dirs(work, "clean");
  program p{substitute(o.command, clean), clean.log};
  p.start();
  if (!wait_until([&] { return has_output(clean.output) || p.exited(); },
                  std::chrono::seconds(o.timeout_s))
      || p.exited()) {
    std::cerr << "chaos_run: the undisturbed run wrote no output (see " << clean.log << ")\n";
    return std::nullopt;
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
  p.stop();
  return last;
}

std::string replay_line(const options& o) {
  std::string kinds;
  for (auto& k : o.kinds)
    kinds += (kinds.empty() ? "" : ",") + k;
  return "replay: chaos_run --seed " + std::to_string(o.seed) + " --faults "
         + std::to_string(o.faults) + " --files " + std::to_string(o.files) + " --interval-ms "
         + std::to_string(o.interval_ms) + " --kinds " + kinds + " -- ...";
}

/// The run under `plan`, its {checkpoint} on `disk` when there is one:
/// returns 0 when its newest output reaches `expected` within --timeout-s,
/// else 1 (said on stdout with the replay line).
int run_faulty(const options& o, const fs::path& work, const std::vector<std::string>& files,
               const std::vector<fault>& plan, const std::string& expected, small_disk* disk) {
  auto faulty = make_dirs(work, "faulty");
  if (disk != nullptr)
    faulty.checkpoint = disk->path() / "checkpoint";
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
      inject(p, plan[next], disk, std::chrono::seconds(o.full_disk_s));
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
              << replay_line(o) << '\n';
    return 1;
  }
  std::cout << "EQUAL: the faulty run ends with the undisturbed run's output\n";
  return 0;
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
  app.add_option("--kinds", o.kinds,
                 "fault kinds to draw from: kill-driver, stop-driver, kill-worker, stop-worker "
                 "(the default), full-disk (root)")
    ->delimiter(',');
  app.add_option("--disk-mib", o.disk_mib, "full-disk: the size of the tmpfs under {checkpoint}")
    ->check(CLI::Range(1, 65536));
  app.add_option("--full-disk-s", o.full_disk_s,
                 "full-disk: the longest the disk stays full if the program does not stop")
    ->check(CLI::Range(1, 3600));
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
  std::vector<fault_kind> kinds;
  try {
    for (auto& k : o.kinds)
      kinds.push_back(kind_named(k));
  } catch (const std::invalid_argument& e) {
    std::cerr << "chaos_run: " << e.what() << '\n';
    return 2;
  }
  if (kinds.empty() && o.faults > 0) {
    std::cerr << "chaos_run: --kinds names no fault kind, and --faults is " << o.faults << '\n';
    return 2;
  }
  bool full_disk = std::find(kinds.begin(), kinds.end(), fault_kind::full_disk) != kinds.end();
  if (full_disk
      && std::none_of(o.command.begin(), o.command.end(), [](const std::string& a) {
           return a.find("{checkpoint}") != std::string::npos;
         })) {
    std::cerr << "chaos_run: --kinds full-disk fills the disk under {checkpoint}, and the "
                 "program's arguments name no {checkpoint}\n";
    return 2;
  }
  // Before any process is started: the programs inherit the namespace.
  if (auto problem = full_disk ? enter_private_mounts() : ""; !problem.empty()) {
    std::cerr << "chaos_run: --kinds full-disk needs a tmpfs mount of its own: " << problem
              << '\n';
    return 2;
  }
  fs::path work = o.work.empty()
                    ? fs::temp_directory_path() / ("chaos-run-" + std::to_string(::getpid()))
                    : fs::path{o.work};
  fs::create_directories(work);

  std::mt19937_64 rng{o.seed};
  auto files = make_files(rng, o.files);
  auto plan = make_plan(rng, kinds, o.faults, o.files, o.interval_ms);
  std::cout << "seed " << o.seed << "\nplan " << plan_text(plan) << "\nwork " << work.string()
            << std::endl;

  std::optional<small_disk> disk;
  if (full_disk) {
    try {
      disk.emplace(work / "faulty" / "disk", static_cast<std::size_t>(o.disk_mib) << 20);
    } catch (const std::exception& e) {
      std::cerr << "chaos_run: --kinds full-disk: " << e.what() << '\n';
      return 2;
    }
    std::cout << "disk tmpfs " << o.disk_mib << " MiB on " << disk->path().string()
              << ", the faulty run's {checkpoint}, in chaos_run's own mount namespace"
              << std::endl;
  }

  int status = 1;
  try { // so that the destructors kill the program and unmount the disk
    auto expected = run_undisturbed(o, work, files);
    if (!expected)
      return 1;
    status = run_faulty(o, work, files, plan, *expected, disk ? &*disk : nullptr);
  } catch (const std::exception& e) {
    std::cerr << "chaos_run: " << e.what() << '\n';
  }
  if (disk && status != 0) {
    auto saved = work / "faulty" / "checkpoint-saved";
    disk->save_to(saved); // the tmpfs goes with chaos_run
    std::cout << "the faulty run's checkpoint (on the tmpfs) was copied to " << saved.string()
              << '\n';
  }
  disk.reset(); // unmounted before the work directory is removed
  if (status == 0 && o.work.empty())
    fs::remove_all(work);
  return status;
}
