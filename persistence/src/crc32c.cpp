// CRC-32C, table-driven one byte at a time (table built at compile time).
#include "sluice/crc32c.hpp"

#include <array>

namespace sluice {

namespace {

constexpr std::uint32_t polynomial = 0x82F63B78; // 0x1EDC6F41 bit-reversed

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    auto crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1) ? (crc >> 1) ^ polynomial : crc >> 1;
    table[i] = crc;
  }
  return table;
}

constexpr auto table = make_table();

} // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) noexcept {
  crc = ~crc;
  for (auto c : data)
    crc = table[(crc ^ static_cast<std::uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

} // namespace sluice
