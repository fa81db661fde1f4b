// Shuffle operators: combine_by_key (reduce_by_key), group_by_key,
// repartition and cogroup (the join family). The map side runs at the end
// of the parent's chain and combines before sending (map-side combine).
#pragma once

#include <unordered_map>
#include <utility>
#include <vector>

#include "sluice/detail/dense_map.hpp"
#include "sluice/detail/hash.hpp"
#include "sluice/node.hpp"

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
template <class K, class V, class C, class Create, class MergeValue>
class combine_writer final : public emitter<std::pair<K, V>>, public bucket_writer_base {
 public:
  combine_writer(int n, Create create, MergeValue merge)
      : maps_(static_cast<size_t>(n)), create_(std::move(create)), merge_(std::move(merge)) {}
  void open(int32_t) override {}
  void close() override {}
  void push(std::pair<K, V>&& x) override {
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

template <class K, class V, class C, class Create, class MergeValue, class MergeCombiners>
class combine_node final : public node<std::pair<K, C>> {
 public:
  combine_node(std::string name, node_base* parent, int n, Create create, MergeValue mv,
               MergeCombiners mc)
      : node<std::pair<K, C>>(node_kind::shuffle, std::move(name), parent->slide(), {parent}),
        n_(n), create_(std::move(create)), merge_value_(std::move(mv)),
        merge_combiners_(std::move(mc)) {}

  int partitions() const override { return n_; }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    return std::make_unique<combine_writer<K, V, C, Create, MergeValue>>(n_, create_,
                                                                         merge_value_);
  }
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
    dense_map<K, C> m;
    m.reserve(total);
    for (auto& bucket : ports[0]) {
      auto b = unwrap(bucket);
      for (size_t i = 0; i < b.entries.size(); ++i)
        m.upsert(std::move(b.entries[i].first), b.hashes[i], std::move(b.entries[i].second), keep,
                 merge);
    }
    return erase(m.take());
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
