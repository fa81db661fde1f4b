// The codec of Protobuf messages, without including Protobuf headers: a type
// derived from MessageLite is complete wherever one of its values is encoded.
// Included by sluice/codec.hpp only.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

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
