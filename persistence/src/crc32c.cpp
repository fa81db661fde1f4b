// CRC-32C: the SSE4.2 crc32 instruction where the CPU has it (8 bytes per step),
// otherwise table-driven one byte at a time (table built at compile time).
#include "sluice/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#  include <nmmintrin.h>
#endif

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

/// Extends the raw (not inverted) CRC register `crc` by `data`.
std::uint32_t extend_table(std::uint32_t crc, std::string_view data) noexcept {
  for (auto c : data)
    crc = table[(crc ^ static_cast<std::uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)

// The crc32 instruction computes exactly this CRC (reflected 0x1EDC6F41) on the raw register.
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc,
                                                             std::string_view data) noexcept {
  auto p = data.data();
  auto n = data.size();
  std::uint64_t wide = crc;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    wide = _mm_crc32_u64(wide, word);
  }
  crc = static_cast<std::uint32_t>(wide);
  for (; n > 0; ++p, --n)
    crc = _mm_crc32_u8(crc, static_cast<std::uint8_t>(*p));
  return crc;
}

bool has_sse42() noexcept {
  static const bool result = [] {
    __builtin_cpu_init(); // may run before libgcc's own CPU detection
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return result;
}

#endif

} // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) noexcept {
#if defined(__x86_64__)
  if (has_sse42())
    return ~extend_sse42(~crc, data);
#endif
  return ~extend_table(~crc, data);
}

} // namespace sluice
