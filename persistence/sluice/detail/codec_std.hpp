// Codecs for std::pair, std::tuple, std::optional, std::vector, std::map and
// std::unordered_map. Included by sluice/codec.hpp only.
#pragma once

#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::detail {

template <class A, class B>
struct min_size<std::pair<A, B>> {
  static constexpr std::size_t value = min_size_v<A> + min_size_v<B>;
};

template <class... Ts>
struct min_size<std::tuple<Ts...>> {
  static constexpr std::size_t value = (std::size_t{0} + ... + min_size_v<Ts>);
};

template <class T>
struct min_size<std::optional<T>> {
  static constexpr std::size_t value = 1;
};

template <class T, class A>
struct min_size<std::vector<T, A>> {
  static constexpr std::size_t value = 1;
};

template <class K, class V, class C, class A>
struct min_size<std::map<K, V, C, A>> {
  static constexpr std::size_t value = 1;
};

template <class K, class V, class H, class E, class A>
struct min_size<std::unordered_map<K, V, H, E, A>> {
  static constexpr std::size_t value = 1;
};

/// Element types whose in-memory bytes equal their codec bytes, so a vector of
/// them is copied in one go on little-endian hosts.
template <class T>
concept memcpy_codec = std::endian::native == std::endian::little
                       && (std::is_same_v<T, float> || std::is_same_v<T, double>
                           || (std::is_integral_v<T> && !std::is_same_v<T, bool>));

/// Sorts (key bytes, entry) pairs by their key bytes (persistence/src/codec.cpp:
/// out of line, so that this header needs no <algorithm>).
void sort_by_key_bytes(std::vector<std::pair<std::string, const void*>>& entries);

/// Reads the key/value pairs of a map or unordered_map; a repeated key is malformed.
template <class Map>
Map decode_map(std::string_view& in, std::string_view what) {
  using key_type = typename Map::key_type;
  using mapped_type = typename Map::mapped_type;
  auto n = get_count<std::pair<key_type, mapped_type>>(in, what);
  Map result;
  for (std::size_t i = 0; i < n; ++i) {
    auto key = codec<key_type>::decode(in);
    auto value = codec<mapped_type>::decode(in);
    if (!result.emplace(std::move(key), std::move(value)).second)
      throw_malformed(what, "repeated key");
  }
  return result;
}

} // namespace sluice::detail

namespace sluice {

/// `first` then `second`, no framing.
template <encodable A, encodable B>
struct codec<std::pair<A, B>> {
  static void encode(const std::pair<A, B>& x, std::string& out) {
    codec<A>::encode(x.first, out);
    codec<B>::encode(x.second, out);
  }

  static std::pair<A, B> decode(std::string_view& in) {
    // Braced initialization evaluates left to right.
    return std::pair<A, B>{codec<A>::decode(in), codec<B>::decode(in)};
  }
};

/// The elements in order, no framing; std::tuple<> encodes to no bytes.
template <encodable... Ts>
struct codec<std::tuple<Ts...>> {
  static void encode(const std::tuple<Ts...>& x, std::string& out) {
    std::apply([&out](const Ts&... xs) { (codec<Ts>::encode(xs, out), ...); }, x);
  }

  static std::tuple<Ts...> decode([[maybe_unused]] std::string_view& in) {
    return std::tuple<Ts...>{codec<Ts>::decode(in)...};
  }
};

/// A tag byte, 0x00 (empty) or 0x01 (then the value).
template <encodable T>
struct codec<std::optional<T>> {
  static void encode(const std::optional<T>& x, std::string& out) {
    out.push_back(x ? '\x01' : '\x00');
    if (x)
      codec<T>::encode(*x, out);
  }

  static std::optional<T> decode(std::string_view& in) {
    auto tag = static_cast<std::uint8_t>(detail::take(in, 1, "optional tag")[0]);
    if (tag > 1)
      detail::throw_malformed("optional tag", "byte is neither 0x00 nor 0x01");
    if (tag == 0)
      return std::nullopt;
    return codec<T>::decode(in);
  }
};

/// A varint element count, then the elements in order.
template <encodable T, class A>
struct codec<std::vector<T, A>> {
  static void encode(const std::vector<T, A>& x, std::string& out) {
    detail::put_varint(out, x.size());
    if constexpr (detail::memcpy_codec<T>) {
      out.append(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(T));
    } else {
      for (const auto& elem : x)
        codec<T>::encode(elem, out);
    }
  }

  static std::vector<T, A> decode(std::string_view& in) {
    auto n = detail::get_count<T>(in, "vector");
    std::vector<T, A> result;
    if constexpr (detail::memcpy_codec<T>) {
      auto bytes = detail::take(in, n * sizeof(T), "vector elements");
      result.resize(n);
      if (n != 0) // an empty vector's data() may be null: memcpy(nullptr, ..., 0) is UB
        std::memcpy(result.data(), bytes.data(), bytes.size());
    } else {
      result.reserve(n < in.size() ? n : in.size());
      for (std::size_t i = 0; i < n; ++i)
        result.push_back(codec<T>::decode(in));
    }
    return result;
  }
};

/// A varint entry count, then key and value of each entry in the map's order.
template <encodable K, encodable V, class C, class A>
struct codec<std::map<K, V, C, A>> {
  static void encode(const std::map<K, V, C, A>& x, std::string& out) {
    detail::put_varint(out, x.size());
    for (const auto& [key, value] : x) {
      codec<K>::encode(key, out);
      codec<V>::encode(value, out);
    }
  }

  static std::map<K, V, C, A> decode(std::string_view& in) {
    return detail::decode_map<std::map<K, V, C, A>>(in, "map");
  }
};

/// Like std::map, with entries sorted by their encoded key bytes, so equal maps
/// give equal bytes whatever their bucket order.
template <encodable K, encodable V, class H, class E, class A>
struct codec<std::unordered_map<K, V, H, E, A>> {
  static void encode(const std::unordered_map<K, V, H, E, A>& x, std::string& out) {
    std::vector<std::pair<std::string, const void*>> entries;
    entries.reserve(x.size());
    for (const auto& [key, value] : x) {
      std::string key_bytes;
      codec<K>::encode(key, key_bytes);
      entries.emplace_back(std::move(key_bytes), &value);
    }
    detail::sort_by_key_bytes(entries);
    detail::put_varint(out, entries.size());
    for (const auto& [key_bytes, value] : entries) {
      out.append(key_bytes);
      codec<V>::encode(*static_cast<const V*>(value), out);
    }
  }

  static std::unordered_map<K, V, H, E, A> decode(std::string_view& in) {
    return detail::decode_map<std::unordered_map<K, V, H, E, A>>(in, "unordered_map");
  }
};

} // namespace sluice

// The codec of Protobuf messages, without including Protobuf headers: a type
// derived from MessageLite is complete wherever one of its values is encoded.
// Included by sluice/codec.hpp only.
namespace google::protobuf {
class MessageLite;
} // namespace google::protobuf

namespace sluice::detail {

/// Generated Protobuf message classes (full or lite runtime).
template <class T>
concept protobuf_message = std::is_class_v<T>
                           && std::is_base_of_v<google::protobuf::MessageLite, T>;

template <protobuf_message T>
struct min_size<T> {
  static constexpr std::size_t value = 1;
};

} // namespace sluice::detail

namespace sluice {

/// A varint byte count, then the message's Protobuf wire bytes
/// (`SerializeToString`). Decoding a message that does not parse, or that
/// lacks proto2 required fields, throws `codec_error` naming the message type.
template <detail::protobuf_message T>
struct codec<T> {
  static void encode(const T& x, std::string& out) {
    auto size = x.ByteSizeLong();
    if (size > static_cast<std::size_t>(INT_MAX))
      detail::throw_unencodable(x.GetTypeName(), "message larger than 2 GiB");
    detail::put_varint(out, size);
    auto before = out.size();
    if (!x.AppendToString(&out))
      detail::throw_unencodable(x.GetTypeName(), "required fields missing");
    if (out.size() - before != size)
      detail::throw_unencodable(x.GetTypeName(), "message changed while encoding");
  }

  static T decode(std::string_view& in) {
    T result;
    auto n = detail::get_varint(in, "protobuf message length");
    if (n > static_cast<std::uint64_t>(INT_MAX))
      detail::throw_malformed(result.GetTypeName(), "message length exceeds 2 GiB");
    if (n > in.size())
      detail::throw_truncated(result.GetTypeName(), static_cast<std::size_t>(n), in.size());
    auto bytes = detail::take(in, static_cast<std::size_t>(n), "protobuf message");
    if (!result.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
      detail::throw_malformed(result.GetTypeName(), "bytes do not parse as this message");
    return result;
  }
};

} // namespace sluice
