// pending_batches: what a stage slot or a gather has received of each batch
// still incomplete, keyed by batch time.
#pragma once

#include <cstdint>
#include <map>

namespace sluice::detail {

/// A map from batch time to `Pending` that keeps the entry of the batch
/// finished last for the next one: a batch then allocates no map node, and
/// the entry's vectors keep their capacity. `Pending::reset(...)` readies a
/// new or reused entry.
template <class Pending>
class pending_batches {
 public:
  /// The entry of batch t, made (and reset with `args`) if t has none.
  template <class... Args>
  Pending& at(int64_t t, const Args&... args) {
    if (auto i = map_.find(t); i != map_.end())
      return i->second;
    typename map_type::iterator i;
    if (spare_) {
      spare_.key() = t;
      i = map_.insert(std::move(spare_)).position;
    } else {
      i = map_.try_emplace(t).first;
    }
    i->second.reset(args...);
    return i->second;
  }

  /// Removes batch t's entry, kept for the next batch.
  void finish(int64_t t) {
    if (auto node = map_.extract(t))
      spare_ = std::move(node);
  }

 private:
  using map_type = std::map<int64_t, Pending>;
  map_type map_;
  typename map_type::node_type spare_;
};

} // namespace sluice::detail
