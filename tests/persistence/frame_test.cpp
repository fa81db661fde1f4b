#define BOOST_TEST_MODULE persistence/frame
#include <boost/test/unit_test.hpp>

#include "sluice/crc32c.hpp"
#include "sluice/frame.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

struct failure {
  sluice::frame_defect defect{};
  std::string error;
};

/// Returns the defect and message of unframing `bytes`; fails the test if it succeeds.
failure unframe_failure(std::string_view bytes) {
  failure f;
  auto payload = sluice::unframe(bytes, &f.error, &f.defect);
  BOOST_TEST(!payload.has_value());
  return f;
}

} // namespace

BOOST_AUTO_TEST_SUITE(frame)

BOOST_AUTO_TEST_CASE(crc32c_matches_the_standard_check_value) {
  BOOST_TEST(sluice::crc32c("123456789") == 0xE3069283u);
  BOOST_TEST(sluice::crc32c("") == 0u);
  BOOST_TEST(sluice::crc32c_extend(sluice::crc32c("1234"), "56789") == 0xE3069283u);
  // RFC 3720 B.4: 32 bytes of zeros.
  BOOST_TEST(sluice::crc32c(std::string(32, '\0')) == 0x8A9136AAu);
}

BOOST_AUTO_TEST_CASE(frame_bytes_are_pinned) {
  // b1: magic 0xB0 | version 1; 05000000: length; 4cbb719a: CRC-32C("hello") LE.
  BOOST_TEST(hex(sluice::frame("hello")) == "b1" "05000000" "4cbb719a" "68656c6c6f");
  BOOST_TEST(hex(sluice::frame("")) == "b1" "00000000" "00000000");
  BOOST_TEST(sluice::frame("hello").size() == sluice::frame_header_size + 5);
}

BOOST_AUTO_TEST_CASE(payloads_round_trip) {
  for (std::string payload : {std::string{}, std::string{"x"}, std::string("\0\xff\x01", 3),
                              std::string(100000, 'z')}) {
    auto bytes = sluice::frame(payload);
    std::string error = "untouched";
    auto back = sluice::unframe(bytes, &error);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(*back == payload);
    BOOST_TEST(back->data() == bytes.data() + sluice::frame_header_size);
    BOOST_TEST(error == "untouched");
  }
}

BOOST_AUTO_TEST_CASE(flipped_payload_byte_is_a_checksum_mismatch) {
  auto bytes = sluice::frame("hello");
  bytes[sluice::frame_header_size + 1] ^= 0x01;
  auto f = unframe_failure(bytes);
  BOOST_TEST((f.defect == sluice::frame_defect::checksum_mismatch));
  BOOST_TEST(f.error
             == "corrupt frame (checksum_mismatch): stored CRC-32C 0x9A71BB4C, payload has "
                "0x473411F4");
  // The stored checksum corrupted instead of the payload.
  auto other = sluice::frame("hello");
  other[5] ^= 0x10;
  BOOST_TEST((unframe_failure(other).defect == sluice::frame_defect::checksum_mismatch));
}

BOOST_AUTO_TEST_CASE(every_truncated_frame_is_torn) {
  auto bytes = sluice::frame("a payload of some length");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto f = unframe_failure(std::string_view{bytes}.substr(0, n));
    BOOST_TEST((f.defect == sluice::frame_defect::torn), "prefix of " << n << " bytes");
    BOOST_TEST(f.error.starts_with("torn frame: "));
  }
  BOOST_TEST(unframe_failure(std::string_view{bytes}.substr(0, 4)).error
             == "torn frame: 4 bytes, the header needs 9");
  BOOST_TEST(unframe_failure(std::string_view{bytes}.substr(0, 20)).error
             == "torn frame: header announces 24 payload bytes, 11 present");
}

BOOST_AUTO_TEST_CASE(bad_magic_version_and_length_are_corrupt) {
  auto bytes = sluice::frame("abc");
  auto zeroed = bytes;
  zeroed[0] = '\0';
  auto f = unframe_failure(zeroed);
  BOOST_TEST((f.defect == sluice::frame_defect::bad_magic));
  BOOST_TEST(f.error == "corrupt frame (bad_magic): first byte 0x00, expected 0xB1");
  auto newer = bytes;
  newer[0] = static_cast<char>(0xB2);
  f = unframe_failure(newer);
  BOOST_TEST((f.defect == sluice::frame_defect::unsupported_version));
  BOOST_TEST(f.error
             == "corrupt frame (unsupported_version): version 2, this build reads version 1");
  auto huge = bytes;
  huge[4] = static_cast<char>(0x80); // length 0x80000003
  f = unframe_failure(huge);
  BOOST_TEST((f.defect == sluice::frame_defect::bad_length));
  BOOST_TEST(f.error
             == "corrupt frame (bad_length): payload length 2147483651 exceeds the maximum "
                "2147483647");
  f = unframe_failure(bytes + "!");
  BOOST_TEST((f.defect == sluice::frame_defect::bad_length));
  BOOST_TEST(f.error == "corrupt frame (bad_length): 1 byte follows the 3-byte payload");
}

BOOST_AUTO_TEST_CASE(next_frame_splits_a_stream_and_stops_at_a_torn_tail) {
  std::string stream;
  sluice::append_frame(stream, "one");
  sluice::append_frame(stream, "");
  sluice::append_frame(stream, "three");
  auto tail = sluice::frame("four");
  stream += tail.substr(0, tail.size() - 1);
  std::string_view rest = stream;
  BOOST_TEST(sluice::next_frame(rest).value_or("?") == "one");
  BOOST_TEST(sluice::next_frame(rest).value_or("?") == "");
  BOOST_TEST(sluice::next_frame(rest).value_or("?") == "three");
  auto before = rest;
  sluice::frame_defect defect{};
  BOOST_TEST(!sluice::next_frame(rest, nullptr, &defect).has_value());
  BOOST_TEST((defect == sluice::frame_defect::torn));
  BOOST_TEST(rest.data() == before.data());
  BOOST_TEST(rest.size() == tail.size() - 1);
}

BOOST_AUTO_TEST_CASE(defects_have_stable_names) {
  BOOST_TEST(sluice::to_string(sluice::frame_defect::torn) == "torn");
  BOOST_TEST(sluice::to_string(sluice::frame_defect::bad_magic) == "bad_magic");
  BOOST_TEST(sluice::to_string(sluice::frame_defect::unsupported_version)
             == "unsupported_version");
  BOOST_TEST(sluice::to_string(sluice::frame_defect::bad_length) == "bad_length");
  BOOST_TEST(sluice::to_string(sluice::frame_defect::checksum_mismatch) == "checksum_mismatch");
}

BOOST_AUTO_TEST_SUITE_END()
