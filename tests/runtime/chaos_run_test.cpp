// samples/chaos_run (issue 14): a recoverable program under seeded real
// faults ends with the output of its undisturbed run; a program whose output
// depends on its restarts is caught, with the seed and plan to replay; the
// same seed draws the same plan. A full disk under the checkpoint (root
// only: a tmpfs; skipped, said on stderr, without it) stops the program,
// which resumes on its checkpoint once there is room, and leaves no mount.
#define BOOST_TEST_MODULE runtime/chaos_run
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures/shell.hpp"

namespace {

const std::string samples = SLUICE_SAMPLES_DIR;

std::pair<int, std::string> chaos_run(const std::string& options, const std::string& program) {
  return fixtures::shell(samples + "/chaos_run " + options + " -- " + program,
                         fixtures::with_stderr::yes);
}

std::string line_starting(const std::string& out, const std::string& prefix) {
  auto at = out.find('\n' + prefix);
  if (out.rfind(prefix, 0) == 0)
    at = 0;
  else if (at != std::string::npos)
    ++at;
  else
    return {};
  return out.substr(at, out.find('\n', at) - at);
}

const std::string word_count =
  samples + "/recoverable_file_word_count {input} {checkpoint} {output}";

/// Passes when a process here may have a mount namespace of its own, as
/// chaos_run's full-disk needs (root or CAP_SYS_ADMIN); tried in a child,
/// since unshare moves the caller.
boost::test_tools::assertion_result can_mount(boost::unit_test::test_unit_id) {
  pid_t child = ::fork();
  if (child == 0)
    ::_exit(::unshare(CLONE_NEWNS) == 0 ? 0 : 1);
  int status = -1;
  ::waitpid(child, &status, 0);
  boost::test_tools::assertion_result ok{WIFEXITED(status) && WEXITSTATUS(status) == 0};
  if (!ok) {
    std::cerr << "SKIPPED: chaos_run's full-disk needs root (a tmpfs in a mount namespace)\n";
    ok.message() << "needs root or CAP_SYS_ADMIN";
  }
  return ok;
}

/// Returns the lines of /proc/mounts that name `dir` (this test's namespace,
/// which is the machine's).
std::string mounts_under(const std::string& dir) {
  std::ifstream in{"/proc/mounts"};
  std::string line, out;
  while (std::getline(in, line))
    if (line.find(dir) != std::string::npos)
      out += line + '\n';
  return out;
}

/// A work directory of the test's own, removed at the end.
struct work_dir {
  explicit work_dir(const std::string& name)
      : path((std::filesystem::temp_directory_path()
              / ("chaos-run-test-" + name + "-" + std::to_string(::getpid())))
               .string()) {
    std::filesystem::remove_all(path);
  }
  ~work_dir() { std::filesystem::remove_all(path); }
  std::string path;
};

} // namespace

BOOST_AUTO_TEST_CASE(a_recoverable_word_count_killed_and_stopped_ends_as_the_undisturbed_run) {
  auto [status, out] = chaos_run("--seed 5 --faults 4 --files 8 --interval-ms 300 "
                                 "--kinds kill-driver,stop-driver",
                                 word_count);
  BOOST_TEST(status == 0, out);
  BOOST_TEST(line_starting(out, "plan ")
               == "plan kill-driver@2 kill-driver@4 stop-driver@5/570ms kill-driver@8",
             out);
  BOOST_TEST(line_starting(out, "driver starts ") == "driver starts 4", out); // 3 kills
  BOOST_TEST(out.find("EQUAL: the faulty run ends with the undisturbed run's output")
               != std::string::npos,
             out);
}

BOOST_AUTO_TEST_CASE(at_local_cluster_killed_and_stopped_workers_change_nothing) {
  auto [status, out] = chaos_run("--seed 21 --faults 3 --files 8 --interval-ms 300 "
                                 "--kinds kill-worker,stop-worker",
                                 samples + "/recoverable_file_word_count --master "
                                   "'local-cluster[2,1]' {input} {checkpoint} {output}");
  BOOST_TEST(status == 0, out);
  BOOST_TEST(out.find("EQUAL") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(a_program_whose_output_depends_on_its_restarts_is_caught_with_its_seed) {
  // Writes its own pid: no two starts agree.
  work_dir work{"different"}; // a failed run keeps its work directory
  auto [status, out] = chaos_run("--seed 9 --faults 1 --files 2 --interval-ms 50 --settle-ms 300 "
                                 "--timeout-s 2 --kinds kill-driver --work " + work.path,
                                 "/bin/sh -c 'echo $$ > {output}/out-1.txt; exec sleep 600'");
  BOOST_TEST(status == 1, out);
  BOOST_TEST(out.find("DIFFERENT") != std::string::npos, out);
  BOOST_TEST(out.find("replay: chaos_run --seed 9 --faults 1 --files 2") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(the_same_seed_draws_the_same_plan_and_bad_options_are_named) {
  auto plan_of = [](const std::string& seed) {
    work_dir work{"plan-" + seed}; // the runs differ, and a failed run keeps its work directory
    auto [status, out] = chaos_run("--seed " + seed + " --faults 6 --files 2 --interval-ms 50 "
                                   "--settle-ms 300 --timeout-s 2 --work " + work.path,
                                   "/bin/sh -c 'echo $$ > {output}/out-1.txt; exec sleep 600'");
    return line_starting(out, "plan ");
  };
  auto first = plan_of("42");
  BOOST_TEST(first.size() > 5u);
  BOOST_TEST(plan_of("42") == first);
  BOOST_TEST(plan_of("43") != first);
  auto [status, out] = chaos_run("--kinds kill-everything", "/bin/true");
  BOOST_TEST(status == 2);
  BOOST_TEST(out.find("unknown fault kind 'kill-everything'") != std::string::npos, out);
  auto [no_checkpoint, said] = chaos_run("--kinds kill-driver,full-disk", "/bin/true {output}");
  BOOST_TEST(no_checkpoint == 2);
  BOOST_TEST(said
               == "chaos_run: --kinds full-disk fills the disk under {checkpoint}, and the "
                  "program's arguments name no {checkpoint}\n",
             said);
}

BOOST_AUTO_TEST_CASE(a_full_disk_under_the_checkpoint_stops_the_program_which_resumes_with_room,
                     *boost::unit_test::precondition(can_mount)) {
  work_dir work{"full-disk"};
  auto [status, out] = chaos_run("--seed 4 --faults 2 --files 6 --interval-ms 300 --kinds "
                                 "full-disk --work " + work.path,
                                 word_count);
  BOOST_TEST(status == 0, out);
  BOOST_TEST(line_starting(out, "plan ") == "plan full-disk@3 full-disk@6", out);
  BOOST_TEST(line_starting(out, "disk ")
               == "disk tmpfs 64 MiB on " + work.path + "/faulty/disk, the faulty run's "
                    "{checkpoint}, in chaos_run's own mount namespace",
             out);
  // Each full disk stopped the program with SQLite's error on its checkpoint
  // store, and it was started again: 1 + 2 starts. A running program fails
  // a commit ("database or disk is full"); one still starting (a loaded
  // machine) may instead fail to create its -shm file, which SQLite reports
  // as "disk I/O error" (SQLITE_IOERR_SHMSIZE).
  auto stopped = "full-disk: the program stopped (exit status 1) ";
  auto first = out.find(stopped);
  BOOST_TEST_REQUIRE(first != std::string::npos, out);
  auto second = out.find(stopped, first + 1);
  BOOST_TEST_REQUIRE(second != std::string::npos, out);
  auto store = work.path + "/faulty/disk/checkpoint/sluice.db: ";
  for (auto at : {first, second}) {
    auto line = out.substr(at, out.find('\n', at) - at);
    BOOST_TEST((line.find(store + "database or disk is full") != std::string::npos
                || line.find(store + "disk I/O error") != std::string::npos),
               line);
  }
  BOOST_TEST(out.find("still ran") == std::string::npos, out);
  BOOST_TEST(line_starting(out, "driver starts ") == "driver starts 3", out);
  BOOST_TEST(out.find("EQUAL: the faulty run ends with the undisturbed run's output")
               != std::string::npos,
             out);
  // The tmpfs was chaos_run's alone and went with it: not in the machine's
  // mounts, and its content is not on the directory it was mounted on.
  BOOST_TEST(mounts_under(work.path) == "");
  BOOST_TEST(std::filesystem::is_empty(work.path + "/faulty/disk"));
}

BOOST_AUTO_TEST_CASE(at_local_cluster_a_full_disk_restarts_the_driver_and_its_workers,
                     *boost::unit_test::precondition(can_mount)) {
  work_dir work{"full-disk-cluster"};
  auto [status, out] = chaos_run("--seed 6 --faults 1 --files 6 --interval-ms 300 --kinds "
                                 "full-disk --work " + work.path,
                                 samples + "/recoverable_file_word_count --master "
                                   "'local-cluster[2,1]' {input} {checkpoint} {output}");
  BOOST_TEST(status == 0, out);
  BOOST_TEST(line_starting(out, "plan ") == "plan full-disk@2", out);
  BOOST_TEST(out.find("full-disk: the program stopped (exit status 1) ") != std::string::npos,
             out);
  BOOST_TEST(line_starting(out, "driver starts ") == "driver starts 2", out);
  BOOST_TEST(out.find("EQUAL") != std::string::npos, out);
  BOOST_TEST(mounts_under(work.path) == "");
}
