// sluice::testing's run results and output checkers (<sluice/testing.hpp>):
// what a simulation run produced per batch, and exactly-once and
// at-least-once checks against the fault-free run.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/sluice.hpp"
#include "sluice/testing/fault_plan.hpp"

namespace sluice::testing {

// -- results and checkers --------------------------------------------------------

/// What an output produced: batch time (ms) -> its records.
template <class T>
using batch_outputs = std::map<std::int64_t, std::vector<T>>;

namespace detail {

/// What the non-template part of a run reports.
struct run_record {
  std::uint64_t seed = 0;
  /// The faults that struck (explicit; replays the run).
  fault_plan injected;
  std::vector<trace_event> trace;
  /// Contexts started after the first (restarted drivers).
  int restarts = 0;
};

template <class T>
concept ordered = requires(const T& a, const T& b) {
  { a < b } -> std::convertible_to<bool>;
};

template <class T>
void sort_records(std::vector<T>& v) {
  if constexpr (ordered<T>)
    std::sort(v.begin(), v.end());
}

template <class T>
std::string show(const std::vector<T>& v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      os << ", ";
    if (i == 20) {
      os << "... " << v.size() - 20 << " more";
      break;
    }
    format_record(os, v[i]);
  }
  os << ']';
  return os.str();
}

} // namespace detail

/// A simulation run's outcome.
template <class T>
class run_result {
 public:
  run_result(batch_outputs<T> out, detail::run_record rec)
      : outputs_(std::move(out)), rec_(std::move(rec)) {}

  /// What the pipeline's returned stream produced per batch time, each
  /// batch's records sorted (when T has `<`). Collected as an idempotent sink
  /// would: a batch re-run after a recovery replaces what it produced before.
  const batch_outputs<T>& outputs() const noexcept {
    return outputs_;
  }

  /// Every injected fault and every recovery, in order.
  const std::vector<trace_event>& trace() const noexcept {
    return rec_.trace;
  }

  /// The faults that struck, as an explicit plan: `simulation::replay` with
  /// it reproduces this run.
  const fault_plan& plan() const noexcept {
    return rec_.injected;
  }

  std::uint64_t seed() const noexcept {
    return rec_.seed;
  }

  /// Contexts started after the first (restarted drivers).
  int restarts() const noexcept {
    return rec_.restarts;
  }

  /// "seed 7, plan \"faults 4=process_crash\" (replay: SLUICE_SIM_SEED=7 or
  /// sim.replay(fault_plan::parse(\"faults 4=process_crash\"), ...))".
  std::string describe() const {
    auto p = rec_.injected.to_string();
    return "seed " + std::to_string(rec_.seed) + ", plan \"" + p + "\" (replay: SLUICE_SIM_SEED="
           + std::to_string(rec_.seed) + " or sim.replay(fault_plan::parse(\"" + p
           + "\"), build, batches))";
  }

 private:
  batch_outputs<T> outputs_;
  detail::run_record rec_;
};

/// A checker's verdict: ok, or a message naming the first differing batch
/// time, what was expected and found, and how to replay the run.
class check_result {
 public:
  check_result() = default;
  explicit check_result(std::string violation) : message_(std::move(violation)) {}

  bool ok() const noexcept {
    return message_.empty();
  }

  explicit operator bool() const noexcept {
    return ok();
  }

  /// Empty when ok.
  const std::string& message() const noexcept {
    return message_;
  }

 private:
  std::string message_;
};

/// Exactly-once: `actual` holds, for every batch time, the same records as
/// `expected` (the fault-free run), no more, no fewer (records compared
/// sorted when T has `<`). `run` names the faulty run in the message
/// (`run_result::describe()`).
template <class T>
check_result exactly_once(batch_outputs<T> actual, batch_outputs<T> expected,
                          std::string_view run) {
  for (auto* m : {&actual, &expected})
    for (auto& [t, v] : *m)
      detail::sort_records(v);
  auto empty = std::vector<T>{};
  auto a = actual.begin();
  auto e = expected.begin();
  while (a != actual.end() || e != expected.end()) {
    // The earlier batch time of the two; a missing one counts as empty.
    std::int64_t t = a == actual.end()     ? e->first
                     : e == expected.end() ? a->first
                                           : std::min(a->first, e->first);
    auto& got = (a != actual.end() && a->first == t) ? a->second : empty;
    auto& want = (e != expected.end() && e->first == t) ? e->second : empty;
    if (!(got == want))
      return check_result{"exactly-once violated at batch time " + std::to_string(t)
                          + " ms: expected " + detail::show(want) + " but got "
                          + detail::show(got) + " -- " + std::string{run}};
    if (a != actual.end() && a->first == t)
      ++a;
    if (e != expected.end() && e->first == t)
      ++e;
  }
  return {};
}

template <class T>
check_result exactly_once(const run_result<T>& faulty, const run_result<T>& clean) {
  return exactly_once(faulty.outputs(), clean.outputs(), faulty.describe());
}

/// At-least-once: for every batch time, `actual` holds the expected records
/// whole, one or more times (an appending sink that saw the batch re-run
/// after a recovery), and nothing else. Needs T with `<` and `==`.
template <class T>
check_result at_least_once(batch_outputs<T> actual, batch_outputs<T> expected,
                           std::string_view run) {
  static_assert(detail::ordered<T>, "at_least_once compares records sorted: T needs <");
  auto fail = [&](std::int64_t t, const std::vector<T>& want, const std::vector<T>& got) {
    return check_result{"at-least-once violated at batch time " + std::to_string(t)
                        + " ms: expected " + detail::show(want)
                        + " one or more times, whole, but got " + detail::show(got) + " -- "
                        + std::string{run}};
  };
  for (auto& [t, want] : expected) {
    auto i = actual.find(t);
    std::vector<T> got = i == actual.end() ? std::vector<T>{} : i->second;
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (want.empty() ? !got.empty() : got.empty() || got.size() % want.size() != 0)
      return fail(t, want, got);
    // got must be want with each record repeated k times.
    auto k = got.size() / std::max<size_t>(want.size(), 1);
    for (size_t j = 0; j < got.size(); ++j)
      if (!(got[j] == want[j / k]))
        return fail(t, want, got);
  }
  for (auto& [t, got] : actual)
    if (!expected.count(t) && !got.empty())
      return fail(t, {}, got);
  return {};
}

template <class T>
check_result at_least_once(const run_result<T>& faulty, const run_result<T>& clean) {
  return at_least_once(faulty.outputs(), clean.outputs(), faulty.describe());
}

} // namespace sluice::testing
