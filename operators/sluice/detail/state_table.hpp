// state_table: the hash table under keyed_state_store. Open addressing with
// linear probing; (key, value) pairs live inline in the slots, so a lookup
// touches one slot, not an index and then an entry elsewhere.
//
// Beside the slots, one control byte per slot: 0 for an empty slot, else
// 0x80 | a flag bit (0x40, the store's "changed since the checkpoint") |
// six fingerprint bits of the key's hash. A probe reads control bytes and
// compares a key only where the fingerprint matches. Removal shifts the
// rest of the probe run back (no tombstones), so a table that only grows and
// shrinks by removals keeps its probe runs short.
//
// Memory: (sizeof(pair<K, V>) + 1) bytes a slot, at most 7/8 of the slots
// in use (reserve() sizes for exactly that), plus the 64-bit hash per slot
// only for keys whose hash is not cheap to recompute (strings, vectors:
// see cheap_hash), which rehashing and removal would otherwise hash again.
// A slot's position comes from the hash's low 32 bits by multiply-shift,
// so the table's size need not be a power of two; the fingerprint comes
// from bits 32..37 (the high bits pick the key's partition: they are alike
// for all keys of one table).
#pragma once

#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sluice/detail/table_memory.hpp"
#include "sluice/detail/traits.hpp"

namespace sluice::detail {

/// True when hash_key of a T costs a few instructions (no memory beyond
/// the value): the table then recomputes hashes instead of storing them.
template <class T>
struct cheap_hash : std::bool_constant<std::is_arithmetic_v<T> || std::is_enum_v<T>> {};
template <class A, class B>
struct cheap_hash<std::pair<A, B>> : std::bool_constant<cheap_hash<A>::value
                                                        && cheap_hash<B>::value> {};
template <class... Ts>
struct cheap_hash<std::tuple<Ts...>> : std::bool_constant<(cheap_hash<Ts>::value && ...)> {};

template <class K, class V>
class state_table {
 public:
  using value_type = std::pair<K, V>;
  static constexpr size_t npos = static_cast<size_t>(-1);
  static constexpr bool stores_hash = !cheap_hash<K>::value;

  state_table() = default;
  state_table(const state_table&) = delete;
  state_table& operator=(const state_table&) = delete;
  state_table(state_table&& x) noexcept { steal(x); }
  state_table& operator=(state_table&& x) noexcept {
    if (this != &x) {
      release();
      steal(x);
    }
    return *this;
  }
  ~state_table() { release(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// The number of slots: positions are in [0, slots()).
  size_t slots() const { return cap_; }
  /// True when slot `i` holds an entry.
  bool holds(size_t i) const { return ctrl_[i] != 0; }

  value_type& at(size_t i) { return slots_[i]; }
  const value_type& at(size_t i) const { return slots_[i]; }
  /// hash_key of the key at `i` (stored or recomputed).
  uint64_t hash_at(size_t i) const {
    if constexpr (stores_hash)
      return hashes_[i];
    else
      return hash_key(slots_[i].first);
  }

  /// The flag of slot `i` (which must hold an entry); it moves with the entry.
  bool flag(size_t i) const { return (ctrl_[i] & flag_bit) != 0; }
  void set_flag(size_t i) { ctrl_[i] |= flag_bit; }
  void clear_flag(size_t i) { ctrl_[i] &= static_cast<uint8_t>(~flag_bit); }
  void clear_flags() {
    for (size_t i = 0; i < cap_; ++i)
      ctrl_[i] &= static_cast<uint8_t>(~flag_bit);
  }

  /// Calls f(i) for every flagged slot, in slot order. `f` may clear flags.
  template <class F>
  void for_each_flagged(F&& f) const {
    constexpr uint64_t flags = 0x4040404040404040ULL;
    size_t i = 0;
    for (; i + 8 <= cap_; i += 8) {
      uint64_t w;
      std::memcpy(&w, ctrl_ + i, 8);
      if (w & flags)
        for (size_t j = i; j < i + 8; ++j)
          if (ctrl_[j] & flag_bit)
            f(j);
    }
    for (; i < cap_; ++i)
      if (ctrl_[i] & flag_bit)
        f(i);
  }

  /// Calls f(i) for every slot holding an entry, in slot order. `f` must not
  /// insert or remove (see sweep).
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < cap_; ++i)
      if (ctrl_[i])
        f(i);
  }

  /// Calls f(i) once for every entry; where it returns false the entry is
  /// removed. Removal shifts later entries of the probe run back, so the
  /// sweep starts after an empty slot and re-examines a position after a
  /// removal: no entry is visited twice or skipped.
  template <class F>
  void sweep(F&& f) {
    if (size_ == 0)
      return;
    size_t start = 0;
    while (ctrl_[start])
      ++start; // at most 7/8 of the slots are in use
    for (size_t n = 1; n < cap_;) {
      size_t i = start + n < cap_ ? start + n : start + n - cap_;
      if (!ctrl_[i] || f(i))
        ++n;
      else
        erase_at(i);
    }
  }

  /// The slot of `k`, or npos. `h` must be hash_key(k).
  size_t find(const K& k, uint64_t h) const {
    if (size_ == 0)
      return npos;
    uint8_t t = tag(h);
    for (size_t i = home(h);; i = next(i)) {
      uint8_t c = ctrl_[i];
      if (c == 0)
        return npos;
      if ((c & ~flag_bit) == t && keys_equal(slots_[i].first, k))
        return i;
    }
  }

  /// Hints that `h` will be looked up soon: fetches its first control byte
  /// and slot, so a loop over a batch of keys overlaps their cache misses.
  void prefetch(uint64_t h) const {
    if (cap_ == 0)
      return;
    size_t i = home(h);
    __builtin_prefetch(ctrl_ + i);
    __builtin_prefetch(slots_ + i, 1);
  }

  /// As std::unordered_map::try_emplace: inserts (k, V(args...)) unless `k`
  /// is present, in which case neither `k` nor `args` are touched. Returns
  /// the slot and whether it was inserted. `h` must be hash_key(k). An
  /// insertion may move every entry (slots from before are void).
  template <class Kin, class... Args>
  std::pair<size_t, bool> try_emplace(Kin&& k, uint64_t h, Args&&... args) {
    if (size_ >= grow_at_)
      rehash(capacity_for(size_ + 1 > 2 * size_ ? size_ + 1 : 2 * size_));
    uint8_t t = tag(h);
    size_t i = home(h);
    for (; ctrl_[i]; i = next(i))
      if ((ctrl_[i] & ~flag_bit) == t && keys_equal(slots_[i].first, k))
        return {i, false};
    ::new (static_cast<void*>(slots_ + i))
      value_type(std::piecewise_construct, std::forward_as_tuple(std::forward<Kin>(k)),
                 std::forward_as_tuple(std::forward<Args>(args)...));
    ctrl_[i] = t;
    if constexpr (stores_hash)
      hashes_[i] = h;
    ++size_;
    return {i, true};
  }

  /// Removes the entry at `i`; entries after it in its probe run move back
  /// (their slots change).
  void erase_at(size_t i) {
    slots_[i].~value_type();
    size_t hole = i;
    for (size_t j = next(i); ctrl_[j]; j = next(j)) {
      size_t h = home(hash_at(j));
      // The entry at j may fill the hole unless its home lies in (hole, j].
      bool stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
      if (stays)
        continue;
      ::new (static_cast<void*>(slots_ + hole)) value_type(std::move(slots_[j]));
      slots_[j].~value_type();
      ctrl_[hole] = ctrl_[j];
      if constexpr (stores_hash)
        hashes_[hole] = hashes_[j];
      hole = j;
    }
    ctrl_[hole] = 0;
    --size_;
  }

  /// Room for `n` entries without rehashing.
  void reserve(size_t n) {
    if (n > grow_at_)
      rehash(capacity_for(n));
  }

  /// Removes every entry, keeping the slots.
  void clear() {
    destroy_all();
    if (cap_)
      std::memset(ctrl_, 0, cap_);
    size_ = 0;
  }

 private:
  static constexpr uint8_t flag_bit = 0x40;

  static uint8_t tag(uint64_t h) { return static_cast<uint8_t>(0x80 | ((h >> 32) & 0x3f)); }
  size_t home(uint64_t h) const {
    return static_cast<size_t>(((h & 0xffffffffULL) * static_cast<uint64_t>(cap_)) >> 32);
  }
  size_t next(size_t i) const { return i + 1 == cap_ ? 0 : i + 1; }

  /// Slots for `n` entries at a load of at most 7/8 (always one empty).
  static size_t capacity_for(size_t n) {
    size_t c = n + (n + 6) / 7 + 1;
    return c < 16 ? 16 : c;
  }
  static size_t grow_point(size_t cap) { return cap - (cap + 7) / 8; }

  void rehash(size_t cap) {
    if (cap > (size_t{1} << 32))
      throw std::length_error("sluice: a state partition holds more than 3.7 billion keys");
    state_table t;
    t.alloc(cap);
    for (size_t i = 0; i < cap_; ++i) {
      if (!ctrl_[i])
        continue;
      uint64_t h = hash_at(i);
      size_t j = t.home(h);
      while (t.ctrl_[j])
        j = t.next(j);
      ::new (static_cast<void*>(t.slots_ + j)) value_type(std::move(slots_[i]));
      slots_[i].~value_type();
      t.ctrl_[j] = ctrl_[i]; // the fingerprint and the flag
      ctrl_[i] = 0;
      if constexpr (stores_hash)
        t.hashes_[j] = h;
    }
    t.size_ = size_;
    size_ = 0;
    *this = std::move(t);
  }

  void alloc(size_t cap) {
    ctrl_ = static_cast<uint8_t*>(allocate_table(cap));
    try {
      slots_ = static_cast<value_type*>(allocate_table(cap * sizeof(value_type)));
      if constexpr (stores_hash)
        hashes_ = static_cast<uint64_t*>(allocate_table(cap * sizeof(uint64_t)));
    } catch (...) {
      free_table(slots_, cap * sizeof(value_type));
      free_table(ctrl_, cap);
      slots_ = nullptr;
      ctrl_ = nullptr;
      throw;
    }
    cap_ = cap;
    grow_at_ = grow_point(cap);
  }

  void destroy_all() {
    if constexpr (!std::is_trivially_destructible_v<value_type>)
      for (size_t i = 0; i < cap_; ++i)
        if (ctrl_[i])
          slots_[i].~value_type();
  }

  void release() {
    if (!ctrl_)
      return;
    destroy_all();
    free_table(ctrl_, cap_);
    free_table(slots_, cap_ * sizeof(value_type));
    if constexpr (stores_hash)
      free_table(hashes_, cap_ * sizeof(uint64_t));
    ctrl_ = nullptr;
    slots_ = nullptr;
    hashes_ = nullptr;
    cap_ = size_ = grow_at_ = 0;
  }

  void steal(state_table& x) {
    ctrl_ = std::exchange(x.ctrl_, nullptr);
    slots_ = std::exchange(x.slots_, nullptr);
    hashes_ = std::exchange(x.hashes_, nullptr);
    cap_ = std::exchange(x.cap_, 0);
    size_ = std::exchange(x.size_, 0);
    grow_at_ = std::exchange(x.grow_at_, 0);
  }

  uint8_t* ctrl_ = nullptr;      // cap_ bytes: 0 empty, else 0x80 | flag | fingerprint
  value_type* slots_ = nullptr;  // constructed where ctrl_ is not 0
  uint64_t* hashes_ = nullptr;   // hash_key per slot, only when stores_hash
  size_t cap_ = 0;
  size_t size_ = 0;
  size_t grow_at_ = 0;           // size_ at which the next insertion rehashes
};

} // namespace sluice::detail
