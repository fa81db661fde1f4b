// The cold paths of the codec: building codec_error messages.
#include "sluice/codec.hpp"

#include <algorithm>
#include <string>

namespace sluice::detail {

namespace {

std::string plural_bytes(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

} // namespace

void sort_by_key_bytes(std::vector<std::pair<std::string, const void*>>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

std::string clean_type_name(std::string_view name) {
  std::string out{name};
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '|')
      c = '?';
  return out;
}

void throw_truncated(std::string_view what, std::size_t need, std::size_t left) {
  std::string msg = "sluice::codec: truncated input decoding ";
  msg += what;
  msg += ": need at least " + plural_bytes(need) + ", " + std::to_string(left) + " left";
  throw codec_error{msg};
}

void throw_malformed(std::string_view what, std::string_view why) {
  std::string msg = "sluice::codec: malformed input decoding ";
  msg += what;
  msg += ": ";
  msg += why;
  throw codec_error{msg};
}

void throw_trailing_bytes(std::size_t n) {
  throw codec_error{"sluice::codec: " + plural_bytes(n) + " left over after the decoded value"};
}

void throw_unencodable(std::string_view what, std::string_view why) {
  std::string msg = "sluice::codec: cannot encode ";
  msg += what;
  msg += ": ";
  msg += why;
  throw codec_error{msg};
}

} // namespace sluice::detail
