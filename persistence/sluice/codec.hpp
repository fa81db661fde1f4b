// The record codec: turns records into bytes and back (DESIGN.md "Records"; bytes in FORMAT.md).
#pragma once

#include <cstdint>
#include <concepts>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

/// Thrown by `codec<T>::decode` on truncated or malformed input and by
/// `codec<T>::encode` when a value cannot be represented (a Protobuf message
/// missing required fields). The message names the type or part being decoded.
class codec_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The customization point. A specialization provides:
/// ```
/// static void encode(const T& x, std::string& out); // appends x's bytes to out
/// static T decode(std::string_view& in);            // consumes x's bytes from the front of in
/// ```
/// `decode` throws `codec_error` when `in` is too short or holds bytes no
/// `encode` produces; it leaves `in` unspecified then. Built in for arithmetic
/// types, bool, std::string, std::pair, std::tuple, std::optional, std::vector,
/// std::map, std::unordered_map, Protobuf messages and types with a CAF-style
/// `inspect` overload. Users may specialize it for their own types, and
/// should name them: `static constexpr std::string_view type_name = "...";`
/// (see `codec_type_name`: checkpoints record it to refuse a changed type).
/// @note Codec bytes are not self-describing: decode with the type that encoded.
template <class T>
struct codec;

/// True when `codec<T>` encodes and decodes `T`, so records can cross processes,
/// the WAL and checkpoints. Use it to reject a record type with a clear message:
/// `static_assert(sluice::encodable<T>, "records need a sluice::codec<T>")`.
template <class T>
concept encodable = requires(const T& x, std::string& out, std::string_view& in) {
  codec<T>::encode(x, out);
  { codec<T>::decode(in) } -> std::same_as<T>;
};

} // namespace sluice

#include "sluice/detail/codec_builtin.hpp"

#include "sluice/detail/codec_std.hpp"
#include "sluice/detail/codec_inspect.hpp"

namespace sluice {

/// Returns the bytes of `x`.
template <encodable T>
std::string encode_to_string(const T& x) {
  std::string out;
  codec<T>::encode(x, out);
  return out;
}

/// Returns the value encoded in `bytes`, which must hold exactly one `T`.
/// Throws `codec_error` on truncated or malformed input and when bytes remain
/// after the value.
template <encodable T>
T decode_from_string(std::string_view bytes) {
  T result = codec<T>::decode(bytes);
  if (!bytes.empty())
    detail::throw_trailing_bytes(bytes.size());
  return result;
}

/// The state of one (operator, partition) as a state checkpoint restores it
/// (checkpoint_store::read_state, the windows' restore_state): codec bytes
/// of (key, value), sorted by key (bytewise, as std::string's operator<),
/// each key once. A sorted vector rather than a map: built and read back as
/// one allocation, moved not copied. A recovered run's operators receive the
/// checkpoint's chunks and fold them into this, or apply them to a table
/// directly (for_each_state_change).
using state_entries = std::vector<std::pair<std::string, std::string>>;

/// What a restored state was read from: the checkpoints applied (the full
/// snapshot and the deltas after it; 0 when there was none) and the full
/// snapshot's batch time (-1 when there was none).
struct state_chain {
  std::int32_t checkpoints = 0;
  std::int64_t full_ms = -1;
  friend bool operator==(const state_chain&, const state_chain&) = default;
};

/// Receives the changes of state checkpoint chunks (for_each_state_change):
/// codec bytes, as views valid during the call.
class state_change_visitor {
 public:
  virtual void upsert(std::string_view key, std::string_view value) = 0;
  virtual void remove(std::string_view key) = 0;

 protected:
  ~state_change_visitor() = default;
};

/// Calls `v` for every change of `chunks` (StateCheckpointChunk payloads in
/// the order they apply, as checkpoint_store::read_state_chunks returns them
/// and a recovered stateful operator receives them): a chunk's upserts, then
/// its removals. Applying them in that order leaves the state read_state
/// returns. Throws storage_corruption for a chunk that does not parse.
void for_each_state_change(const std::vector<std::string>& chunks, state_change_visitor& v);

/// The number of upserts of the first checkpoint among `chunks` (its first
/// chunk's times its chunk count): a size to reserve before applying them.
std::size_t first_checkpoint_size_hint(const std::vector<std::string>& chunks);

} // namespace sluice
