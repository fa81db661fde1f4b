// dense_map: the hash table of shuffles. Entries live in one dense vector in
// insertion order (so a finished table moves out as the partition's records,
// without copying), indexed by an open-addressing table of 32-bit slots.
// Each key is hashed once by the caller (see hash_key). An index slot holds
// the entry number and 32 bits of its hash, so a probe touches the entry
// only when those bits match.
//
// Besides the shuffles' upsert/take, it serves keyed state: find and
// try_emplace by hash, erase_at (the last entry moves into the hole, and the
// index closes the gap by backward shifting, so there are no tombstones) and
// iteration over the dense entries.
#pragma once

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

namespace sluice::detail {

template <class K, class V>
class dense_map {
 public:
  using entry = std::pair<K, V>;

  static constexpr size_t npos = static_cast<size_t>(-1);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  /// The entries, densely, in insertion order (erase_at moves the last entry
  /// into the erased one's place).
  const std::vector<entry>& entries() const { return entries_; }
  entry& at(size_t e) { return entries_[e]; }
  const entry& at(size_t e) const { return entries_[e]; }
  uint64_t hash_at(size_t e) const { return hashes_[e]; }

  /// Empties the table, keeping its capacity.
  void clear() {
    entries_.clear();
    hashes_.clear();
    std::fill(index_.begin(), index_.end(), uint64_t{0});
  }

  /// The entry number of `k`, or npos. `h` must be hash_key(k).
  size_t find(const K& k, uint64_t h) const {
    if (index_.empty())
      return npos;
    size_t mask = index_.size() - 1;
    uint64_t tag = h & 0xffffffff00000000ULL;
    for (size_t i = h & mask; auto slot = index_[i]; i = (i + 1) & mask)
      if ((slot & 0xffffffff00000000ULL) == tag) {
        auto e = static_cast<size_t>(slot & 0xffffffffULL) - 1;
        if (entries_[e].first == k)
          return e;
      }
    return npos;
  }

  /// As std::unordered_map::try_emplace: inserts (k, V(args...)) unless `k`
  /// is present, in which case neither `k` nor `args` are touched. Returns
  /// the entry number and whether it was inserted. `h` must be hash_key(k).
  template <class Kin, class... Args>
  std::pair<size_t, bool> try_emplace(Kin&& k, uint64_t h, Args&&... args) {
    if ((entries_.size() + 1) * 2 > index_.size())
      rebuild(index_.empty() ? 64 : index_.size() * 2);
    size_t mask = index_.size() - 1;
    size_t i = h & mask;
    uint64_t tag = h & 0xffffffff00000000ULL;
    while (auto slot = index_[i]) {
      if ((slot & 0xffffffff00000000ULL) == tag) {
        auto e = static_cast<size_t>(slot & 0xffffffffULL) - 1;
        if (entries_[e].first == k)
          return {e, false};
      }
      i = (i + 1) & mask;
    }
    entries_.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::forward<Kin>(k)),
                          std::forward_as_tuple(std::forward<Args>(args)...));
    hashes_.push_back(h);
    index_[i] = tag | static_cast<uint64_t>(entries_.size());
    return {entries_.size() - 1, true};
  }

  /// Removes entry `e`; the last entry takes its number.
  void erase_at(size_t e) {
    size_t mask = index_.size() - 1;
    size_t hole = slot_of(e);
    // Backward-shift deletion: move later members of the probe run up.
    for (size_t j = (hole + 1) & mask; auto slot = index_[j]; j = (j + 1) & mask) {
      size_t home = hashes_[static_cast<size_t>(slot & 0xffffffffULL) - 1] & mask;
      // The member at j may fill the hole unless its home lies in (hole, j].
      bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        index_[hole] = slot;
        hole = j;
      }
    }
    index_[hole] = 0;
    size_t last = entries_.size() - 1;
    if (e != last) {
      index_[slot_of(last)] = (hashes_[last] & 0xffffffff00000000ULL) | static_cast<uint64_t>(e + 1);
      entries_[e] = std::move(entries_[last]);
      hashes_[e] = hashes_[last];
    }
    entries_.pop_back();
    hashes_.pop_back();
  }

  void reserve(size_t n) {
    entries_.reserve(n);
    hashes_.reserve(n);
    if (n * 2 > index_.size())
      rebuild(n * 2);
  }

  /// Inserts `make(std::move(v))` under `k`, or sets the value to
  /// `merge(std::move(old), std::move(v))`. `h` must be hash_key(k).
  template <class Vin, class Make, class Merge>
  void upsert(K&& k, uint64_t h, Vin&& v, Make& make, Merge& merge) {
    if ((entries_.size() + 1) * 2 > index_.size())
      rebuild(index_.empty() ? 64 : index_.size() * 2);
    size_t mask = index_.size() - 1;
    size_t i = h & mask;
    uint64_t tag = h & 0xffffffff00000000ULL;
    while (auto slot = index_[i]) {
      if ((slot & 0xffffffff00000000ULL) == tag) {
        auto e = static_cast<size_t>(slot & 0xffffffffULL) - 1;
        if (entries_[e].first == k) {
          entries_[e].second = merge(std::move(entries_[e].second), std::forward<Vin>(v));
          return;
        }
      }
      i = (i + 1) & mask;
    }
    index_[i] = tag | static_cast<uint64_t>(entries_.size() + 1);
    hashes_.push_back(h);
    entries_.emplace_back(std::move(k), make(std::forward<Vin>(v)));
  }

  /// Returns the entries (insertion order) and empties the table; the index
  /// keeps its capacity for the next batch.
  std::vector<entry> take() {
    std::vector<uint64_t> hashes;
    return take(hashes);
  }

  /// As take(), and hands over each entry's hash too.
  std::vector<entry> take(std::vector<uint64_t>& hashes) {
    std::vector<entry> out = std::move(entries_);
    hashes = std::move(hashes_);
    entries_ = {};
    entries_.reserve(out.size());
    hashes_ = {};
    hashes_.reserve(out.size());
    std::fill(index_.begin(), index_.end(), uint64_t{0});
    return out;
  }

 private:
  /// The index slot that points at entry `e` (which must exist).
  size_t slot_of(size_t e) const {
    size_t mask = index_.size() - 1;
    size_t i = hashes_[e] & mask;
    while ((index_[i] & 0xffffffffULL) != static_cast<uint64_t>(e + 1))
      i = (i + 1) & mask;
    return i;
  }

  void rebuild(size_t capacity) {
    size_t n = 64;
    while (n < capacity)
      n *= 2;
    index_.assign(n, uint64_t{0});
    size_t mask = n - 1;
    for (size_t e = 0; e < hashes_.size(); ++e) {
      size_t i = hashes_[e] & mask;
      while (index_[i])
        i = (i + 1) & mask;
      index_[i] = (hashes_[e] & 0xffffffff00000000ULL) | static_cast<uint64_t>(e + 1);
    }
  }

  std::vector<uint64_t> index_;  // 0: empty; else hash bits 32..63 | entry + 1
  std::vector<uint64_t> hashes_;
  std::vector<entry> entries_;
};

} // namespace sluice::detail
