#define BOOST_TEST_MODULE persistence/crc32c
#include <boost/test/unit_test.hpp>

#include "sluice/crc32c.hpp"

#include <cstdint>
#include <random>
#include <string>

namespace {

/// The CRC-32C bit by bit, straight from its definition.
std::uint32_t reference_crc32c(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFF;
  for (auto c : data) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
  }
  return ~crc;
}

} // namespace

BOOST_AUTO_TEST_SUITE(crc32c)

BOOST_AUTO_TEST_CASE(every_length_and_alignment_matches_the_definition) {
  // The fast path works 8 bytes at a time: cover every tail length and offset.
  std::mt19937_64 gen{42};
  std::string buf(4200, '\0');
  for (auto& c : buf)
    c = static_cast<char>(gen());
  for (std::size_t offset = 0; offset < 8; ++offset)
    for (std::size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099}) {
      auto data = std::string_view{buf}.substr(offset, len);
      BOOST_TEST(sluice::crc32c(data) == reference_crc32c(data),
                 "offset " << offset << " len " << len);
    }
}

BOOST_AUTO_TEST_CASE(extending_equals_checksumming_the_concatenation) {
  std::string a(1001, 'a');
  std::string b(77, 'b');
  BOOST_TEST(sluice::crc32c_extend(sluice::crc32c(a), b) == sluice::crc32c(a + b));
  BOOST_TEST(sluice::crc32c("123456789") == 0xE3069283u);
}

BOOST_AUTO_TEST_SUITE_END()
