#define BOOST_TEST_MODULE operators/state_table
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sluice/state_store.hpp"
#include "sluice/state_chunk.hpp"
#include <sluice/pb/records.pb.h>

using namespace sluice;
using detail::hash_key;
using detail::state_table;

namespace {

template <class K>
std::map<K, int64_t> contents(const state_table<K, int64_t>& t) {
  std::map<K, int64_t> out;
  t.for_each([&](size_t i) { out.emplace(t.at(i).first, t.at(i).second); });
  return out;
}

/// Random inserts, updates and removals against std::map, with sweeps that
/// remove and update while they go; small tables wrap their probe runs.
template <class K, class MakeKey>
void random_ops_match_a_map(MakeKey make_key, int key_space, uint64_t seed) {
  state_table<K, int64_t> t;
  std::map<K, int64_t> ref;
  std::mt19937_64 rng{seed};
  for (int step = 0; step < 20000; ++step) {
    K k = make_key(static_cast<int>(rng() % static_cast<uint64_t>(key_space)));
    uint64_t h = hash_key(k);
    switch (rng() % 8) {
      case 0:
      case 1: { // remove
        auto i = t.find(k, h);
        BOOST_REQUIRE_EQUAL(i != t.npos, ref.count(k) == 1);
        if (i != t.npos)
          t.erase_at(i);
        ref.erase(k);
        break;
      }
      case 2:
        if (step % 500 == 0) { // sweep: drop odd values, bump the rest
          int64_t visits = 0;
          t.sweep([&](size_t i) {
            ++visits;
            auto& v = t.at(i).second;
            if (v % 2)
              return false;
            v += 2;
            return true;
          });
          BOOST_REQUIRE_EQUAL(visits, static_cast<int64_t>(ref.size()));
          for (auto it = ref.begin(); it != ref.end();)
            if (it->second % 2) {
              it = ref.erase(it);
            } else {
              it->second += 2;
              ++it;
            }
          break;
        }
        [[fallthrough]];
      default: { // insert or assign
        auto v = static_cast<int64_t>(rng() % 1000);
        auto [i, fresh] = t.try_emplace(k, h, v);
        BOOST_REQUIRE_EQUAL(fresh, ref.count(k) == 0);
        if (!fresh)
          t.at(i).second = v;
        ref[k] = v;
      }
    }
    BOOST_REQUIRE_EQUAL(t.size(), ref.size());
  }
  BOOST_CHECK(contents(t) == ref);
  for (auto& [k, v] : ref) {
    auto i = t.find(k, hash_key(k));
    BOOST_REQUIRE(i != t.npos);
    BOOST_CHECK_EQUAL(t.at(i).second, v);
    BOOST_CHECK_EQUAL(t.hash_at(i), hash_key(k));
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(random_operations_match_a_map_for_integer_keys) {
  random_ops_match_a_map<int64_t>([](int x) { return int64_t{x} * 7919; }, 300, 1);
  random_ops_match_a_map<int64_t>([](int x) { return int64_t{x}; }, 5000, 2);
}

BOOST_AUTO_TEST_CASE(random_operations_match_a_map_for_string_keys) {
  static_assert(state_table<std::string, int64_t>::stores_hash);
  static_assert(!state_table<int64_t, int64_t>::stores_hash);
  random_ops_match_a_map<std::string>([](int x) { return "key-" + std::to_string(x); }, 300, 3);
  random_ops_match_a_map<std::string>(
    [](int x) { return std::string(40, 'x') + std::to_string(x); }, 3000, 4);
}

BOOST_AUTO_TEST_CASE(reserve_holds_that_many_entries_without_rehashing) {
  for (size_t n : {size_t{1}, size_t{7}, size_t{100}, size_t{1000}, size_t{12345}}) {
    state_table<int64_t, int64_t> t;
    t.reserve(n);
    size_t slots = t.slots();
    BOOST_CHECK_LE(n * 8, slots * 7 + 8); // at most 7/8 in use (+ rounding)
    for (size_t i = 0; i < n; ++i)
      t.try_emplace(static_cast<int64_t>(i), hash_key(static_cast<int64_t>(i)), 0);
    BOOST_CHECK_EQUAL(t.slots(), slots);
    BOOST_CHECK_EQUAL(t.size(), n);
  }
}

BOOST_AUTO_TEST_CASE(flags_move_with_their_entries) {
  state_table<int64_t, int64_t> t;
  for (int64_t k = 0; k < 2000; ++k) { // rehashes several times
    auto [i, fresh] = t.try_emplace(k, hash_key(k), k);
    if (k % 3 == 0)
      t.set_flag(i);
  }
  for (int64_t k = 0; k < 2000; k += 5) // removals shift entries back
    t.erase_at(t.find(k, hash_key(k)));
  std::vector<int64_t> flagged;
  t.for_each_flagged([&](size_t i) { flagged.push_back(t.at(i).first); });
  std::sort(flagged.begin(), flagged.end());
  std::vector<int64_t> expected;
  for (int64_t k = 0; k < 2000; ++k)
    if (k % 3 == 0 && k % 5 != 0)
      expected.push_back(k);
  BOOST_CHECK(flagged == expected);
  t.clear_flags();
  size_t left = 0;
  t.for_each_flagged([&](size_t) { ++left; });
  BOOST_CHECK_EQUAL(left, 0u);
}

/// The rows as (key bytes, value bytes) strings.
std::vector<std::pair<std::string, std::string>> pairs_of(const state_rows& rows) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [k, v] : rows)
    out.emplace_back(k, v);
  return out;
}

BOOST_AUTO_TEST_CASE(store_tracks_changed_and_removed_keys_between_checkpoints) {
  keyed_state_store<std::string, int64_t> s;
  s.put("a", 1, 1000);
  s.put("b", 2, 1000);
  s.put("c", 3, 1000);
  state_rows upserts;
  std::vector<std::string> removed;
  s.checkpoint(true, upserts, removed);
  BOOST_CHECK_EQUAL(upserts.size(), 3u);
  BOOST_CHECK(s.changed().empty());
  s.put("b", 20, 2000);
  s.remove("c");
  s.put("d", 4, 2000);
  s.remove("d");
  s.put("d", 5, 2000); // removed and put back: changed, not removed
  auto changed = s.changed();
  std::sort(changed.begin(), changed.end());
  BOOST_CHECK((changed == std::vector<std::string>{"b", "d"}));
  BOOST_CHECK_EQUAL(s.removed().size(), 1u);
  BOOST_CHECK_EQUAL(s.removed().count("c"), 1u);
  upserts.clear();
  s.checkpoint(false, upserts, removed);
  BOOST_CHECK_EQUAL(upserts.size(), 2u);
  BOOST_CHECK_EQUAL(removed.size(), 1u);
  BOOST_CHECK(s.changed().empty());
  BOOST_CHECK(s.removed().empty());
  // A restore replaces everything and leaves it clean.
  s.restore(pairs_of(upserts));
  BOOST_CHECK_EQUAL(s.size(), 2u);
  BOOST_CHECK(s.changed().empty());
  BOOST_REQUIRE(s.find("b"));
  BOOST_CHECK_EQUAL(s.find("b")->value, 20);
  BOOST_CHECK_EQUAL(s.find("b")->updated_ms, 2000);
  BOOST_CHECK(!s.find("a"));
}

/// A StateCheckpointChunk payload, as checkpoint_store writes one.
std::string chunk_of(int64_t t, bool full, uint32_t index, uint32_t count,
                     const std::vector<std::pair<std::string, std::string>>& upserts,
                     const std::vector<std::string>& removed) {
  pb::StateCheckpointChunk m;
  m.set_batch_time_ms(t);
  m.set_full(full);
  m.set_chunk_index(index);
  m.set_chunk_count(count);
  for (auto& [k, v] : upserts) {
    m.add_keys(k);
    m.add_values(v);
  }
  for (auto& k : removed)
    m.add_removed_keys(k);
  return m.SerializeAsString();
}

BOOST_AUTO_TEST_CASE(a_restore_from_chunks_applies_them_in_order_as_a_restore_from_rows) {
  keyed_state_store<std::string, int64_t> s;
  for (int i = 0; i < 6; ++i)
    s.put("k" + std::to_string(i), i, 1000);
  state_rows full_rows, delta_rows;
  std::vector<std::string> none, removed;
  s.checkpoint(true, full_rows, none);
  s.put("k1", 10, 2000);
  s.remove("k2");
  s.put("k9", 9, 2000);
  s.checkpoint(false, delta_rows, removed);
  auto full = pairs_of(full_rows), delta = pairs_of(delta_rows);
  // The full snapshot in two chunks, then the delta; a later delta removes
  // k9 and puts k2 back.
  std::vector<std::string> chunks{
    chunk_of(1000, true, 0, 2, {full.begin(), full.begin() + 3}, {}),
    chunk_of(1000, true, 1, 2, {full.begin() + 3, full.end()}, {}),
    chunk_of(2000, false, 0, 1, delta, removed),
    chunk_of(3000, false, 0, 1, {{encode_to_string(std::string{"k2"}),
                                  encode_to_string(std::pair<int64_t, int64_t>{22, 3000})}},
             {encode_to_string(std::string{"k9"})}),
  };
  keyed_state_store<std::string, int64_t> from_chunks, from_rows;
  from_chunks.put("stale", 1, 500); // replaced, as by restore
  from_chunks.restore_chunks(chunks);
  from_rows.restore(state_from_chunks(chunks));
  auto contents_of = [](const keyed_state_store<std::string, int64_t>& st) {
    std::map<std::string, std::pair<int64_t, int64_t>> out;
    st.for_each([&](auto& k, auto& e) { out.emplace(k, std::pair{e.value, e.updated_ms}); });
    return out;
  };
  std::map<std::string, std::pair<int64_t, int64_t>> expected{
    {"k0", {0, 1000}}, {"k1", {10, 2000}}, {"k2", {22, 3000}},
    {"k3", {3, 1000}}, {"k4", {4, 1000}},  {"k5", {5, 1000}}};
  BOOST_CHECK((contents_of(from_chunks) == expected));
  BOOST_CHECK((contents_of(from_rows) == expected));
  // Restored clean: the next delta holds only what changes after it.
  BOOST_CHECK(from_chunks.changed().empty());
  BOOST_CHECK(from_chunks.removed().empty());
}
