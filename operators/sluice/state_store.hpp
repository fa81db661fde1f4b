// keyed_state_store: the state of one partition of a stateful operator,
// owned by that partition's operator actor (DESIGN.md: keyed by operator id
// and partition). It tracks which keys changed or were removed since the last
// checkpoint, so checkpoints can write deltas and partitions can move.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sluice/detail/hash.hpp"

namespace sluice {

template <class K, class S>
class keyed_state_store {
 public:
  struct entry {
    S value;
    int64_t updated_ms = 0;  ///< batch time of the last update (SEMANTICS §4.24)
  };
  using map_type = std::unordered_map<K, entry, key_hash<K>>;

  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }

  const entry* find(const K& k) const {
    auto i = map_.find(k);
    return i == map_.end() ? nullptr : &i->second;
  }

  void put(const K& k, S value, int64_t t) {
    map_.insert_or_assign(k, entry{std::move(value), t});
    changed_.insert(k);
    removed_.erase(k);
  }

  /// Re-stamps a key without changing its value.
  void touch(const K& k, int64_t t) {
    if (auto i = map_.find(k); i != map_.end()) {
      i->second.updated_ms = t;
      changed_.insert(k);
    }
  }

  void remove(const K& k) {
    if (map_.erase(k) > 0) {
      changed_.erase(k);
      removed_.insert(k);
    }
  }

  const map_type& entries() const { return map_; }

  /// Keys written since the last `mark_checkpointed()`.
  const std::unordered_set<K, key_hash<K>>& changed() const { return changed_; }
  /// Keys removed since the last `mark_checkpointed()`.
  const std::unordered_set<K, key_hash<K>>& removed() const { return removed_; }

  void mark_checkpointed() {
    changed_.clear();
    removed_.clear();
  }

 private:
  map_type map_;
  std::unordered_set<K, key_hash<K>> changed_;
  std::unordered_set<K, key_hash<K>> removed_;
};

} // namespace sluice
