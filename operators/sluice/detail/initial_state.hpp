// The initial state of update_state_by_key and map_with_state (Spark's
// initialRDD / StateSpec.initialState): loaded into each partition that
// starts without a checkpoint, and released once no partition can start
// so again, so its memory (a copy of every initial pair) is not kept for
// the whole run.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "sluice/error.hpp"

namespace sluice::detail {

template <class T>
class initial_state {
 public:
  using ptr = std::shared_ptr<const std::vector<T>>;

  explicit initial_state(ptr p) : given_(p != nullptr), data_(std::move(p)) {}

  /// True if the operator was given an initial state (released or not).
  bool given() const { return given_; }

  /// The pairs to load into a partition that starts without a checkpoint
  /// (null: none was given). Operator actors call it concurrently.
  /// Throws if they were released: a partition must then restore from a
  /// checkpoint, and starting it empty would lose the initial state.
  ptr for_new_partition(const std::string& op) const {
    auto p = data_.load();
    if (!p && given_)
      throw error(op + ": a partition started without a checkpoint after the initial state was "
                       "released (every partition had stored a state checkpoint to restore from)");
    return p;
  }

  /// Drops this process's reference. The contract of the caller (the job
  /// scheduler): every partition has stored a state checkpoint, and every
  /// later placement restores from one.
  void release() const { data_.store(nullptr); }

 private:
  bool given_;
  mutable std::atomic<ptr> data_;
};

} // namespace sluice::detail
