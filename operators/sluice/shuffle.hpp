// Shuffle operators: combine_by_key (reduce_by_key), group_by_key,
// repartition and cogroup (the join family). The map side runs at the end
// of the parent's chain and combines before sending (map-side combine).
#pragma once

#include <cstdint>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sluice/detail/traits.hpp"
#include "sluice/node.hpp"

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
    index_.assign(index_.size(), uint64_t{0});
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
        if (keys_equal(entries_[e].first, k))
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
        if (keys_equal(entries_[e].first, k))
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

  /// Hints that `h` will be looked up soon: fetches its home index slot.
  void prefetch(uint64_t h) const {
    if (!index_.empty())
      __builtin_prefetch(index_.data() + (h & (index_.size() - 1)));
  }
  /// The second hint, once prefetch(h) has had time: fetches the entry the
  /// home slot names (the match, unless another key sits there).
  void prefetch_entry(uint64_t h) const {
    if (index_.empty())
      return;
    if (uint64_t slot = index_[h & (index_.size() - 1)])
      __builtin_prefetch(entries_.data() + (slot & 0xffffffffULL) - 1);
  }

  /// Takes `entries` (distinct keys) and their hashes as the table's whole
  /// content, without comparing keys; the index is sized for `expected`
  /// entries (at least the adopted ones). The table must be empty.
  void adopt(std::vector<entry>&& entries, std::vector<uint64_t>&& hashes, size_t expected = 0) {
    entries_ = std::move(entries);
    hashes_ = std::move(hashes);
    rebuild((expected > entries_.size() ? expected : entries_.size()) * 2);
  }

  /// Inserts `make(std::forward<Vin>(v))` under `k`, or sets the value to
  /// `merge(std::move(old), std::forward<Vin>(v))`. `h` must be hash_key(k);
  /// a key given as an lvalue is copied only when it is inserted, and a key
  /// that views (std::string_view for K = std::string) is made a K then.
  template <class Kin, class Vin, class Make, class Merge>
  void upsert(Kin&& k, uint64_t h, Vin&& v, Make& make, Merge& merge) {
    if ((entries_.size() + 1) * 2 > index_.size())
      rebuild(index_.empty() ? 64 : index_.size() * 2);
    size_t mask = index_.size() - 1;
    size_t i = h & mask;
    uint64_t tag = h & 0xffffffff00000000ULL;
    while (auto slot = index_[i]) {
      if ((slot & 0xffffffff00000000ULL) == tag) {
        auto e = static_cast<size_t>(slot & 0xffffffffULL) - 1;
        if (keys_equal(entries_[e].first, k)) {
          entries_[e].second = merge(std::move(entries_[e].second), std::forward<Vin>(v));
          return;
        }
      }
      i = (i + 1) & mask;
    }
    index_[i] = tag | static_cast<uint64_t>(entries_.size() + 1);
    hashes_.push_back(h);
    entries_.emplace_back(std::forward<Kin>(k), make(std::forward<Vin>(v)));
  }

  /// Returns the entries (insertion order) and hands over their hashes;
  /// the table is left empty, keeping its index's capacity and reserving the
  /// same number of entries for the next batch.
  std::vector<entry> take(std::vector<uint64_t>& hashes) {
    std::vector<entry> out = std::move(entries_);
    hashes = std::move(hashes_);
    entries_ = {};
    entries_.reserve(out.size());
    hashes_ = {};
    hashes_.reserve(out.size());
    index_.assign(index_.size(), uint64_t{0});
    return out;
  }

  /// The entries (insertion order) of a table that is done with: unlike
  /// take(), nothing is allocated or cleared for another batch.
  std::vector<entry> release() && { return std::move(entries_); }

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

/// Runs body(i) for i in [0, n), where item i's lookup in `m` goes by
/// hash(i): the home slot of item i + 16 and the entry of item i + 8 are
/// fetched first, so the cache misses of a loop over hashed keys overlap
/// instead of coming one after another. Hints only: body may change `m`.
template <class Map, class Hash, class Body>
void for_each_prefetched(const Map& m, size_t n, Hash hash, Body body) {
  constexpr size_t slot_ahead = 16, entry_ahead = 8;
  for (size_t i = 0; i < n && i < slot_ahead; ++i)
    m.prefetch(hash(i));
  for (size_t i = 0; i < n; ++i) {
    if (i + slot_ahead < n)
      m.prefetch(hash(i + slot_ahead));
    if (i + entry_ahead < n)
      m.prefetch_entry(hash(i + entry_ahead));
    body(i);
  }
}

} // namespace sluice::detail


namespace sluice::detail {

template <class K, class C>
using key_map = std::unordered_map<K, C, key_hash<K>>;

/// A combined bucket on its way to a reducer, with each key's hash so the
/// reducer does not hash again.
template <class K, class C>
struct hashed_bucket {
  std::vector<std::pair<K, C>> entries;
  std::vector<uint64_t> hashes;
};

} // namespace sluice::detail

namespace sluice {

/// A combined bucket crosses a process as its entries; the receiving side
/// hashes the keys again (the same function in every process).
template <class K, class C>
  requires encodable<std::pair<K, C>>
struct codec<detail::hashed_bucket<K, C>> {
  static void encode(const detail::hashed_bucket<K, C>& b, std::string& out) {
    codec<std::vector<std::pair<K, C>>>::encode(b.entries, out);
  }
  static detail::hashed_bucket<K, C> decode(std::string_view& in) {
    detail::hashed_bucket<K, C> b;
    b.entries = codec<std::vector<std::pair<K, C>>>::decode(in);
    b.hashes.reserve(b.entries.size());
    for (auto& e : b.entries)
      b.hashes.push_back(detail::hash_key(e.first));
    return b;
  }
};

} // namespace sluice

namespace sluice::detail {

/// Map side of combine_by_key: one table per reducer, each key hashed once.
/// Its records' keys are `Kin`; the tables keep `K`s: when Kin views
/// (K = owned_t<Kin>), a key is made owning once, when it is inserted, and
/// nothing the writer keeps refers to the records it was pushed.
template <class K, class V, class C, class Create, class MergeValue, class Kin = K>
class combine_writer final : public emitter<std::pair<Kin, V>>, public bucket_writer_base {
  static_assert(!holds_views<K> && !holds_views<C>, "the tables keep owning keys and combiners");

 public:
  combine_writer(int n, Create create, MergeValue merge)
      : maps_(static_cast<size_t>(n)), create_(std::move(create)), merge_(std::move(merge)) {}
  void open(int32_t) override {}
  void close() override {}
  void push(std::pair<Kin, V>&& x) override {
    auto h = hash_key(x.first);
    auto& m = maps_[static_cast<size_t>(partition_of_hash(h, static_cast<int>(maps_.size())))];
    m.upsert(std::move(x.first), h, std::move(x.second), create_, merge_);
  }
  emitter_base* input() override { return this; }
  std::vector<erased> take() override {
    std::vector<erased> out;
    out.reserve(maps_.size());
    for (auto& m : maps_) {
      std::vector<hashed_bucket<K, C>> one(1);
      one[0].entries = m.take(one[0].hashes);
      out.push_back(erase(std::move(one)));
    }
    return out;
  }

 private:
  std::vector<dense_map<K, C>> maps_;
  Create create_;
  MergeValue merge_;
};

/// combine_by_key. Its parent's keys are `Kin`, its own K = owned_t<Kin>:
/// records that view their input may be combined by key in the stage that
/// made them (the writer keeps owning keys).
template <class K, class V, class C, class Create, class MergeValue, class MergeCombiners,
          class Kin = K>
class combine_node final : public node<std::pair<K, C>> {
 public:
  combine_node(std::string name, node_base* parent, int n, Create create, MergeValue mv,
               MergeCombiners mc)
      : node<std::pair<K, C>>(node_kind::shuffle, std::move(name), parent->slide(), {parent}),
        n_(n), create_(std::move(create)), merge_value_(std::move(mv)),
        merge_combiners_(std::move(mc)) {}

  int partitions() const override { return n_; }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<combine_writer<K, V, C, Create, MergeValue, Kin>>(n_, create_,
                                                                              merge_value_);
  }
  bool owns_what_parents_view() const override { return true; }
  std::string bucket_codec_problem() const override { return this->record_codec_problem(); }

  erased reduce(std::vector<std::vector<erased>>& ports) const override {
    auto merge = merge_combiners_;
    auto keep = [](C&& c) -> C&& { return std::move(c); };
    auto unwrap = [](erased& e) { return std::move(take<hashed_bucket<K, C>>(e)[0]); };
    if (ports[0].size() == 1) // one sender: its bucket is already combined
      return erase(unwrap(ports[0][0]).entries);
    size_t total = 0;
    for (auto& bucket : ports[0])
      total += view<hashed_bucket<K, C>>(bucket)[0].entries.size();
    // The first sender's bucket (distinct keys) becomes the table as it is,
    // in its order: the others' keys are looked up in it, and new ones
    // follow, the same order as upserting every bucket into an empty table.
    auto first = unwrap(ports[0][0]);
    first.entries.reserve(total);
    first.hashes.reserve(total);
    dense_map<K, C> m;
    m.adopt(std::move(first.entries), std::move(first.hashes), total);
    for (size_t s = 1; s < ports[0].size(); ++s) {
      auto b = unwrap(ports[0][s]);
      for_each_prefetched(m, b.entries.size(), [&](size_t i) { return b.hashes[i]; },
                          [&](size_t i) {
                            m.upsert(std::move(b.entries[i].first), b.hashes[i],
                                     std::move(b.entries[i].second), keep, merge);
                          });
    }
    return erase(std::move(m).release());
  }

 private:
  int n_;
  Create create_;
  MergeValue merge_value_;
  MergeCombiners merge_combiners_;
};

/// Map side without combining: records go to their key's bucket as they are.
template <class T, class Route>
class route_writer final : public emitter<T>, public bucket_writer_base {
 public:
  route_writer(int n, Route route)
      : buckets_(static_cast<size_t>(n)), initial_(route), route_(std::move(route)) {}
  void open(int32_t p) override { partition_ = p; }
  void close() override {}
  void push(T&& x) override {
    auto b = static_cast<size_t>(route_(x, partition_, static_cast<int>(buckets_.size())));
    buckets_[b].push_back(std::move(x));
  }
  emitter_base* input() override { return this; }
  std::vector<erased> take() override {
    std::vector<erased> out;
    for (auto& b : buckets_) {
      out.push_back(erase(std::move(b)));
      b = {};
    }
    route_ = initial_; // the writer is reused for the next batch
    return out;
  }

 private:
  std::vector<std::vector<T>> buckets_;
  Route initial_;
  Route route_;
  int32_t partition_ = 0;
};

struct by_key {
  template <class P>
  int operator()(const P& x, int32_t, int n) const { return partition_of(x.first, n); }
};

/// Spreads records round-robin, starting at the input partition's index
/// (Spark starts at a random position; this is the deterministic variant).
struct round_robin {
  int next = -1;
  template <class T>
  int operator()(const T&, int32_t partition, int n) {
    if (next < 0)
      next = partition % n;
    int r = next;
    next = (next + 1) % n;
    return r;
  }
};

template <class T>
class repartition_node final : public node<T> {
 public:
  repartition_node(node_base* parent, int n)
      : node<T>(node_kind::shuffle, "repartition", parent->slide(), {parent}), n_(n) {}
  int partitions() const override { return n_; }
  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<route_writer<T, round_robin>>(n_, round_robin{});
  }
  erased reduce(std::vector<std::vector<erased>>& ports) const override {
    std::vector<T> out;
    for (auto& bucket : ports[0]) {
      auto v = take<T>(bucket);
      out.insert(out.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    }
    return erase(std::move(out));
  }

 private:
  int n_;
};

/// group_by_key (one parent) and cogroup (two parents): records travel
/// uncombined; the reducer groups them per key, in arrival order, then `Emit`
/// turns each key's groups into output records (join variants).
template <class K, class V, class W, class Out, class Emit>
class cogroup_node final : public node<Out> {
 public:
  cogroup_node(std::string name, std::vector<node_base*> parents, int n, Emit emit)
      : node<Out>(node_kind::shuffle, std::move(name), parents[0]->slide(), parents), n_(n),
        emit_(std::move(emit)) {}
  int partitions() const override { return n_; }
  std::unique_ptr<bucket_writer_base> make_writer(size_t port) const override {
    if (port == 0)
      return std::make_unique<route_writer<std::pair<K, V>, by_key>>(n_, by_key{});
    return std::make_unique<route_writer<std::pair<K, W>, by_key>>(n_, by_key{});
  }
  erased reduce(std::vector<std::vector<erased>>& ports) const override {
    std::vector<K> order; // first-seen order keeps a reducer's output deterministic
    key_map<K, std::pair<std::vector<V>, std::vector<W>>> groups;
    auto slot = [&](K& k) -> auto& {
      auto [i, fresh] = groups.try_emplace(k);
      if (fresh)
        order.push_back(k);
      return i->second;
    };
    for (auto& bucket : ports[0])
      for (auto& [k, v] : take<std::pair<K, V>>(bucket))
        slot(k).first.push_back(std::move(v));
    if (ports.size() > 1)
      for (auto& bucket : ports[1])
        for (auto& [k, w] : take<std::pair<K, W>>(bucket))
          slot(k).second.push_back(std::move(w));
    std::vector<Out> out;
    for (auto& k : order) {
      auto& g = groups[k];
      emit_(k, std::move(g.first), std::move(g.second), out);
    }
    return erase(std::move(out));
  }

 private:
  int n_;
  Emit emit_;
};

} // namespace sluice::detail
