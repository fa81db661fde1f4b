// The codec of user structs with a CAF 0.17-style `inspect` overload, run by two
// small inspectors of our own (no CAF headers). Included by sluice/codec.hpp only.
#pragma once

#include <concepts>
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

/// Arguments of an inspector call that carry no field: CAF's meta annotations,
/// i.e. empty classes (`caf::meta::hex_formatted()`, `omittable()`, ...) and
/// classes with a `const char* value` (`caf::meta::type_name("x")`).
template <class T>
concept inspect_annotation = !encodable<T>
                             && (std::is_empty_v<T> || requires(const T& x) {
                                   { x.value } -> std::convertible_to<const char*>;
                                 });

template <class T>
inline constexpr bool encodable_field = encodable<T> || inspect_annotation<T>;

/// Appends the codec bytes of each field it is given, in argument order.
class encode_inspector {
 public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;

  explicit encode_inspector(std::string& out) : out_(out) {
    // nop
  }

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (apply(xs), ...);
  }

 private:
  template <class T>
  void apply(const T& x) {
    static_assert(encodable_field<T>,
                  "sluice::codec: a field passed to inspect() has no sluice::codec<T>: "
                  "specialize sluice::codec<T>, give the field's type an inspect() "
                  "overload, or use a built-in type");
    if constexpr (encodable<T>)
      codec<T>::encode(x, out_);
  }

  std::string& out_;
};

/// Assigns each field it is given from the codec bytes at the front of its input.
class decode_inspector {
 public:
  using result_type = void;
  static constexpr bool reads_state = false;
  static constexpr bool writes_state = true;

  explicit decode_inspector(std::string_view& in) : in_(in) {
    // nop
  }

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (apply(xs), ...);
  }

 private:
  template <class T>
  void apply(T& x) {
    using value_type = std::remove_const_t<T>;
    static_assert(encodable_field<value_type>,
                  "sluice::codec: a field passed to inspect() has no sluice::codec<T>: "
                  "specialize sluice::codec<T>, give the field's type an inspect() "
                  "overload, or use a built-in type");
    if constexpr (encodable<value_type>) {
      static_assert(!std::is_const_v<T>, "sluice::codec: inspect() passed a const field");
      x = codec<value_type>::decode(in_);
    }
  }

  std::string_view& in_;
};

/// Classes whose fields an ADL-found `inspect(Inspector&, T&)` lists.
template <class T>
concept inspectable = std::is_class_v<T> && !protobuf_message<T>
                      && std::default_initializable<T>
                      && requires(encode_inspector& e, decode_inspector& d, T& x) {
                           inspect(e, x);
                           inspect(d, x);
                         };

} // namespace sluice::detail

namespace sluice {

/// The fields in the order `inspect` passes them, each with its own codec, no
/// framing. Supports `f(x.a, x.b)`, optionally with CAF meta annotations, which
/// are skipped; CAF's save/load callbacks are not supported.
/// @pre `inspect` passes the same fields in the same order on every call.
template <detail::inspectable T>
struct codec<T> {
  static void encode(const T& x, std::string& out) {
    detail::encode_inspector f{out};
    inspect(f, const_cast<T&>(x)); // the encode inspector only reads
  }

  static T decode(std::string_view& in) {
    T result{};
    detail::decode_inspector f{in};
    inspect(f, result);
    return result;
  }
};

} // namespace sluice

// Stable, readable names of codec types ("int64", "pair<string,int64>"), for
// checkpoints to record which types wrote their bytes. Included by
// sluice/codec.hpp only.
namespace sluice::detail {

/// Replaces what would break a graph description line (FORMAT.md "Graph
/// description"): control characters and '|'. Out of line in
/// persistence/src/codec.cpp.
std::string clean_type_name(std::string_view name);

template <class T>
struct codec_type_name_of;

template <class T>
std::string type_name_of() {
  if constexpr (requires { std::string_view{codec<T>::type_name}; })
    return clean_type_name(std::string_view{codec<T>::type_name});
  else
    return codec_type_name_of<T>::get();
}

/// Collects the type names of the fields an `inspect` overload passes, and
/// the name of a CAF `type_name` annotation.
class type_name_inspector {
 public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (apply(xs), ...);
  }

  std::string name;
  std::string fields;

 private:
  template <class T>
  void apply(const T& x) {
    using value_type = std::remove_const_t<T>;
    if constexpr (encodable<value_type>) {
      fields += fields.empty() ? "" : ",";
      fields += type_name_of<value_type>();
    } else if constexpr (requires { std::string_view{x.value}; }) {
      name = clean_type_name(x.value); // caf::meta::type_name("...")
    }
  }
};

/// Built-in categories mirror the built-in codecs; types with equal bytes
/// (std::map and std::unordered_map, any allocator) get equal names.
template <class T>
struct codec_type_name_of {
  static std::string get() {
    if constexpr (std::is_arithmetic_v<T>) {
      if constexpr (std::is_same_v<T, bool>)
        return "bool";
      else
        return std::string{arithmetic_name<T>()};
    } else if constexpr (std::is_same_v<T, std::string>) {
      return "string";
    } else if constexpr (protobuf_message<T>) {
      return clean_type_name(std::string{T{}.GetTypeName()}); // the full name
    } else if constexpr (inspectable<T>) {
      // A type reached again while naming its own fields is named without them.
      thread_local bool naming = false;
      if (naming)
        return "struct";
      naming = true;
      type_name_inspector f;
      T x{};
      inspect(f, x);
      naming = false;
      return (f.name.empty() ? std::string{"struct"} : f.name) + "{" + f.fields + "}";
    } else {
      return "custom"; // a user's codec<T> without a type_name
    }
  }
};

template <class A, class B>
struct codec_type_name_of<std::pair<A, B>> {
  static std::string get() {
    return "pair<" + type_name_of<A>() + "," + type_name_of<B>() + ">";
  }
};

template <class... Ts>
struct codec_type_name_of<std::tuple<Ts...>> {
  static std::string get() {
    std::string inner;
    ((inner += (inner.empty() ? "" : ",") + type_name_of<Ts>()), ...);
    return "tuple<" + inner + ">";
  }
};

template <class T>
struct codec_type_name_of<std::optional<T>> {
  static std::string get() {
    return "optional<" + type_name_of<T>() + ">";
  }
};

template <class T, class A>
struct codec_type_name_of<std::vector<T, A>> {
  static std::string get() {
    return "vector<" + type_name_of<T>() + ">";
  }
};

template <class K, class V, class C, class A>
struct codec_type_name_of<std::map<K, V, C, A>> {
  static std::string get() {
    return "map<" + type_name_of<K>() + "," + type_name_of<V>() + ">";
  }
};

template <class K, class V, class H, class E, class A>
struct codec_type_name_of<std::unordered_map<K, V, H, E, A>> {
  static std::string get() {
    return "map<" + type_name_of<K>() + "," + type_name_of<V>() + ">";
  }
};

} // namespace sluice::detail

namespace sluice {

/// Returns the stable name of `T`'s codec bytes, the same in every build and
/// on every compiler: "int64", "double", "string", "pair<string,int64>",
/// "vector<double>", "map<string,int64>" (also for std::unordered_map, whose
/// bytes are the same), "optional<int32>", "tuple<int32,string>", a Protobuf
/// message's full name ("sluice.pb.WalBlock"), and for a struct with an
/// `inspect` overload its CAF type name annotation (or "struct") and its
/// fields: "point{int32,int32}". A `codec<T>` specialization names its type
/// with `static constexpr std::string_view type_name = "...";` (also read
/// for the built-in kinds, if present); one without is named "custom".
/// Control characters and '|' in names become '?'.
template <encodable T>
std::string codec_type_name() {
  return detail::type_name_of<T>();
}

} // namespace sluice
