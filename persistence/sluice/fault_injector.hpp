// The fault seam (DESIGN.md "Faults"): named points where tests and conf inject
// crashes, exceptions, delays, drops and failed writes, reproducibly.
#pragma once

#include "sluice/fault_spec.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice {

/// The fault points the engine hits. Any other name may be armed as well.
namespace fault_points {
inline constexpr std::string_view receiver_store = "receiver.store";
inline constexpr std::string_view block_write = "block.write";
inline constexpr std::string_view wal_append = "wal.append";
inline constexpr std::string_view operator_run = "operator.run";
inline constexpr std::string_view shuffle_send = "shuffle.send";
inline constexpr std::string_view checkpoint_write = "checkpoint.write";
inline constexpr std::string_view remote_send = "remote.send";
inline constexpr std::string_view tracker_allocate = "tracker.allocate";
} // namespace fault_points

/// Decides, per hit of a named point, whether an armed fault fires. While
/// nothing is armed every query costs one relaxed atomic load and returns
/// "no fault". Decisions are reproducible: each armed point draws from its own
/// `std::mt19937_64` seeded with `spec.seed ^ fnv1a_64(point)`, so the same
/// specs and the same sequence of hits per point give the same faults.
/// All members are thread-safe; hits of one point from several threads are
/// serialized in an unspecified order.
class fault_injector {
 public:
  // -- constructors, destructors, and assignment operators -------------------

  fault_injector();

  ~fault_injector();

  fault_injector(const fault_injector&) = delete;

  fault_injector& operator=(const fault_injector&) = delete;

  /// Returns the injector the engine's fault points query on this thread:
  /// the one a `thread_scope` installed here, else the process-wide one,
  /// which is never destroyed, so threads may hit points during process exit.
  static fault_injector& global() noexcept;

  /// While it lives, `global()` on the thread that made it returns the
  /// injector it was given instead of the process-wide one. A simulation
  /// run installs one of its own: every actor of a simulated context runs
  /// on the simulation's thread, so runs on several threads arm and hit
  /// their faults apart. Scopes nest; each must end on the thread that made
  /// it, in reverse order.
  class thread_scope {
   public:
    explicit thread_scope(fault_injector& x) noexcept;
    ~thread_scope();
    thread_scope(const thread_scope&) = delete;
    thread_scope& operator=(const thread_scope&) = delete;

   private:
    fault_injector* previous_;
  };

  // -- arming ----------------------------------------------------------------

  /// Arms `point` with `spec`, replacing any spec it had and restarting its
  /// hit count, fire count and generator. Throws `fault_config_error` if
  /// `validate(point, spec)` does.
  void arm(std::string_view point, const fault_spec& spec);

  /// Arms every `sluice.fault.<point>` entry of `entries` (other keys are
  /// ignored). Parses all entries before arming any, so on error (a
  /// `fault_config_error` naming the key and the bad value) nothing is armed.
  void arm_from_conf(const std::map<std::string, std::string>& entries);

  /// Disarms `point`. Returns whether it was armed.
  bool disarm(std::string_view point);

  /// Disarms every point.
  void disarm_all();

  /// Returns whether any point is armed.
  bool armed() const noexcept {
    return armed_count_.load(std::memory_order_relaxed) != 0;
  }

  // -- hitting points ----------------------------------------------------------

  /// Counts a hit of `point` and returns the action to take at it: the armed
  /// action if it fires, `fault_kind::none` otherwise. Performs nothing.
  fault_action check(std::string_view point) {
    return armed() ? check_armed(point) : fault_action{};
  }

  /// Counts a hit of `point` and performs what fires: throws `injected_fault`
  /// naming the point, sleeps, or ends the process. Returns normally when
  /// nothing fires and for `drop` and `fail_write`, which need the caller:
  /// points that can drop or fail a write use the queries below instead.
  void hit(std::string_view point) {
    if (armed())
      perform(point, check_armed(point));
  }

  /// Like `hit`; returns true when a `drop` fault fires (the caller drops).
  bool should_drop(std::string_view point) {
    return armed() && perform(point, check_armed(point)) == fault_kind::drop;
  }

  /// Like `hit`; returns true when a `fail_write` fault fires (the caller fails the write).
  bool should_fail_write(std::string_view point) {
    return armed() && perform(point, check_armed(point)) == fault_kind::fail_write;
  }

  /// Throws, sleeps or ends the process as `action` says; returns `action.kind`
  /// for the others.
  static fault_kind perform(std::string_view point, const fault_action& action);

  // -- observers ---------------------------------------------------------------

  /// Returns the hits of `point` since it was armed, or 0 if it is not armed.
  std::uint64_t hits(std::string_view point) const;

  /// Returns the faults `point` fired since it was armed, or 0 if it is not armed.
  std::uint64_t fires(std::string_view point) const;

 private:
  struct point_state;

  fault_action check_armed(std::string_view point);

  /// Number of entries in `points_`; written under `mtx_`, read without it.
  std::atomic<std::size_t> armed_count_{0};

  mutable std::mutex mtx_;

  /// Armed points by name. Guarded by `mtx_`.
  std::map<std::string, std::unique_ptr<point_state>, std::less<>> points_;
};

} // namespace sluice
