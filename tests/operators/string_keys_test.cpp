#define BOOST_TEST_MODULE operators/string_keys
#include <boost/test/unit_test.hpp>

#include <functional>
#include <random>
#include <string>
#include <string_view>

#include "sluice/detail/string_keys.hpp"
#include "sluice/detail/traits.hpp"

using sluice::key_hash;
using sluice::detail::bytes_equal;
using sluice::detail::keys_equal;

namespace {

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng()); // every byte value, zeros and >= 0x80 among them
  return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(string_keys_hash_to_std_hash_values_at_every_length) {
  // The partition of a key, and so where a checkpoint's state rows are
  // restored, follows this hash: it must stay std::hash's value.
  std::mt19937_64 rng{15};
  int checked = 0;
  for (size_t n = 0; n <= 100; ++n)
    for (int k = 0; k < 200; ++k) {
      auto s = random_bytes(rng, n);
      auto expected = std::hash<std::string>{}(s);
      BOOST_TEST_REQUIRE(key_hash<std::string>{}(s) == expected, "length " << n);
      BOOST_TEST_REQUIRE(key_hash<std::string_view>{}(std::string_view{s}) == expected);
      ++checked;
    }
  BOOST_TEST(checked == 101 * 200);
  // A view into a longer buffer hashes its own bytes only.
  std::string line = "the quick brown fox";
  BOOST_TEST(key_hash<std::string_view>{}(std::string_view{line}.substr(4, 5))
             == std::hash<std::string>{}(std::string{"quick"}));
  BOOST_TEST(sluice::detail::partition_of(std::string{"quick"}, 7)
             == sluice::detail::partition_of(std::string_view{line}.substr(4, 5), 7));
}

BOOST_AUTO_TEST_CASE(string_keys_compare_equal_exactly_when_their_bytes_do) {
  std::mt19937_64 rng{16};
  for (size_t n = 0; n <= 40; ++n) {
    auto a = random_bytes(rng, n);
    std::string b = a;
    BOOST_TEST_REQUIRE(bytes_equal(a, b), "length " << n);
    BOOST_TEST_REQUIRE(keys_equal(a, std::string_view{b}));
    for (size_t i = 0; i < n; ++i) { // one byte differs, at each position
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ 0x01);
      BOOST_TEST_REQUIRE(!bytes_equal(a, c), "length " << n << ", byte " << i);
      BOOST_TEST_REQUIRE(!keys_equal(std::string_view{c}, a));
    }
    BOOST_TEST_REQUIRE(!bytes_equal(a, a + '\0'), "length " << n << " against " << n + 1);
  }
  BOOST_TEST(keys_equal(3, 3));
  BOOST_TEST(!keys_equal(std::pair<int, int>{1, 2}, std::pair<int, int>{1, 3}));
  // A stored pair key against one that views (the shuffles' upsert), member
  // by member.
  using stored = std::pair<std::string, long>;
  using viewing = std::pair<std::string_view, long>;
  BOOST_TEST(keys_equal(stored{"abcdefghij", 2}, viewing{"abcdefghij", 2}));
  BOOST_TEST(!keys_equal(stored{"abcdefghij", 2}, viewing{"abcdefghiJ", 2}));
  BOOST_TEST(!keys_equal(stored{"abcdefghij", 2}, viewing{"abcdefghij", 3}));
  BOOST_TEST(!keys_equal(stored{"abcdefghij", 2}, viewing{"abcdefghi", 2}));
}
