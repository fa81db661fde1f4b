// chaos_run's seeded draws: the fault plan and the input files.
#include "plan.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace chaos_run {

namespace {

constexpr fault_kind all_kinds[] = {fault_kind::kill_driver, fault_kind::stop_driver,
                                    fault_kind::kill_worker, fault_kind::stop_worker,
                                    fault_kind::full_disk};

} // namespace

const char* name_of(fault_kind k) {
  switch (k) {
    case fault_kind::kill_driver: return "kill-driver";
    case fault_kind::stop_driver: return "stop-driver";
    case fault_kind::kill_worker: return "kill-worker";
    case fault_kind::stop_worker: return "stop-worker";
    case fault_kind::full_disk: return "full-disk";
  }
  return "?";
}

fault_kind kind_named(const std::string& name) {
  std::string known;
  for (auto k : all_kinds) {
    if (name == name_of(k))
      return k;
    known += std::string(known.empty() ? "" : ", ") + name_of(k);
  }
  throw std::invalid_argument("--kinds: unknown fault kind '" + name + "', expected one of "
                              + known);
}

std::vector<fault> make_plan(std::mt19937_64& rng, const std::vector<fault_kind>& kinds,
                             int faults, int files, int interval_ms) {
  std::vector<fault> plan;
  std::uniform_int_distribution<int> when(1, files);
  std::uniform_int_distribution<size_t> kind(0, kinds.size() - 1);
  std::uniform_int_distribution<int> stop(interval_ms, 4 * interval_ms);
  for (int i = 0; i < faults; ++i) {
    fault f{when(rng), kinds[kind(rng)], 0};
    if (f.kind == fault_kind::stop_driver || f.kind == fault_kind::stop_worker)
      f.stop_ms = stop(rng);
    plan.push_back(f);
  }
  std::stable_sort(plan.begin(), plan.end(),
                   [](const fault& a, const fault& b) { return a.after_file < b.after_file; });
  return plan;
}

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

} // namespace chaos_run
