// The exceptions of the public API (API.md "Errors").
#pragma once

#include <stdexcept>
#include <string>

#include "sluice/error.hpp"

namespace sluice {

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
