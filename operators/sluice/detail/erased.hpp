// Type-erased partitions: how typed records travel through untyped actors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "sluice/codec.hpp"

namespace sluice::detail {

class erased;

/// What the engine can do with a partition of one record type without
/// knowing it: count, encode and decode (DESIGN.md "Records"). One static
/// instance per type, registered at program start under `key`, so a process
/// that receives a partition's bytes finds the decoder by the key alone (every
/// node runs the same executable, so keys agree).
struct record_ops {
  uint64_t key;            ///< hash of the mangled type name; never 0
  const char* type_name;   ///< the mangled type name (demangle for messages)
  size_t (*size)(const void* records);
  /// Appends codec<std::vector<T>> bytes; null when T has no sluice::codec.
  void (*encode)(const void* records, std::string& out);
  /// Decodes what encode wrote (throws codec_error); null without a codec.
  erased (*decode)(std::string_view bytes);
};

/// Registers `ops` (called once per record type, before main). Throws
/// std::logic_error if a different type already has the same key.
bool register_record_type(const record_ops* ops);

/// Returns the record type registered under `key`, or nullptr.
const record_ops* find_record_type(uint64_t key);

/// Returns the readable name of a mangled type name.
std::string demangle(const char* mangled);

/// Returns the 64-bit FNV-1a hash of `s` (0 maps to 1: 0 means "no type").
constexpr uint64_t type_key(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

template <class T>
struct record_type;

/// Owns a `std::vector<T>` for the producing node's record type T, and knows
/// T's record_ops. Shared only on fan-out; a sole owner moves records out
/// instead of copying them.
class erased {
 public:
  erased() = default;
  erased(std::nullptr_t) {}
  erased(std::shared_ptr<void> records, const record_ops* ops)
      : records_(std::move(records)), ops_(ops) {}

  explicit operator bool() const { return records_ != nullptr; }
  void* get() const { return records_.get(); }
  long use_count() const { return records_.use_count(); }
  const record_ops* ops() const { return ops_; }
  void reset() {
    records_.reset();
    ops_ = nullptr;
  }

 private:
  std::shared_ptr<void> records_;
  const record_ops* ops_ = nullptr;
};

template <class T>
struct record_type {
  static constexpr bool has_codec = encodable<std::vector<T>>;
  static size_t size(const void* p) { return static_cast<const std::vector<T>*>(p)->size(); }
  static void encode(const void* p, std::string& out) {
    if constexpr (has_codec)
      codec<std::vector<T>>::encode(*static_cast<const std::vector<T>*>(p), out);
  }
  static erased decode(std::string_view bytes);
  /// A function-local static: the registration below may run before any
  /// other static of this class is initialised.
  static const record_ops& ops() {
    static const record_ops o{type_key(typeid(T).name()), typeid(T).name(), &size,
                              has_codec ? &encode : nullptr, has_codec ? &decode : nullptr};
    return o;
  }
  /// Initialised before main wherever erase<T> is instantiated.
  static inline const bool registered = register_record_type(&ops());
};

template <class T>
erased erase(std::vector<T>&& v) {
  (void)record_type<T>::registered;
  return erased{std::make_shared<std::vector<T>>(std::move(v)), &record_type<T>::ops()};
}

template <class T>
erased record_type<T>::decode(std::string_view bytes) {
  if constexpr (has_codec)
    return erase(decode_from_string<std::vector<T>>(bytes));
  else
    return {};
}

/// Returns the records of `p`, moved when `p` is their only owner.
template <class T>
std::vector<T> take(erased& p) {
  if (!p)
    return {};
  auto* v = static_cast<std::vector<T>*>(p.get());
  std::vector<T> result = p.use_count() == 1 ? std::move(*v) : *v;
  p.reset();
  return result;
}

template <class T>
const std::vector<T>& view(const erased& p) {
  return *static_cast<const std::vector<T>*>(p.get());
}

/// One partition of a batch: its index in the RDD and its records.
struct part {
  int32_t index = 0;
  erased data;
};

using parts = std::vector<part>;

/// Sorts `ps` by index (operators/src/record_types.cpp: out of line so that
/// the operator templates need no <algorithm>).
void sort_by_index(parts& ps);

} // namespace sluice::detail
