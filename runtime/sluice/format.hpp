// Record formatting for print and save_as_text_files, like Scala's toString:
// pairs and tuples as (a,1), optionals as Some(x)/None, vectors as [a, b].
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace sluice {

// All overloads are declared first so that nested records find each other.
template <class T>
void format_record(std::ostream& os, const T& x);
template <class A, class B>
void format_record(std::ostream& os, const std::pair<A, B>& p);
template <class... Ts>
void format_record(std::ostream& os, const std::tuple<Ts...>& t);
template <class T>
void format_record(std::ostream& os, const std::optional<T>& x);
template <class T>
void format_record(std::ostream& os, const std::vector<T>& v);

namespace detail {

template <class T>
concept streamable = requires(std::ostream& os, const T& x) { os << x; };

/// Writes `d` as Scala prints a Double: "1.0" for a whole number below
/// 1e15, else the shortest form that reads back the same (std::to_chars).
/// Out of line (runtime/src/text_output.cpp): it needs <cmath> and
/// <charconv>, which every user of the public header would parse otherwise.
void format_double(std::ostream& os, double d);

} // namespace detail

template <class A, class B>
void format_record(std::ostream& os, const std::pair<A, B>& p) {
  os << '(';
  format_record(os, p.first);
  os << ',';
  format_record(os, p.second);
  os << ')';
}

template <class... Ts>
void format_record(std::ostream& os, const std::tuple<Ts...>& t) {
  os << '(';
  std::apply([&](const auto&... xs) {
    size_t i = 0;
    ((os << (i++ ? "," : ""), format_record(os, xs)), ...);
  }, t);
  os << ')';
}

template <class T>
void format_record(std::ostream& os, const std::optional<T>& x) {
  if (!x) {
    os << "None";
    return;
  }
  os << "Some(";
  format_record(os, *x);
  os << ')';
}

template <class T>
void format_record(std::ostream& os, const std::vector<T>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i)
      os << ", ";
    format_record(os, v[i]);
  }
  os << ']';
}

/// The general case: numbers, strings and anything with operator<<.
template <class T>
void format_record(std::ostream& os, const T& x) {
  if constexpr (std::is_same_v<T, bool>)
    os << (x ? "true" : "false");
  else if constexpr (std::is_floating_point_v<T>)
    detail::format_double(os, static_cast<double>(x));
  else if constexpr (std::is_same_v<T, char>)
    os << x;
  else if constexpr (std::is_integral_v<T>)
    os << +x;
  else if constexpr (detail::streamable<T>)
    os << x;
  else
    static_assert(detail::streamable<T>,
                  "print/save_as_text_files need operator<<(std::ostream&, const T&) "
                  "or an overload of sluice::format_record for this record type");
}

} // namespace sluice
