// chaos_run's seeded draws: the fault plan and the input files. The same
// seed, options and kinds give the same plan and files.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace chaos_run {

/// kill-driver, stop-driver, kill-worker, stop-worker: SIGKILL or SIGSTOP
/// of the driver or of a local-cluster worker; full-disk: the disk that
/// holds {checkpoint} full until the program stops (see inject.hpp).
enum class fault_kind { kill_driver, stop_driver, kill_worker, stop_worker, full_disk };

/// Returns the kind's name as --kinds and the plan line spell it.
const char* name_of(fault_kind k);

/// Returns the kind named `name`; throws std::invalid_argument naming it and
/// the known kinds.
fault_kind kind_named(const std::string& name);

struct fault {
  int after_file = 0; ///< injected right after this many files were dropped
  fault_kind kind = fault_kind::kill_driver;
  int stop_ms = 0;    ///< SIGSTOP faults: how long before SIGCONT
};

/// Draws `faults` faults of `kinds` (not empty), each after one of `files`
/// files, sorted by that moment. A stop lasts 1 to 4 `interval_ms`.
std::vector<fault> make_plan(std::mt19937_64& rng, const std::vector<fault_kind>& kinds,
                             int faults, int files, int interval_ms);

/// Returns the plan as one line, e.g. "kill-driver@2 stop-driver@5/570ms", or "(none)".
std::string plan_text(const std::vector<fault>& plan);

/// Draws `n` small texts of words from a vocabulary of ten.
std::vector<std::string> make_files(std::mt19937_64& rng, int n);

} // namespace chaos_run
