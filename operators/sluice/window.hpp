// Windows (SEMANTICS §2): window(w, s) as a gather that remembers its
// parent's batches, and the incremental reduce_by_key_and_window with an
// inverse function as a stateful reducer.
#pragma once

#include <deque>

#include "sluice/errors.hpp"
#include "sluice/shuffle.hpp"
#include "sluice/update_state.hpp"

namespace sluice::detail {

/// window(w, s) at T: the parent's batches in (T - w, T], partitions in time
/// order. Batches are shared between windows (a consumer copies on take).
template <class T>
class window_node final : public node<T> {
 public:
  window_node(node_base* parent, duration window, duration slide)
      : node<T>(node_kind::gather, "window", slide, {parent}), window_(window) {}

  duration window() const { return window_; }

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    struct op final : gather_op {
      const window_node* self;
      run_info info;
      std::deque<std::pair<int64_t, parts>> history;
      op(const window_node* n, run_info i) : self(n), info(i) {}
      gather_result compute(batch_time t, std::vector<std::optional<parts>>& in) override {
        if (in[0]) {
          std::sort(in[0]->begin(), in[0]->end(),
                    [](auto& a, auto& b) { return a.index < b.index; });
          history.emplace_back(t.ms, std::move(*in[0]));
        }
        int64_t begin = t.ms - self->window_.count(); // exclusive
        while (!history.empty() && history.front().first <= begin)
          history.pop_front();
        if (!self->valid_at(t, info.zero))
          return {};
        parts out;
        for (auto& [when, ps] : history)
          for (auto& p : ps)
            out.push_back({static_cast<int32_t>(out.size()), p.data});
        return {std::move(out), {}};
      }
    };
    return std::make_unique<op>(this, info);
  }

 private:
  duration window_;
};

/// Checks w and s against the parent's slide; `what` names the stream type
/// in the message, as Spark's do (SEMANTICS §2.11).
inline void check_window(duration window, duration slide, duration parent, const char* what,
                         bool require_style) {
  auto fail = [&](const char* which, duration d) {
    std::string head = require_style ? "requirement failed: " : "";
    std::string verb = require_style ? " must be multiple of" : " must be a multiple of";
    throw invalid_argument(head + "The " + which + " duration of " + what + " (" + to_string(d)
                           + ")" + verb + " the slide duration of parent DStream ("
                           + to_string(parent) + ")");
  };
  if (window.count() <= 0)
    throw invalid_argument(std::string("The window duration of ") + what
                           + " must be positive, got " + to_string(window));
  if (slide.count() <= 0)
    throw invalid_argument(std::string("The slide duration of ") + what
                           + " must be positive, got " + to_string(slide));
  if (window.count() % parent.count() != 0)
    fail("window", window);
  if (slide.count() % parent.count() != 0)
    fail("slide", slide);
}

/// reduce_by_key_and_window(f, inv, w, s, n, filter): per key, the previous
/// window's value minus the batches leaving plus the batches entering
/// (SEMANTICS §2.13-14). Per slide the work follows the data entering and
/// leaving; batches between slides are only reduced and remembered.
template <class K, class V, class F, class Inv, class Filter>
class inverse_window_node final : public node<std::pair<K, V>> {
 public:
  inverse_window_node(node_base* parent, duration window, duration slide, int n, F f, Inv inv,
                      Filter filter, bool filtered)
      : node<std::pair<K, V>>(node_kind::shuffle, "reduce_by_key_and_window", slide, {parent}),
        window_(window), n_(n), f_(std::move(f)), inv_(std::move(inv)),
        filter_(std::move(filter)), filtered_(filtered) {}

  int partitions() const override { return n_; }
  bool stateful() const override { return true; }
  bool requires_checkpoint() const override { return true; }

  std::unique_ptr<bucket_writer_base> make_writer(size_t) const override {
    auto create = [](V v) { return v; };
    return std::make_unique<combine_writer<K, V, V, decltype(create), F>>(n_, create, f_);
  }

  struct partition_state final : slot_state {
    std::deque<std::pair<int64_t, std::vector<std::pair<K, V>>>> batches;  // reduced per batch
    key_map<K, V> previous;  // the previous window's output (after the filter)
  };

  std::unique_ptr<slot_state> make_slot_state(int, const run_info&) const override {
    return std::make_unique<partition_state>();
  }

  stateful_result reduce_at(batch_time t, bool parent_none,
                            std::vector<std::vector<erased>>& ports, slot_state* raw,
                            const run_info& info) const override {
    auto& st = static_cast<partition_state&>(*raw);
    auto f = f_;
    auto inv = inv_;
    if (!parent_none) {
      key_map<K, V> reduced;
      for (auto& bucket : ports[0]) {
        auto b = std::move(take<hashed_bucket<K, V>>(bucket)[0]);
        for (auto& [k, v] : b.entries) {
          auto [i, fresh] = reduced.try_emplace(k, v);
          if (!fresh)
            i->second = f(std::move(i->second), std::move(v));
        }
      }
      st.batches.emplace_back(t.ms, std::vector<std::pair<K, V>>(reduced.begin(), reduced.end()));
    }
    int64_t w = window_.count();
    int64_t s = this->slide().count();
    if (!this->valid_at(t, info.zero))
      return {false, std::nullopt};
    // old: batches in (t - w - s, t - w]; new: batches in (t - s, t].
    key_map<K, V> old_values, new_values;
    auto fold = [&](key_map<K, V>& into, const std::vector<std::pair<K, V>>& batch) {
      for (auto& [k, v] : batch) {
        auto [i, fresh] = into.try_emplace(k, v);
        if (!fresh)
          i->second = f(std::move(i->second), v);
      }
    };
    for (auto& [when, batch] : st.batches) {
      if (when > t.ms - w - s && when <= t.ms - w)
        fold(old_values, batch);
      if (when > t.ms - s && when <= t.ms)
        fold(new_values, batch);
    }
    key_map<K, V> result = st.previous;
    for (auto& [k, ov] : old_values) {
      if (auto i = result.find(k); i != result.end())
        i->second = inv(std::move(i->second), ov);
      else if (new_values.find(k) == new_values.end())
        throw error("Neither previous window has value for key, nor new values found. Are "
                    "you sure your key class hashes consistently?");
    }
    for (auto& [k, nv] : new_values) {
      if (st.previous.find(k) != st.previous.end())
        result[k] = f(std::move(result[k]), nv);
      else
        result[k] = nv;
    }
    if (filtered_)
      for (auto i = result.begin(); i != result.end();)
        i = filter_(std::as_const(*i)) ? std::next(i) : result.erase(i);
    while (!st.batches.empty() && st.batches.front().first <= t.ms - w)
      st.batches.pop_front();
    std::vector<std::pair<K, V>> out(result.begin(), result.end());
    st.previous = std::move(result);
    return {true, erase(std::move(out))};
  }

 private:
  duration window_;
  int n_;
  F f_;
  Inv inv_;
  Filter filter_;
  bool filtered_;
};

} // namespace sluice::detail
