// Type-erased partitions: how typed records travel through untyped actors.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace sluice::detail {

/// Owns a `std::vector<T>` for the producing node's record type T. Shared
/// only on fan-out; a sole owner moves records out instead of copying them.
using erased = std::shared_ptr<void>;

template <class T>
erased erase(std::vector<T>&& v) {
  return std::make_shared<std::vector<T>>(std::move(v));
}

/// Returns the records of `p`, moved when `p` is their only owner.
template <class T>
std::vector<T> take(erased& p) {
  if (!p)
    return {};
  auto* v = static_cast<std::vector<T>*>(p.get());
  std::vector<T> result = p.use_count() == 1 ? std::move(*v) : *v;
  p.reset();
  return result;
}

template <class T>
const std::vector<T>& view(const erased& p) {
  return *static_cast<const std::vector<T>*>(p.get());
}

/// One partition of a batch: its index in the RDD and its records.
struct part {
  int32_t index = 0;
  erased data;
};

using parts = std::vector<part>;

} // namespace sluice::detail
