#include "sluice/state_rows.hpp"

#include "sluice/codec.hpp"

namespace sluice {

namespace {

[[noreturn]] void malformed(const char* what) {
  throw codec_error(std::string{"state_rows: malformed packed rows: "} + what);
}

/// Reads one length-prefixed byte string at `p` (before `end`).
std::string_view take(const char*& p, const char* end) {
  std::uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (p == end)
      malformed("a length runs past the end");
    if (shift > 63)
      malformed("a length is longer than 10 bytes");
    auto b = static_cast<unsigned char>(*p++);
    n |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      break;
  }
  if (n > static_cast<std::uint64_t>(end - p))
    malformed("a key or value runs past the end");
  std::string_view out{p, static_cast<std::size_t>(n)};
  p += n;
  return out;
}

} // namespace

state_rows::state_rows(std::initializer_list<row> rows) {
  for (auto& [k, v] : rows)
    add(k, v);
}

state_rows::state_rows(const std::vector<std::pair<std::string, std::string>>& rows) {
  for (auto& [k, v] : rows)
    add(k, v);
}

void state_rows::iterator::read() {
  row_.first = take(p_, end_);
  row_.second = take(p_, end_);
}

void state_rows::iterator::finish() const {
  if (p_ != end_)
    malformed("bytes follow the last row");
}

} // namespace sluice
