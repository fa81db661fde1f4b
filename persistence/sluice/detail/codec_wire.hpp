// Wire primitives of the codec: fixed little-endian integers, LEB128 varints,
// bounds-checked reads. Included by sluice/codec.hpp only.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace sluice::detail {

// -- errors (cold, out of line in src/codec.cpp) ------------------------------

/// Throws `codec_error`: "truncated input decoding <what>: need at least
/// <need> byte(s), <left> left".
[[noreturn]] void throw_truncated(std::string_view what, std::size_t need, std::size_t left);

/// Throws `codec_error`: "malformed input decoding <what>: <why>".
[[noreturn]] void throw_malformed(std::string_view what, std::string_view why);

/// Throws `codec_error`: "<n> byte(s) left over after the decoded value".
[[noreturn]] void throw_trailing_bytes(std::size_t n);

/// Throws `codec_error`: "cannot encode <what>: <why>".
[[noreturn]] void throw_unencodable(std::string_view what, std::string_view why);

// -- reads --------------------------------------------------------------------

/// Returns the first `n` bytes of `in` and drops them from `in`.
inline std::string_view take(std::string_view& in, std::size_t n, std::string_view what) {
  if (in.size() < n)
    throw_truncated(what, n, in.size());
  auto result = in.substr(0, n);
  in.remove_prefix(n);
  return result;
}

// -- fixed-width little-endian unsigned integers ------------------------------

template <class U>
void put_fixed(std::string& out, U x) {
  static_assert(std::is_unsigned_v<U>);
  if constexpr (std::endian::native == std::endian::little) {
    char buf[sizeof(U)];
    std::memcpy(buf, &x, sizeof(U));
    out.append(buf, sizeof(U));
  } else {
    for (std::size_t i = 0; i < sizeof(U); ++i)
      out.push_back(static_cast<char>(static_cast<std::uint8_t>(x >> (8 * i))));
  }
}

template <class U>
U get_fixed(std::string_view& in, std::string_view what) {
  static_assert(std::is_unsigned_v<U>);
  auto bytes = take(in, sizeof(U), what);
  U x = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&x, bytes.data(), sizeof(U));
  } else {
    for (std::size_t i = 0; i < sizeof(U); ++i)
      x |= static_cast<U>(static_cast<U>(static_cast<std::uint8_t>(bytes[i])) << (8 * i));
  }
  return x;
}

// -- unsigned LEB128 varints (lengths, element counts) -------------------------

/// Appends `x` as 7-bit groups, least significant first, high bit = "more".
inline void put_varint(std::string& out, std::uint64_t x) {
  while (x >= 0x80) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(x) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

/// Reads a varint of at most 10 bytes; rejects encodings that overflow 64 bits.
inline std::uint64_t get_varint(std::string_view& in, std::string_view what) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == in.size())
      throw_truncated(what, i + 1, in.size());
    auto byte = static_cast<std::uint8_t>(in[i]);
    if (i == 9 && byte > 1)
      throw_malformed(what, "varint overflows 64 bits");
    x |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      in.remove_prefix(i + 1);
      return x;
    }
  }
  throw_malformed(what, "varint longer than 10 bytes");
}

// -- element sizes --------------------------------------------------------------

/// The fewest bytes any value of `T` encodes to (0 when unknown). Lets a
/// container reject an element count that the remaining input cannot hold
/// before allocating for it. Specialized next to each codec.
template <class T>
struct min_size {
  static constexpr std::size_t value = 0;
};

template <class T>
inline constexpr std::size_t min_size_v = min_size<T>::value;

/// Reads an element count and checks that `in` can hold that many elements.
template <class T>
std::size_t get_count(std::string_view& in, std::string_view what) {
  auto n = get_varint(in, what);
  constexpr auto elem = min_size_v<T>;
  if constexpr (elem > 0) {
    if (n > in.size() / elem)
      throw_truncated(what, n > SIZE_MAX / elem ? SIZE_MAX : n * elem, in.size());
  }
  if constexpr (sizeof(std::size_t) < sizeof(std::uint64_t)) {
    if (n > SIZE_MAX)
      throw_malformed(what, "count exceeds the address space");
  }
  return static_cast<std::size_t>(n);
}

} // namespace sluice::detail
