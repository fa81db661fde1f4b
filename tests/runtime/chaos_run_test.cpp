// samples/chaos_run (issue 14): a recoverable program under seeded real
// faults ends with the output of its undisturbed run; a program whose output
// depends on its restarts is caught, with the seed and plan to replay; the
// same seed draws the same plan.
#define BOOST_TEST_MODULE runtime/chaos_run
#include <boost/test/unit_test.hpp>

#include <string>

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
  auto [status, out] = chaos_run("--seed 9 --faults 1 --files 2 --interval-ms 50 --settle-ms 300 "
                                 "--timeout-s 2 --kinds kill-driver",
                                 "/bin/sh -c 'echo $$ > {output}/out-1.txt; exec sleep 600'");
  BOOST_TEST(status == 1, out);
  BOOST_TEST(out.find("DIFFERENT") != std::string::npos, out);
  BOOST_TEST(out.find("replay: chaos_run --seed 9 --faults 1 --files 2") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(the_same_seed_draws_the_same_plan_and_bad_options_are_named) {
  auto plan_of = [](const std::string& seed) {
    auto [status, out] = chaos_run("--seed " + seed + " --faults 6 --files 2 --interval-ms 50 "
                                   "--settle-ms 300 --timeout-s 2",
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
}
