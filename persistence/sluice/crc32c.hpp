// CRC-32C (Castagnoli), the checksum of sluice frames (FORMAT.md "Frames").
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

/// Returns the CRC-32C of `data` extended from the CRC `crc` of preceding bytes:
/// `crc32c_extend(crc32c(a), b) == crc32c(a + b)`. Reflected polynomial
/// 0x82F63B78, initial value and final XOR 0xFFFFFFFF (iSCSI, RFC 3720);
/// the check value `crc32c("123456789")` is 0xE3069283. Thread-safe.
std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) noexcept;

/// Returns the CRC-32C of `data`.
inline std::uint32_t crc32c(std::string_view data) noexcept {
  return crc32c_extend(0, data);
}

} // namespace sluice
