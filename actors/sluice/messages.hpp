// The typed messages the engine's actors exchange, and their atoms.
#pragma once

#include <exception>
#include <functional>
#include <string>

#include <caf/all.hpp>

#include "sluice/detail/erased.hpp"
#include "sluice/time.hpp"

namespace sluice::detail {

/// Partitions of one batch travelling to a stage slot or a gather.
/// Records are moved along, never copied (DESIGN.md: ~100 M records/s).
struct batch_msg {
  int64_t t = 0;      ///< batch time in ms
  int32_t port = 0;   ///< which parent of the receiving node sent it
  int32_t from = 0;   ///< the sending slot (orders shuffle input deterministically)
  bool none = false;  ///< the parent had no batch at t (Spark's None)
  parts data;
};

/// A gather or output node finished batch t; `job` is the output function.
struct gather_done {
  int64_t t = 0;
  int32_t gather = 0;
  std::function<void()> job;
};

/// User code failed while computing batch t.
struct batch_failed {
  int64_t t = 0;
  std::string what;
  std::exception_ptr cause = nullptr; ///< the exception, so its type can reach await_termination
};

} // namespace sluice::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::detail::batch_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::detail::gather_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::detail::batch_failed)

namespace sluice {
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using advance_atom = caf::atom_constant<caf::atom("advance")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using allocate_atom = caf::atom_constant<caf::atom("allocate")>;
using cleanup_atom = caf::atom_constant<caf::atom("cleanup")>;
using rate_atom = caf::atom_constant<caf::atom("rate")>;
using error_atom = caf::atom_constant<caf::atom("error")>;
} // namespace sluice
