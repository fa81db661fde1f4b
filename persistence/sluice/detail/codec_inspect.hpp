// The codec of user structs with a CAF 0.17-style `inspect` overload, run by two
// small inspectors of our own (no CAF headers). Included by sluice/codec.hpp only.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

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
