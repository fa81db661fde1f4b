// Attributing an exception of a user function to the operator that ran it,
// so the error that stops the context names the operator (issue 9).
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/node.hpp"

namespace sluice::detail {

/// Carries the exception a node's user function threw, with the node, up to
/// the actor that runs the node: it reports "<name> (operator <id>) failed at
/// batch <t>: <message>" and keeps the original exception's type.
class user_failure : public std::exception {
 public:
  user_failure(const node_base* n, std::exception_ptr cause, std::string message)
      : node_(n), cause_(std::move(cause)), message_(std::move(message)) {}

  const node_base* node() const noexcept { return node_; }
  /// The exception the user function threw.
  const std::exception_ptr& cause() const noexcept { return cause_; }
  /// Its what().
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  const node_base* node_;
  std::exception_ptr cause_;
  std::string message_;
};

/// Returns `f()`. A std::exception from it leaves as a user_failure of `n`,
/// unless it already is one (thrown further down a chain). Other exceptions
/// pass unchanged: they end the actor, whose death the executor reports.
/// The try block costs nothing until something throws.
template <class F>
decltype(auto) attributed(const node_base* n, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const user_failure&) {
    throw;
  } catch (const std::exception& e) {
    throw user_failure{n, std::current_exception(), e.what()};
  }
}

/// Returns what stops the context when node `n` fails at batch time `t`:
/// "map (operator 2) failed at batch 1000 ms: <what>".
inline std::string failure_message(const node_base& n, int64_t t, std::string_view what) {
  return n.name() + " (operator " + std::to_string(n.id()) + ") failed at batch "
         + to_string(batch_time{t}) + ": " + std::string{what};
}

} // namespace sluice::detail
