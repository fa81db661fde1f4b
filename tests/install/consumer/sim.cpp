// A user's test under faults through the installed sluice::testing: a word
// count crashed and failed at chosen batches equals its fault-free run.
#include <cstdio>

#include <sluice/testing.hpp>

int main() {
  namespace st = sluice::testing;
  st::simulation sim{1};
  auto lines = sim.scripted_input<std::string>({{1, {"a"}}, {2, {"b", "a"}}, {4, {"a"}}});
  auto build = [&](sluice::streaming_context& ssc) {
    return lines.stream(ssc)
      .map([](const std::string& w) { return std::pair<std::string, int>{w, 1}; })
      .update_state_by_key([](const std::vector<int>& vs, std::optional<int> s) {
        return std::optional<int>{s.value_or(0) + static_cast<int>(vs.size())};
      });
  };
  sim.faults(st::fault_plan::parse("faults 2=operator_error,4=process_crash"));
  auto faulty = sim.run(build, 5);
  auto clean = sim.run_without_faults(build, 5);
  auto check = st::exactly_once(faulty, clean);
  std::printf("simulation: %d restarts, %s\n", faulty.restarts(),
              check.ok() ? "exactly-once" : check.message().c_str());
  return check.ok() && faulty.restarts() == 2 ? 0 : 1;
}
