// Hashing and comparing string keys inline: the shuffles' and the keyed
// state's hot loops hash every record's key once and compare it with the
// key an index slot names. std::hash<std::string> calls libstdc++'s
// std::_Hash_bytes and operator== calls memcmp, each a call with generic
// code for any length; words are mostly shorter than 16 bytes.
//
// hash_bytes returns exactly std::hash<std::string>'s value on libstdc++
// with a 64-bit size_t (MurmurHash2 64A, seed 0xc70f6907, as
// libstdc++-v3/libsupc++/hash_bytes.cc): keys go to the same partitions as
// before, and a checkpoint's state partitions stay where a recovery looks
// for them. Elsewhere key_hash keeps std::hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#if defined(__GLIBCXX__) && SIZE_MAX == UINT64_MAX
#define SLUICE_INLINE_STRING_HASH 1
#endif

namespace sluice::detail {

inline uint64_t load_8(const char* p) {
  uint64_t r;
  std::memcpy(&r, p, 8);
  return r;
}

inline uint64_t load_4(const char* p) {
  uint32_t r;
  std::memcpy(&r, p, 4);
  return r;
}

/// The first `n` (< 8) bytes at `p` as a little-endian number, reading no
/// byte outside [p, p + n) but the `before` bytes preceding p (the caller's
/// own bytes), so a short tail takes one or two loads, not a byte loop.
inline uint64_t load_tail(const char* p, size_t n, size_t before) {
  if (before >= 8 - n)
    return load_8(p + n - 8) >> (8 * (8 - n));
  if (n >= 4)
    return load_4(p) | (load_4(p + n - 4) << (8 * (n - 4)));
  return uint64_t{static_cast<uint8_t>(p[0])}
         | (uint64_t{static_cast<uint8_t>(p[n / 2])} << (8 * (n / 2)))
         | (uint64_t{static_cast<uint8_t>(p[n - 1])} << (8 * (n - 1)));
}

#ifdef SLUICE_INLINE_STRING_HASH
inline uint64_t hash_bytes(const char* p, size_t len) {
  constexpr uint64_t mul = (uint64_t{0xc6a4a793} << 32) + uint64_t{0x5bd1e995};
  auto shift_mix = [](uint64_t v) { return v ^ (v >> 47); };
  uint64_t hash = uint64_t{0xc70f6907} ^ (len * mul);
  size_t whole = len & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    hash ^= shift_mix(load_8(p + i) * mul) * mul;
    hash *= mul;
  }
  if (size_t rest = len & 7) {
    hash ^= load_tail(p + whole, rest, whole);
    hash *= mul;
  }
  hash = shift_mix(hash) * mul;
  return shift_mix(hash);
}
#endif

/// a == b for byte strings, with the common short lengths compared by
/// (overlapping) word loads.
inline bool bytes_equal(std::string_view a, std::string_view b) {
  size_t n = a.size();
  if (n != b.size())
    return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    if (n > 16)
      return std::memcmp(x, y, n) == 0;
    return ((load_8(x) ^ load_8(y)) | (load_8(x + n - 8) ^ load_8(y + n - 8))) == 0;
  }
  if (n >= 4)
    return ((load_4(x) ^ load_4(y)) | (load_4(x + n - 4) ^ load_4(y + n - 4))) == 0;
  return n == 0 || load_tail(x, n, 0) == load_tail(y, n, 0);
}

template <class T>
inline constexpr bool is_string_key =
  std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>;

template <class T>
inline constexpr bool is_std_pair = false;
template <class A, class B>
inline constexpr bool is_std_pair<std::pair<A, B>> = true;

/// a == b for the keys of the hash tables, where a stored (owning) key may
/// meet one that views: std::string and std::string_view keys through
/// bytes_equal, pairs member by member (std::pair's == wants equal types),
/// any other type through its operator==.
template <class A, class B>
bool keys_equal(const A& a, const B& b) {
  if constexpr (is_string_key<A> && is_string_key<B>)
    return bytes_equal(a, b);
  else if constexpr (is_std_pair<A> && is_std_pair<B>)
    return keys_equal(a.first, b.first) && keys_equal(a.second, b.second);
  else
    return a == b;
}

} // namespace sluice::detail
