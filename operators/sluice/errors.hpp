// The exceptions of the public API (API.md "Errors").
#pragma once

#include <stdexcept>
#include <string>

namespace sluice {

/// Base of every error sluice throws. A failing job stops the context and
/// `streaming_context::await_termination()` rethrows it.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A value that is not acceptable (Spark's IllegalArgumentException).
class invalid_argument : public error {
 public:
  using error::error;
};

/// A call that is not allowed in the current state (Spark's IllegalStateException).
class illegal_state : public error {
 public:
  using error::error;
};

/// A missing value was read (Spark's NoSuchElementException), e.g.
/// `state<S>::get()` on a state that does not exist.
class no_such_element : public error {
 public:
  using error::error;
};

} // namespace sluice
