// Seeds on several threads: the simulation's runs are independent of one
// another (each has its own fault injector, fault_injector::thread_scope, and
// its own in-memory checkpoint directory, and every actor of a simulated
// context runs on the thread that runs it), so a machine's cores run
// thousands of seeds at once and each seed gives the run it gives alone.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "sluice/error.hpp"

namespace sluice::testing {

/// Calls `fn(seed)` for every seed of [first, first + count) on `threads`
/// threads at once (0: std::thread::hardware_concurrency()), each call on one
/// thread, and returns the results in seed order. The calls run concurrently
/// on the one `fn`: what it captures it may only read (or must guard). Each
/// call builds its own `simulation` (scripted inputs may be shared: they are
/// immutable; a scripted receiver may not) and returns what the caller
/// checks afterwards: Boost.Test's assertions are not thread-safe.
///
/// When calls throw, every thread still finishes its seeds and the exception
/// of the lowest such seed is rethrown. `fn` must return a movable value
/// (not void). Throws `invalid_argument` when the last seed would pass
/// UINT64_MAX.
template <class F>
auto run_seeds(std::uint64_t first, std::size_t count, F fn, unsigned threads = 0)
  -> std::vector<std::invoke_result_t<F&, std::uint64_t>> {
  using result = std::invoke_result_t<F&, std::uint64_t>;
  static_assert(!std::is_void_v<result>, "run_seeds: fn must return the value to check");
  if (count > 0 && first + (count - 1) < first)
    throw invalid_argument("run_seeds: " + std::to_string(count) + " seeds from "
                           + std::to_string(first) + " on go past the largest seed, "
                           + std::to_string(UINT64_MAX));
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(count, 1)));
  std::vector<std::optional<result>> done(count);
  std::vector<std::exception_ptr> failed(count);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < count;) {
      try {
        done[i].emplace(fn(first + i));
      } catch (...) {
        failed[i] = std::current_exception();
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (unsigned k = 1; k < threads; ++k)
      pool.emplace_back(work);
    work();  // this thread takes its share
  }
  for (auto& e : failed)
    if (e)
      std::rethrow_exception(e);
  std::vector<result> out;
  out.reserve(count);
  for (auto& r : done)
    out.push_back(std::move(*r));
  return out;
}

} // namespace sluice::testing
