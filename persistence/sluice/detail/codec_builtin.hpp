// Codecs for arithmetic types, bool and std::string. Included by sluice/codec.hpp only.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

// Wire primitives of the codec: fixed little-endian integers, LEB128 varints,
// bounds-checked reads. Included by sluice/codec.hpp only.
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

/// Reverses the bytes [first, first + n) (big-endian hosts; the codec
/// headers avoid <algorithm>, which every user of sluice.hpp would parse).
inline void reverse_bytes(char* first, std::size_t n) {
  for (std::size_t i = 0; i < n / 2; ++i) {
    char c = first[i];
    first[i] = first[n - 1 - i];
    first[n - 1 - i] = c;
  }
}

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


namespace sluice::detail {

/// The name a codec error gives an arithmetic type: "int32", "uint8", "char", "double", ...
template <class T>
constexpr std::string_view arithmetic_name() {
  if constexpr (std::is_same_v<T, char>)
    return "char";
  else if constexpr (std::is_same_v<T, wchar_t>)
    return "wchar_t";
  else if constexpr (std::is_same_v<T, char8_t>)
    return "char8_t";
  else if constexpr (std::is_same_v<T, char16_t>)
    return "char16_t";
  else if constexpr (std::is_same_v<T, char32_t>)
    return "char32_t";
  else if constexpr (std::is_same_v<T, float>)
    return "float";
  else if constexpr (std::is_same_v<T, double>)
    return "double";
  else if constexpr (std::is_same_v<T, long double>)
    return "long double";
  else if constexpr (std::is_signed_v<T>) {
    constexpr std::string_view names[] = {"int8", "int16", "int32", "int64"};
    return names[std::bit_width(sizeof(T)) - 1];
  } else {
    constexpr std::string_view names[] = {"uint8", "uint16", "uint32", "uint64"};
    return names[std::bit_width(sizeof(T)) - 1];
  }
}

/// The unsigned integer holding the bytes of arithmetic `T` on the wire.
template <class T>
struct wire_bits {
  using type = std::make_unsigned_t<T>;
};

template <>
struct wire_bits<float> {
  static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
  using type = std::uint32_t;
};

template <>
struct wire_bits<double> {
  static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8);
  using type = std::uint64_t;
};

/// Bytes of a long double that carry its value: 10 for the x87 80-bit format
/// (the rest is padding), else all of them.
inline constexpr std::size_t long_double_size
  = std::numeric_limits<long double>::digits == 64 ? 10 : sizeof(long double);

/// Arithmetic types other than bool and long double: fixed width, little-endian.
template <class T>
concept fixed_arithmetic = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>
                           && !std::is_same_v<T, long double>;

template <class T>
  requires std::is_arithmetic_v<T>
struct min_size<T> {
  static constexpr std::size_t value = std::is_same_v<T, long double> ? long_double_size
                                                                       : sizeof(T);
};

template <>
struct min_size<std::string> {
  static constexpr std::size_t value = 1;
};

} // namespace sluice::detail

namespace sluice {

/// Integers: two's complement, sizeof(T) bytes, little-endian. float/double:
/// the IEEE 754 bit pattern as a little-endian uint32/uint64.
template <detail::fixed_arithmetic T>
struct codec<T> {
  using bits = typename detail::wire_bits<T>::type;

  static void encode(const T& x, std::string& out) {
    detail::put_fixed(out, std::bit_cast<bits>(x));
  }

  static T decode(std::string_view& in) {
    return std::bit_cast<T>(detail::get_fixed<bits>(in, detail::arithmetic_name<T>()));
  }
};

/// The significant bytes of the in-memory representation, little-endian
/// (x86: the 10-byte x87 format). Portable only between hosts sharing the format.
template <>
struct codec<long double> {
  static void encode(const long double& x, std::string& out) {
    char buf[sizeof(long double)];
    std::memcpy(buf, &x, sizeof(long double));
    if constexpr (std::endian::native == std::endian::big)
      detail::reverse_bytes(buf, sizeof(long double));
    out.append(buf, detail::long_double_size);
  }

  static long double decode(std::string_view& in) {
    auto bytes = detail::take(in, detail::long_double_size, "long double");
    char buf[sizeof(long double)] = {};
    std::memcpy(buf, bytes.data(), bytes.size());
    if constexpr (std::endian::native == std::endian::big)
      detail::reverse_bytes(buf, sizeof(long double));
    long double x;
    std::memcpy(&x, buf, sizeof(long double));
    return x;
  }
};

/// One byte: 0x00 or 0x01; any other byte is malformed.
template <>
struct codec<bool> {
  static void encode(const bool& x, std::string& out) {
    out.push_back(x ? '\x01' : '\x00');
  }

  static bool decode(std::string_view& in) {
    auto byte = static_cast<std::uint8_t>(detail::take(in, 1, "bool")[0]);
    if (byte > 1)
      detail::throw_malformed("bool", "byte is neither 0x00 nor 0x01");
    return byte == 1;
  }
};

/// A varint byte count, then the bytes as they are (no terminator, any content).
template <>
struct codec<std::string> {
  static void encode(const std::string& x, std::string& out) {
    detail::put_varint(out, x.size());
    out.append(x);
  }

  static std::string decode(std::string_view& in) {
    auto n = detail::get_varint(in, "string length");
    if (n > in.size())
      detail::throw_truncated("string bytes", n < SIZE_MAX ? n : std::uint64_t{SIZE_MAX}, in.size());
    return std::string{detail::take(in, static_cast<std::size_t>(n), "string bytes")};
  }
};

} // namespace sluice
