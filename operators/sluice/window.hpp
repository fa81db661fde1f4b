// Windows (SEMANTICS §2): window(w, s) as a gather that remembers its
// parent's batches, and the incremental reduce_by_key_and_window with an
// inverse function as a stateful reducer.
#pragma once

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

#include "sluice/error.hpp"
#include "sluice/shuffle.hpp"
#include "sluice/map_with_state.hpp"

namespace sluice::detail {

/// The positions of `keys` in ascending key order (out of line, so that the
/// public headers stay free of <algorithm>; O(n log n): a long window of
/// short batches remembers hundreds of thousands).
std::vector<size_t> sorted_order(const std::vector<int64_t>& keys);

/// Sorts `v` by `key(element)` (distinct batch times), ascending.
template <class E, class Key>
void sort_by_time(std::vector<E>& v, Key key) {
  std::vector<int64_t> keys;
  keys.reserve(v.size());
  for (auto& e : v)
    keys.push_back(key(e));
  std::vector<E> sorted;
  sorted.reserve(v.size());
  for (auto i : sorted_order(keys))
    sorted.push_back(std::move(v[i]));
  v = std::move(sorted);
}

/// window(w, s) at T: the parent's batches in (T - w, T], partitions in time
/// order. Batches are shared between windows (a consumer copies on take).
template <class T>
class window_node final : public node<T> {
 public:
  window_node(node_base* parent, duration window, duration slide)
      : node<T>(node_kind::gather, "window", slide, {parent}), window_(window) {}

  duration window() const { return window_; }

  bool checkpoints_history() const override { return true; }
  std::string checkpoint_codec_problem() const override {
    if constexpr (encodable<T>)
      return {};
    else
      return "its record type needs a sluice::codec for the window's batches to be "
             "checkpointed";
  }
  std::vector<std::pair<std::string, std::string>> state_types() const override {
    if constexpr (encodable<T>)
      return {{"records", codec_type_name<T>()}};
    else
      return {};
  }
  duration default_checkpoint_interval() const override {
    return default_state_checkpoint_interval(this->slide());
  }

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    struct op final : gather_op {
      const window_node* self;
      run_info info;
      std::vector<std::pair<int64_t, parts>> history; // oldest first
      int64_t checkpointed_upto = std::numeric_limits<int64_t>::min();
      std::vector<int64_t> dropped; // since the last checkpoint
      op(const window_node* n, run_info i) : self(n), info(i) {}
      gather_result compute(batch_time t, std::vector<std::optional<parts>>& in) override {
        if (in[0]) {
          sort_by_index(*in[0]);
          history.emplace_back(t.ms, std::move(*in[0]));
        }
        int64_t begin = t.ms - self->window_.count(); // exclusive
        size_t leaving = 0;
        while (leaving < history.size() && history[leaving].first <= begin) {
          if (history[leaving].first <= checkpointed_upto)
            dropped.push_back(history[leaving].first);
          ++leaving;
        }
        history.erase(history.begin(), history.begin() + static_cast<ptrdiff_t>(leaving));
        if (!self->valid_at(t, info.zero))
          return {};
        parts out;
        for (auto& [when, ps] : history)
          for (auto& p : ps)
            out.push_back({static_cast<int32_t>(out.size()), p.data});
        return {std::move(out), {}};
      }

      // One row per remembered batch: codec<int64_t> time -> its partitions'
      // records, codec<std::vector<std::vector<T>>> (FORMAT.md). A delta
      // adds the batches since the last checkpoint and drops the old ones.
      void checkpoint(bool full, state_rows& upserts,
                      std::vector<std::string>& removed) override {
        if constexpr (encodable<T>) {
          for (auto& [when, ps] : history) {
            if (!full && when <= checkpointed_upto)
              continue;
            std::vector<std::vector<T>> records;
            records.reserve(ps.size());
            for (auto& p : ps)
              records.push_back(view<T>(p.data));
            upserts.add_encoded([&](std::string& out) { codec<int64_t>::encode(when, out); },
                                [&](std::string& out) {
                                  codec<std::vector<std::vector<T>>>::encode(records, out);
                                });
          }
          if (!full)
            for (auto when : dropped)
              removed.push_back(encode_to_string(when));
          dropped.clear();
          if (!history.empty())
            checkpointed_upto = history.back().first > checkpointed_upto ? history.back().first
                                                                         : checkpointed_upto;
        } else {
          (void) full, (void) upserts, (void) removed;
          throw error("checkpointing window needs a sluice::codec for its records (the "
                      "context has a checkpoint directory)");
        }
      }

      void restore(const state_entries& rows) override {
        if constexpr (encodable<T>) {
          history.clear();
          for (auto& [key, bytes] : rows) {
            parts ps;
            for (auto& records : decode_from_string<std::vector<std::vector<T>>>(bytes))
              ps.push_back({static_cast<int32_t>(ps.size()), erase(std::move(records))});
            history.emplace_back(decode_from_string<int64_t>(key), std::move(ps));
          }
          sort_by_time(history, [](auto& h) { return h.first; });
          if (!history.empty())
            checkpointed_upto = history.back().first;
        } else {
          (void) rows;
          throw error("restoring window needs a sluice::codec for its records");
        }
      }
    };
    return std::make_unique<op>(this, info);
  }

 private:
  duration window_;
};

/// Checks w and s against the parent's slide; `what` names the stream type
/// in the message, as Spark's do (SEMANTICS §2.11). Throws invalid_argument.
/// Out of line in operators/src/window.cpp.
void check_window(duration window, duration slide, duration parent, const char* what,
                  bool require_style);

/// reduce_by_key_and_window(f, inv, w, s, n, filter): per key, the previous
/// window's value minus the batches leaving plus the batches entering
/// (SEMANTICS §2.13-14). Each batch is folded, as it arrives, into its
/// segment: the parent's batches in (end - g, end] reduced by key, g =
/// gcd(w, s) aligned to the zero time. Every range a slide subtracts
/// ((t - w - s, t - w]) or adds ((t - s, t]) is a union of whole segments, one
/// segment when w is a multiple of s: a slide then reads two segments as they
/// are, and each batch is folded once, not once entering and again leaving.
/// Its parent's keys are `Kin`, its own K = owned_t<Kin>: keys that view are
/// made owning by the map-side combine, in the stage that made them.
template <class K, class V, class F, class Inv, class Filter, class Kin = K>
class inverse_window_node final : public node<std::pair<K, V>> {
 public:
  inverse_window_node(node_base* parent, duration window, duration slide, int n, F f, Inv inv,
                      Filter filter, bool filtered)
      : node<std::pair<K, V>>(node_kind::shuffle, "reduce_by_key_and_window", slide, {parent}),
        window_(window), segment_(std::gcd(window.count(), slide.count())), n_(n),
        f_(std::move(f)), inv_(std::move(inv)), filter_(std::move(filter)),
        filtered_(filtered) {}

  int partitions() const override { return n_; }
  bool stateful() const override { return true; }
  std::string checkpoint_codec_problem() const override {
    if constexpr (encodable<K> && encodable<V>)
      return {};
    else
      return "its key and value types need a sluice::codec to be checkpointed";
  }
  std::vector<std::pair<std::string, std::string>> state_types() const override {
    if constexpr (encodable<K> && encodable<V>)
      return {{"key", codec_type_name<K>()}, {"value", codec_type_name<V>()}};
    else
      return {};
  }
  bool requires_checkpoint() const override { return true; }
  duration default_checkpoint_interval() const override {
    return default_state_checkpoint_interval(this->slide());
  }

  std::string bucket_codec_problem() const override { return this->record_codec_problem(); }
  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    auto create = [](V v) { return v; };
    return std::make_unique<combine_writer<K, V, V, decltype(create), F, Kin>>(n_, create, f_);
  }
  bool owns_what_parents_view() const override { return true; }

  /// The parent's batches in (end - g, end] that the window holds, reduced by
  /// key in time order. A checkpoint of an older build held one per batch
  /// (end = the batch's time), which reads the same.
  struct segment {
    int64_t end;
    dense_map<K, V> values;
    bool dirty = true;     // changed since the last checkpoint
    bool written = false;  // has a row in the checkpoint
  };

  struct partition_state final : slot_state {
    size_t keys() const override { return previous.size(); }
    std::vector<segment> segments;  // oldest first
    dense_map<K, V> previous;  // the previous window's output (after the filter)
    dense_map<K, V> old_values, new_values;  // scratch, kept for their capacity
    std::vector<size_t> old_at;              // scratch: old key's entry in previous
    // Checkpoint bookkeeping: per entry of `previous` (parallel to its
    // entries: erase moves the last one into the hole, as erase_at does),
    // whether it changed since the last checkpoint; a flag per entry, so a
    // slide that changes most keys copies none of them. From the first
    // checkpoint on (so a job without checkpoints keeps no keys): the keys
    // erased since the last checkpoint. The segments dropped since then that
    // have a row.
    std::vector<char> changed;
    bool tracking = false;
    dense_map<K, char> erased;
    std::vector<int64_t> dropped;

    /// Sets (k, v) as changed in `previous`, or inserts it.
    template <class Key>
    std::pair<size_t, bool> put(Key&& k, uint64_t h, const V& v) {
      auto r = previous.try_emplace(std::forward<Key>(k), h, v);
      if (r.second)
        changed.push_back(1);
      return r;
    }
    /// Removes entry e of `previous`, remembering its key for the next delta.
    void erase(size_t e) {
      if (tracking)
        erased.try_emplace(std::move(previous.at(e).first), previous.hash_at(e), char{1});
      previous.erase_at(e);
      changed[e] = changed.back();
      changed.pop_back();
    }
  };

  // The checkpoint is a keyed table (FORMAT.md "Inverse window state"): row
  // 'p'+key -> value for each key of `previous`, and 'b'+end -> entries for
  // each segment. A delta holds the changed keys, the segments changed and
  // the segments dropped since the last checkpoint.
  bool checkpoint_state(slot_state* raw, bool full, state_rows& upserts,
                        std::vector<std::string>& removed) const override {
    if constexpr (encodable<K> && encodable<V>) {
      auto& st = static_cast<partition_state&>(*raw);
      auto key_row = [](const K& k) { return 'p' + encode_to_string(k); };
      auto segment_row = [](int64_t end) { return 'b' + encode_to_string(end); };
      auto add_key_row = [&](const K& k, const V& v) {
        upserts.add_encoded(
          [&](std::string& out) {
            out.push_back('p');
            codec<K>::encode(k, out);
          },
          [&](std::string& out) { codec<V>::encode(v, out); });
      };
      bool all = full || !st.tracking;
      if (all) {
        for (auto& [k, v] : st.previous.entries())
          add_key_row(k, v);
      } else {
        for (size_t e = 0; e < st.previous.size(); ++e)
          if (st.changed[e])
            add_key_row(st.previous.at(e).first, st.previous.at(e).second);
        for (size_t i = 0; i < st.erased.size(); ++i) // unless put back since
          if (auto& k = st.erased.at(i).first;
              st.previous.find(k, st.erased.hash_at(i)) == st.previous.npos)
            removed.push_back(key_row(k));
        for (auto end : st.dropped)
          removed.push_back(segment_row(end));
      }
      for (auto& seg : st.segments) {
        if (all || seg.dirty)
          upserts.add(segment_row(seg.end), encode_to_string(seg.values.entries()));
        seg.dirty = false;
        seg.written = true;
      }
      st.tracking = true;
      std::fill(st.changed.begin(), st.changed.end(), char{0});
      st.erased.clear();
      st.dropped.clear();
      return true;
    } else {
      (void) raw, (void) full, (void) upserts, (void) removed;
      throw error("checkpointing reduce_by_key_and_window needs a sluice::codec for its key "
                  "and value types");
    }
  }

  void restore_state(slot_state* raw, const state_entries& rows) const override {
    if constexpr (encodable<K> && encodable<V>) {
      auto& st = static_cast<partition_state&>(*raw);
      for (auto& [row, bytes] : rows) {
        std::string_view body{row.data() + 1, row.size() - 1};
        if (!row.empty() && row[0] == 'p') {
          auto k = decode_from_string<K>(body);
          auto h = hash_key(k);
          if (st.previous.try_emplace(std::move(k), h, decode_from_string<V>(bytes)).second)
            st.changed.push_back(0);
        } else if (!row.empty() && row[0] == 'b') {
          segment seg{decode_from_string<int64_t>(body), {}, false, true};
          auto entries = decode_from_string<std::vector<std::pair<K, V>>>(bytes);
          std::vector<uint64_t> hashes;
          hashes.reserve(entries.size());
          for (auto& [k, v] : entries)
            hashes.push_back(hash_key(k));
          seg.values.adopt(std::move(entries), std::move(hashes));
          st.segments.push_back(std::move(seg));
        } else {
          throw error("reduce_by_key_and_window: unknown checkpoint row (first byte "
                      + std::to_string(row.empty() ? -1 : int(row[0])) + ")");
        }
      }
      sort_by_time(st.segments, [](auto& seg) { return seg.end; });
      st.tracking = true;
    } else {
      (void) raw, (void) rows;
      throw error("restoring reduce_by_key_and_window needs a sluice::codec for its key and "
                  "value types");
    }
  }

  std::unique_ptr<slot_state> make_slot_state(int, const run_info&, bool) const override {
    return std::make_unique<partition_state>();
  }

  stateful_result reduce_at(batch_time t, bool parent_none,
                            std::vector<std::vector<erased>>& ports, slot_state* raw,
                            const run_info& info) const override {
    auto& st = static_cast<partition_state&>(*raw);
    auto f = f_;
    auto inv = inv_;
    if (!parent_none)
      add_batch(st, t, info, ports[0], f);
    int64_t w = window_.count();
    int64_t s = this->slide().count();
    if (!this->valid_at(t, info.zero))
      return {false, std::nullopt};
    // old: segments in (t - w - s, t - w]; new: segments in (t - s, t]. A
    // range of one segment is read in place; several are folded in time
    // order into scratch, where a segment that leaves and does not enter
    // (w < s) gives up its keys, as it is dropped below.
    auto in_range = [&](const segment& seg, int64_t lo, int64_t hi) {
      return seg.end > lo && seg.end <= hi;
    };
    auto copy = [](const V& v) { return v; };
    auto gather = [&](int64_t lo, int64_t hi, dense_map<K, V>& scratch) -> dense_map<K, V>& {
      scratch.clear();
      segment* only = nullptr;
      size_t count = 0;
      for (auto& seg : st.segments)
        if (in_range(seg, lo, hi)) {
          only = &seg;
          ++count;
        }
      if (count == 1)
        return only->values;
      for (auto& seg : st.segments) {
        if (!in_range(seg, lo, hi))
          continue;
        bool move = seg.end <= t.ms - w && !in_range(seg, t.ms - s, t.ms);
        auto& from = seg.values;
        for (size_t i = 0; i < from.size(); ++i) {
          auto& [k, v] = from.at(i);
          if (move)
            scratch.upsert(std::move(k), from.hash_at(i), v, copy, f);
          else
            scratch.upsert(std::as_const(k), from.hash_at(i), v, copy, f);
        }
      }
      return scratch;
    };
    auto& old_values = gather(t.ms - w - s, t.ms - w, st.old_values);
    auto& new_values = gather(t.ms - s, t.ms, st.new_values);
    auto& previous = st.previous;
    // Checks every leaving key before anything changes.
    auto& old_at = st.old_at;
    old_at.resize(old_values.size());
    auto old_hash = [&](size_t i) { return old_values.hash_at(i); };
    for_each_prefetched(previous, old_values.size(), old_hash, [&](size_t i) {
      auto& k = old_values.at(i).first;
      uint64_t h = old_values.hash_at(i);
      old_at[i] = previous.find(k, h);
      if (old_at[i] == previous.npos && new_values.find(k, h) == new_values.npos)
        throw error("Neither previous window has value for key, nor new values found. Are "
                    "you sure your key class hashes consistently?");
    });
    for (size_t i = 0; i < old_values.size(); ++i)
      if (auto e = old_at[i]; e != previous.npos) {
        previous.at(e).second = inv(std::move(previous.at(e).second), old_values.at(i).second);
        st.changed[e] = 1;
      }
    auto new_hash = [&](size_t i) { return new_values.hash_at(i); };
    for_each_prefetched(previous, new_values.size(), new_hash, [&](size_t i) {
      auto& [k, nv] = new_values.at(i);
      auto [e, fresh] = st.put(std::as_const(k), new_values.hash_at(i), nv);
      if (!fresh) {
        previous.at(e).second = f(std::move(previous.at(e).second), nv);
        st.changed[e] = 1;
      }
    });
    st.old_values.clear();
    st.new_values.clear();
    size_t leaving = 0;
    while (leaving < st.segments.size() && st.segments[leaving].end <= t.ms - w) {
      if (st.segments[leaving].written)
        st.dropped.push_back(st.segments[leaving].end);
      ++leaving;
    }
    st.segments.erase(st.segments.begin(), st.segments.begin() + static_cast<ptrdiff_t>(leaving));
    // The filter's drops are also gone from the next window's prev (§2.14).
    std::vector<std::pair<K, V>> out;
    out.reserve(previous.size());
    for (size_t e = 0; e < previous.size();) {
      auto& kv = previous.at(e);
      if (filtered_ && !filter_(std::as_const(kv))) {
        st.erase(e); // the last entry moves to e
        continue;
      }
      out.push_back(kv);
      ++e;
    }
    return {true, erase(std::move(out))};
  }

 private:
  /// Folds the parent's batch at `t` (one reduced bucket per sender) into its
  /// segment, the one ending at the first multiple of g from zero at or
  /// after t. A batch alone in a fresh segment from one sender is taken as
  /// it is: its keys are distinct and hashed.
  void add_batch(partition_state& st, batch_time t, const run_info& info,
                 std::vector<erased>& buckets, F& f) const {
    int64_t g = segment_;
    int64_t end = info.zero.ms + (t.ms - info.zero.ms + g - 1) / g * g;
    if (st.segments.empty() || st.segments.back().end != end)
      st.segments.push_back(segment{end, {}});
    auto& seg = st.segments.back();
    seg.dirty = true;
    if (buckets.size() == 1 && seg.values.empty()) {
      auto b = std::move(take<hashed_bucket<K, V>>(buckets[0])[0]);
      seg.values.adopt(std::move(b.entries), std::move(b.hashes));
      return;
    }
    auto keep = [](V&& v) -> V&& { return std::move(v); };
    for (auto& bucket : buckets) {
      auto b = std::move(take<hashed_bucket<K, V>>(bucket)[0]);
      for_each_prefetched(seg.values, b.entries.size(), [&](size_t i) { return b.hashes[i]; },
                          [&](size_t i) {
                            seg.values.upsert(std::move(b.entries[i].first), b.hashes[i],
                                              std::move(b.entries[i].second), keep, f);
                          });
    }
  }

  duration window_;
  int64_t segment_;  // g = gcd(window, slide), ms
  int n_;
  F f_;
  Inv inv_;
  Filter filter_;
  bool filtered_;
};

} // namespace sluice::detail
