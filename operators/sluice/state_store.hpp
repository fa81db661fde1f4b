// keyed_state_store: the state of one partition of a stateful operator,
// owned by that partition's operator actor (DESIGN.md: keyed by operator id
// and partition). It tracks which keys changed or were removed since the last
// checkpoint, so checkpoints can write deltas and partitions can move.
//
// The keys live in a dense_map (open addressing over a dense entry vector),
// hashed with detail::hash_key, the hash that also picks a key's partition;
// callers that already hold that hash pass it in. Change tracking costs a
// flag per entry: a key is appended to the dirty list only when its flag
// goes from clean to dirty, so repeated writes of a key cost nothing extra.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sluice/shuffle.hpp"
#include "sluice/codec.hpp"
#include "sluice/detail/traits.hpp"
#include "sluice/error.hpp"

namespace sluice {

template <class K, class S>
class keyed_state_store {
 public:
  struct entry {
    S value;
    int64_t updated_ms = 0;  ///< batch time of the last update (SEMANTICS §4.24)
    bool dirty = false;      ///< written since the last checkpoint
  };
  using map_type = detail::dense_map<K, entry>;
  using value_type = typename map_type::entry;  ///< std::pair<K, entry>
  static constexpr size_t npos = map_type::npos;

  static uint64_t hash(const K& k) { return detail::hash_key(k); }

  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  void reserve(size_t n) { map_.reserve(n); }

  const entry* find(const K& k) const { return find(k, hash(k)); }
  /// `h` must be hash(k).
  const entry* find(const K& k, uint64_t h) const {
    auto i = map_.find(k, h);
    return i == npos ? nullptr : &map_.at(i).second;
  }

  /// The position of `k` (valid until the next insert or removal), or npos.
  size_t index_of(const K& k, uint64_t h) const { return map_.find(k, h); }
  const value_type& at(size_t i) const { return map_.at(i); }
  uint64_t hash_at(size_t i) const { return map_.hash_at(i); }

  void put(const K& k, S value, int64_t t) { put(k, hash(k), std::move(value), t); }

  /// Inserts or assigns; `h` must be hash(k).
  template <class Kin>
  void put(Kin&& k, uint64_t h, S value, int64_t t) {
    // The entry is made only on insertion, so `value` is still there to
    // assign otherwise.
    struct make_entry {
      S& value;
      int64_t t;
      operator entry() const { return entry{std::move(value), t}; }
    };
    auto [i, fresh] = map_.try_emplace(std::forward<Kin>(k), h, make_entry{value, t});
    if (fresh) {
      if (!removed_.empty())
        removed_.erase(map_.at(i).first);
    } else {
      auto& e = map_.at(i).second;
      e.value = std::move(value);
      e.updated_ms = t;
    }
    mark_dirty(i);
  }

  /// Assigns the entry at position `i`.
  void put_at(size_t i, S value, int64_t t) {
    auto& e = map_.at(i).second;
    e.value = std::move(value);
    e.updated_ms = t;
    mark_dirty(i);
  }

  /// Re-stamps a key without changing its value.
  void touch(const K& k, int64_t t) {
    if (auto i = map_.find(k, hash(k)); i != npos)
      touch_at(i, t);
  }

  void touch_at(size_t i, int64_t t) {
    map_.at(i).second.updated_ms = t;
    mark_dirty(i);
  }

  void remove(const K& k) { remove(k, hash(k)); }

  void remove(const K& k, uint64_t h) {
    if (auto i = map_.find(k, h); i != npos)
      remove_at(i);
  }

  /// Removes the entry at position `i`; the last entry moves to `i`.
  void remove_at(size_t i) {
    removed_.insert(map_.at(i).first);
    map_.erase_at(i);
  }

  /// All (key, entry) pairs, densely (no order to rely on).
  const std::vector<value_type>& entries() const { return map_.entries(); }

  /// Keys written since the last `mark_checkpointed()` (and still present).
  std::vector<K> changed() const {
    std::vector<K> out;
    std::unordered_set<K, key_hash<K>> seen;
    for (auto& k : dirty_)
      if (auto* e = find(k); e && e->dirty && seen.insert(k).second)
        out.push_back(k);
    return out;
  }

  /// Keys removed since the last `mark_checkpointed()` (and not put back).
  const std::unordered_set<K, key_hash<K>>& removed() const { return removed_; }

  /// Codec bytes of the changed entries (every entry when `full`) and of
  /// the removed keys, then mark_checkpointed(). Values carry their update
  /// time. Throws sluice::error when K or S has no codec.
  void checkpoint(bool full, std::vector<std::pair<std::string, std::string>>& upserts,
                  std::vector<std::string>& removed_keys) {
    if constexpr (encodable<K> && encodable<S>) {
      auto add = [&](const K& k, const entry& e) {
        upserts.emplace_back(encode_to_string(k),
                             encode_to_string(std::pair<S, int64_t>{e.value, e.updated_ms}));
      };
      if (full) {
        for (auto& [k, e] : map_.entries())
          add(k, e);
        mark_checkpointed();
      } else {
        // One lookup per listed key; clearing the flag as it goes skips a
        // key listed twice (removed and put back while dirty).
        for (auto& k : dirty_) {
          auto i = map_.find(k, hash(k));
          if (i == npos)
            continue;
          auto& [key, e] = map_.at(i);
          if (!e.dirty)
            continue;
          e.dirty = false;
          add(key, e);
        }
        for (auto& k : removed_)
          removed_keys.push_back(encode_to_string(k));
        dirty_.clear();
        removed_.clear();
      }
    } else {
      throw error("checkpointing state needs a sluice::codec for its key and state types");
    }
  }

  /// Replaces the content with the checkpointed entries (in their order),
  /// all clean as mark_checkpointed() leaves them. The checkpoint is the
  /// whole state as of its batch: what the store held before (an operator's
  /// initial state, loaded when its slot state is made) must not survive,
  /// or a key removed before the checkpoint would come back (Spark applies
  /// the initial state only to a run that starts without a checkpoint).
  void restore(const state_entries& entries) {
    if constexpr (encodable<K> && encodable<S>) {
      map_.clear();
      dirty_.clear();
      removed_.clear();
      // Entries go in clean: listing each as dirty only to clean it again
      // cost a second lookup per key.
      map_.reserve(entries.size());
      for (auto& [kb, vb] : entries) {
        auto v = decode_from_string<std::pair<S, int64_t>>(vb);
        auto k = decode_from_string<K>(kb);
        auto h = hash(k);
        entry e{std::move(v.first), v.second};
        if (auto [i, fresh] = map_.try_emplace(std::move(k), h, std::move(e)); !fresh) {
          // try_emplace left `e` alone.
          auto& cur = map_.at(i).second;
          cur.value = std::move(e.value);
          cur.updated_ms = e.updated_ms;
        }
      }
      mark_checkpointed();
    } else {
      throw error("restoring state needs a sluice::codec for its key and state types");
    }
  }

  void mark_checkpointed() {
    for (auto& k : dirty_)
      if (auto i = map_.find(k, hash(k)); i != npos)
        map_.at(i).second.dirty = false;
    dirty_.clear();
    removed_.clear();
  }

 private:
  void mark_dirty(size_t i) {
    auto& [k, e] = map_.at(i);
    if (e.dirty)
      return;
    e.dirty = true;
    // A key removed and put back while dirty is listed again; compact when
    // such repeats make up half the list, so it stays O(keys).
    if (dirty_.size() >= 2 * map_.size() + 64)
      compact_dirty(); // lists k too
    else
      dirty_.push_back(k);
  }

  void compact_dirty() {
    dirty_.clear();
    for (auto& [k, e] : map_.entries())
      if (e.dirty)
        dirty_.push_back(k);
  }

  map_type map_;
  std::vector<K> dirty_;  // keys whose flag went clean -> dirty (may repeat)
  std::unordered_set<K, key_hash<K>> removed_;
};

} // namespace sluice
