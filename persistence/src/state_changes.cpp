#include "sluice/state_changes.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace sluice {

namespace {

/// An entry's place in the sort: its key's first 8 bytes, big-endian and
/// zero-padded, and its position in application order.
struct ref {
  std::uint64_t prefix;
  std::size_t pos;
};

/// When two prefixes differ they order their keys as std::string's
/// operator< does (a key that ends early pads with 0, below any byte a
/// longer key may have there).
std::uint64_t prefix_of(const std::string& key) {
  unsigned char b[8] = {};
  std::memcpy(b, key.data(), std::min<std::size_t>(key.size(), 8));
  std::uint64_t x = 0;
  for (auto c : b)
    x = (x << 8) | c;
  return x;
}

/// Sorts by prefix, stably (equal prefixes keep application order): an LSD
/// radix sort, one pass per byte, skipping bytes all prefixes share.
void radix_sort(std::vector<ref>& refs) {
  std::vector<ref> tmp(refs.size());
  for (int shift = 0; shift < 64; shift += 8) {
    std::array<std::size_t, 257> count{};
    for (auto& r : refs)
      ++count[((r.prefix >> shift) & 0xff) + 1];
    if (std::any_of(count.begin() + 1, count.end(), [&](auto n) { return n == refs.size(); }))
      continue;
    for (std::size_t i = 1; i < count.size(); ++i)
      count[i] += count[i - 1];
    for (auto& r : refs)
      tmp[count[(r.prefix >> shift) & 0xff]++] = r;
    refs.swap(tmp);
  }
}

/// Reorders `xs` so that the new xs[k] is the old xs[from[k]]; `from` is a
/// permutation, used up as the cycles are followed.
void permute(state_entries& xs, std::vector<std::size_t>& from) {
  for (std::size_t k = 0; k < xs.size(); ++k) {
    if (from[k] == k)
      continue;
    auto held = std::move(xs[k]);
    auto j = k;
    while (from[j] != k) {
      xs[j] = std::move(xs[from[j]]);
      auto next = from[j];
      from[j] = j;
      j = next;
    }
    xs[j] = std::move(held);
    from[j] = j;
  }
}

} // namespace

state_entries apply_in_order(state_changes&& changes) {
  auto& xs = changes.entries;
  // Sorts 16-byte refs rather than the entries; full keys are compared only
  // within a run of equal prefixes.
  std::vector<ref> order(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    order[i] = {prefix_of(xs[i].first), i};
  radix_sort(order);
  for (auto i = order.begin(); i != order.end();) {
    auto p = i->prefix;
    auto j = std::find_if(i, order.end(), [p](const ref& r) { return r.prefix != p; });
    if (j - i > 1)
      std::stable_sort(i, j, [&](const ref& x, const ref& y) {
        return xs[x.pos].first < xs[y.pos].first;
      });
    i = j;
  }
  // The kept positions in key order (of equal keys the last applied, unless
  // a removal), then the dropped ones: a permutation whose prefix is the state.
  std::vector<std::size_t> from;
  from.reserve(xs.size());
  std::vector<std::size_t> dropped;
  for (std::size_t i = 0; i < order.size(); ++i) {
    auto pos = order[i].pos;
    bool superseded = i + 1 < order.size() && order[i + 1].prefix == order[i].prefix
                      && xs[order[i + 1].pos].first == xs[pos].first;
    if (superseded || changes.removal[pos])
      dropped.push_back(pos);
    else
      from.push_back(pos);
  }
  auto kept = from.size();
  from.insert(from.end(), dropped.begin(), dropped.end());
  order = {};
  permute(xs, from);
  xs.resize(kept);
  return std::move(xs);
}

} // namespace sluice
