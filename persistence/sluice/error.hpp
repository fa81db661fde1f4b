// The base of every exception sluice throws (API.md "Errors"). It lives in the
// lowest library so that storage errors derive from it too.
#pragma once

#include <stdexcept>

namespace sluice {

/// Base of every error sluice throws. A failing job stops the context and
/// `streaming_context::await_termination()` rethrows it.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

} // namespace sluice
