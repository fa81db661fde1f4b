// keyed_state_store: the state of one partition of a stateful operator,
// owned by that partition's operator actor (DESIGN.md: keyed by operator id
// and partition). It tracks which keys changed or were removed since the last
// checkpoint, so checkpoints can write deltas and partitions can move.
//
// The keys live in a state_table (open addressing, entries inline), hashed
// with detail::hash_key, the hash that also picks a key's partition; callers
// that already hold that hash pass it in. Change tracking costs one bit per
// key, in the table's control byte: a delta checkpoint scans those bytes (a
// byte a slot) instead of keeping a list of changed keys.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sluice/codec.hpp"
#include "sluice/state_rows.hpp"
#include "sluice/detail/state_table.hpp"
#include "sluice/detail/traits.hpp"
#include "sluice/error.hpp"

namespace sluice {

template <class K, class S>
class keyed_state_store {
 public:
  struct entry {
    S value;
    int64_t updated_ms = 0;  ///< batch time of the last update (SEMANTICS §4.24)
  };
  using table_type = detail::state_table<K, entry>;
  using value_type = typename table_type::value_type;  ///< std::pair<K, entry>
  static constexpr size_t npos = table_type::npos;

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
  /// Hints that `h` is looked up soon (see state_table::prefetch).
  void prefetch(uint64_t h) const { map_.prefetch(h); }
  /// Nothing: entries live in their slots, which prefetch(h) fetched.
  void prefetch_entry(uint64_t) const {}

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
    map_.set_flag(i);
  }

  /// Assigns the entry at position `i`.
  void put_at(size_t i, S value, int64_t t) {
    auto& e = map_.at(i).second;
    e.value = std::move(value);
    e.updated_ms = t;
    map_.set_flag(i);
  }

  /// Re-stamps a key without changing its value.
  void touch(const K& k, int64_t t) {
    if (auto i = map_.find(k, hash(k)); i != npos)
      touch_at(i, t);
  }

  void touch_at(size_t i, int64_t t) {
    map_.at(i).second.updated_ms = t;
    map_.set_flag(i);
  }

  void remove(const K& k) { remove(k, hash(k)); }

  void remove(const K& k, uint64_t h) {
    if (auto i = map_.find(k, h); i != npos)
      remove_at(i);
  }

  /// Removes the entry at position `i`; other entries may move (positions
  /// from before are void).
  void remove_at(size_t i) {
    removed_.insert(map_.at(i).first);
    map_.erase_at(i);
  }

  /// Calls f(key, entry) for every entry (no order to rely on).
  template <class F>
  void for_each(F&& f) const {
    map_.for_each([&](size_t i) {
      auto& [k, e] = map_.at(i);
      f(k, e);
    });
  }

  /// Calls f(i) once for every entry; f may put_at(i, ...) or touch_at(i, ...)
  /// and returns false to have the entry removed (as remove_at(i)).
  template <class F>
  void sweep(F&& f) {
    map_.sweep([&](size_t i) {
      if (f(i))
        return true;
      removed_.insert(map_.at(i).first);
      return false;
    });
  }

  /// Keys written since the last `mark_checkpointed()` (and still present).
  std::vector<K> changed() const {
    std::vector<K> out;
    map_.for_each_flagged([&](size_t i) { out.push_back(map_.at(i).first); });
    return out;
  }

  /// Keys removed since the last `mark_checkpointed()` (and not put back).
  const std::unordered_set<K, key_hash<K>>& removed() const { return removed_; }

  /// Codec bytes of the changed entries (every entry when `full`) and of
  /// the removed keys, then mark_checkpointed(). Values carry their update
  /// time. Throws sluice::error when K or S has no codec.
  void checkpoint(bool full, state_rows& upserts, std::vector<std::string>& removed_keys) {
    if constexpr (encodable<K> && encodable<S>) {
      // The value's bytes are those of std::pair<S, int64_t>{value, updated_ms}
      // (a pair encodes as its two elements in order), with no copy of S.
      auto add = [&](size_t i) {
        auto& [k, e] = map_.at(i);
        upserts.add_encoded([&](std::string& out) { codec<K>::encode(k, out); },
                            [&](std::string& out) {
                              codec<S>::encode(e.value, out);
                              codec<int64_t>::encode(e.updated_ms, out);
                            });
      };
      if (full) {
        // The snapshot's rows in one allocation, sized from its first rows:
        // a buffer grown by doubling leaves its smaller copies behind in the
        // allocator (a thread's arena keeps what is freed at its top).
        size_t n = 0, before = upserts.packed_bytes();
        map_.for_each([&](size_t i) {
          add(i);
          if (++n == 256 && map_.size() > 2 * n)
            upserts.reserve((upserts.packed_bytes() - before) * (map_.size() - n) / n * 9 / 8);
        });
        mark_checkpointed();
      } else {
        map_.for_each_flagged([&](size_t i) {
          add(i);
          map_.clear_flag(i);
        });
        for (auto& k : removed_)
          removed_keys.push_back(encode_to_string(k));
        removed_.clear();
      }
    } else {
      throw error("checkpointing state needs a sluice::codec for its key and state types");
    }
  }

  /// Replaces the content with the checkpointed entries, all clean as
  /// mark_checkpointed() leaves them. The checkpoint is the whole state as
  /// of its batch: what the store held before (an operator's initial state,
  /// loaded when its slot state is made) must not survive, or a key removed
  /// before the checkpoint would come back (Spark applies the initial state
  /// only to a run that starts without a checkpoint).
  void restore(const state_entries& entries) {
    if constexpr (encodable<K> && encodable<S>) {
      map_.clear();
      removed_.clear();
      map_.reserve(entries.size());
      for (auto& [kb, vb] : entries)
        restore_entry(map_, kb, vb);
    } else {
      throw error("restoring state needs a sluice::codec for its key and state types");
    }
  }

  /// As restore, from checkpoint chunks (checkpoint_store::read_state_chunks:
  /// StateCheckpointChunk payloads in the order they apply), applied in that
  /// order straight into the table: for each key its last change wins and a
  /// removal erases it, the state restore(read_state(...)) leaves.
  void restore_chunks(const std::vector<std::string>& chunks) {
    if constexpr (encodable<K> && encodable<S>) {
      map_.clear();
      removed_.clear();
      map_.reserve(first_checkpoint_size_hint(chunks));
      struct apply final : state_change_visitor {
        table_type& map;
        explicit apply(table_type& m) : map(m) {}
        void upsert(std::string_view kb, std::string_view vb) override {
          restore_entry(map, kb, vb);
        }
        void remove(std::string_view kb) override {
          auto k = decode_from_string<K>(kb);
          if (auto i = map.find(k, hash(k)); i != npos)
            map.erase_at(i);
        }
      } a{map_};
      for_each_state_change(chunks, a);
    } else {
      (void) chunks;
      throw error("restoring state needs a sluice::codec for its key and state types");
    }
  }

  void mark_checkpointed() {
    map_.clear_flags();
    removed_.clear();
  }

 private:
  /// Puts one checkpointed (key bytes, (state, updated_ms) bytes) into `map`,
  /// replacing the key's entry if it has one: restore's and restore_chunks' step.
  static void restore_entry(table_type& map, std::string_view kb, std::string_view vb) {
    auto v = decode_from_string<std::pair<S, int64_t>>(vb);
    auto k = decode_from_string<K>(kb);
    auto h = hash(k);
    entry e{std::move(v.first), v.second};
    if (auto [i, fresh] = map.try_emplace(std::move(k), h, std::move(e)); !fresh) {
      auto& cur = map.at(i).second; // try_emplace left `e` alone
      cur.value = std::move(e.value);
      cur.updated_ms = e.updated_ms;
    }
  }

  table_type map_;  // the flag of a slot: written since the last checkpoint
  std::unordered_set<K, key_hash<K>> removed_;
};

} // namespace sluice
