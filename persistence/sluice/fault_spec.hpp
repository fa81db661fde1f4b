// What an armed fault point does (DESIGN.md "Faults"); conf syntax in FORMAT.md "Fault specs".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {

/// Thrown by `fault_injector::hit` (and friends) when a `throw_error` fault fires.
class injected_fault : public std::runtime_error {
 public:
  /// Builds "sluice: injected fault at <point>".
  explicit injected_fault(std::string_view point);

  /// Returns the name of the fault point that fired.
  const std::string& point() const noexcept {
    return point_;
  }

 private:
  std::string point_;
};

/// A fault spec or `sluice.fault.*` conf entry that cannot be armed. The
/// message names the point (or key) and the bad value.
class fault_config_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The kinds of fault. Conf names: none, throw, delay, drop, fail_write, crash.
enum class fault_kind : std::uint8_t {
  /// Nothing happens (the point is disarmed, or the fault did not fire).
  none = 0,
  /// `hit` throws `injected_fault`.
  throw_error = 1,
  /// `hit` sleeps for `fault_action::duration`.
  delay = 2,
  /// The caller drops the item (see `should_drop`).
  drop = 3,
  /// The caller fails the write (see `should_fail_write`).
  fail_write = 4,
  /// `hit` ends the process: `std::abort()`, or `std::_Exit(exit_code)`.
  crash = 5,
};

/// Returns the conf name of `x`.
std::string_view to_string(fault_kind x) noexcept;

/// What to do at one hit of a fault point.
struct fault_action {
  fault_kind kind = fault_kind::none;

  /// How long `delay` sleeps (default 0).
  std::chrono::milliseconds duration{0};

  /// For `crash`: the `_Exit` status, or -1 (default) for `std::abort()`.
  int exit_code = -1;

  static fault_action throw_error() noexcept {
    return {.kind = fault_kind::throw_error};
  }

  static fault_action delay(std::chrono::milliseconds d) noexcept {
    return {.kind = fault_kind::delay, .duration = d};
  }

  static fault_action drop() noexcept {
    return {.kind = fault_kind::drop};
  }

  static fault_action fail_write() noexcept {
    return {.kind = fault_kind::fail_write};
  }

  static fault_action crash(int exit_code = -1) noexcept {
    return {.kind = fault_kind::crash, .exit_code = exit_code};
  }

  /// True unless `kind` is `none`.
  explicit operator bool() const noexcept {
    return kind != fault_kind::none;
  }

  friend bool operator==(const fault_action&, const fault_action&) = default;
};

/// When an armed point fires. Hit k (counting from 1 since `arm`) is eligible
/// if k > `after` and fewer than `times` faults have fired; an eligible hit
/// draws from the point's generator and fires if the draw is below `probability`.
struct fault_spec {
  fault_action action = fault_action::throw_error();

  /// Chance that an eligible hit fires, in [0, 1] (default 1: always).
  double probability = 1.0;

  /// Hits that pass before any may fire (default 0).
  std::uint64_t after = 0;

  /// The most faults this spec fires, at least 1 (default: unlimited).
  std::optional<std::uint64_t> times = std::nullopt;

  /// Seeds the point's generator, with the point's name (default 0).
  std::uint64_t seed = 0;

  friend bool operator==(const fault_spec&, const fault_spec&) = default;
};

/// Throws `fault_config_error` naming `point` unless `spec` can be armed:
/// an action other than none, a probability in [0, 1], `times` at least 1,
/// a non-negative delay and a non-empty point name.
void validate(std::string_view point, const fault_spec& spec);

/// Parses the value of a `sluice.fault.<point>` conf entry:
/// `<action>[:<arg>][,p=<0..1>][,after=<n>][,times=<n>][,seed=<n>]`, where
/// action is throw, delay:<n>[ms|s], drop, fail_write or crash[:<exit code>].
/// Throws `fault_config_error` naming `key` and the bad value.
fault_spec parse_fault_spec(std::string_view key, std::string_view value);

/// Returns `spec` in the syntax `parse_fault_spec` reads (only non-default
/// options), so a failing run's faults can be logged and replayed.
std::string to_string(const fault_spec& spec);

} // namespace sluice
