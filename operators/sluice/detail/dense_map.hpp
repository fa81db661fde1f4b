// dense_map: the hash table of shuffles. Entries live in one dense vector in
// insertion order (so a finished table moves out as the partition's records,
// without copying), indexed by an open-addressing table of 32-bit slots.
// Each key is hashed once by the caller (see hash_key). An index slot holds
// the entry number and 32 bits of its hash, so a probe touches the entry
// only when those bits match.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace sluice::detail {

template <class K, class V>
class dense_map {
 public:
  using entry = std::pair<K, V>;

  size_t size() const { return entries_.size(); }

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
