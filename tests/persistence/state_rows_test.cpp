#define BOOST_TEST_MODULE state_rows
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sluice/codec.hpp"
#include "sluice/state_rows.hpp"

using sluice::state_rows;

namespace {

using pairs = std::vector<std::pair<std::string, std::string>>;

pairs read_back(const state_rows& rows) {
  pairs out;
  for (auto [k, v] : rows)
    out.emplace_back(k, v);
  return out;
}

/// Sets a state_rows' fields as a deserializer that read them from another
/// process would (the inspect overload state_write_msg uses).
struct overwrite {
  using result_type = void;
  std::string bytes;
  std::uint64_t rows = 0;
  void operator()(sluice::byte_buffer& b, std::uint64_t& n, std::uint64_t& payload) {
    b.clear();
    b.append(bytes);
    n = rows;
    payload = 0;
  }
};

state_rows received(std::string bytes, std::uint64_t rows) {
  state_rows r;
  overwrite f{std::move(bytes), rows};
  inspect(f, r);
  return r;
}

} // namespace

BOOST_AUTO_TEST_CASE(rows_read_back_in_order_with_their_exact_bytes) {
  // Lengths of one, two and three LEB128 bytes, and empty keys and values.
  std::string v200(200, 'x'), v20000(20000, 'y');
  pairs in{{"a", "1"}, {"", ""}, {"key", v200}, {std::string(127, 'k'), v20000}, {"z", ""}};
  state_rows rows;
  for (auto& [k, v] : in)
    rows.add(k, v);
  BOOST_CHECK_EQUAL(rows.size(), 5u);
  BOOST_CHECK_EQUAL(rows.payload_bytes(), 1u + 1 + 3 + 200 + 127 + 20000 + 1);
  // Each length takes 1 byte below 128, 2 below 16384, 3 below 2^21.
  BOOST_CHECK_EQUAL(rows.packed_bytes(), rows.payload_bytes() + 10 + 1 + 2);
  BOOST_CHECK((read_back(rows) == in));
  state_rows same(in);
  BOOST_CHECK(same == rows);
  rows.clear();
  BOOST_CHECK(rows.empty());
  BOOST_CHECK(rows.begin() == rows.end());
}

BOOST_AUTO_TEST_CASE(rows_encoded_in_place_equal_rows_added_as_bytes) {
  state_rows encoded, added;
  for (int64_t i : {0, 1, 300, -5}) {
    std::string s(static_cast<size_t>(i == 300 ? 1000 : 3), 'v');
    encoded.add_encoded([&](std::string& out) { sluice::codec<int64_t>::encode(i, out); },
                        [&](std::string& out) {
                          sluice::codec<std::string>::encode(s, out);
                          sluice::codec<int64_t>::encode(i * 1000, out);
                        });
    added.add(sluice::encode_to_string(i),
              sluice::encode_to_string(std::pair<std::string, int64_t>{s, i * 1000}));
  }
  BOOST_CHECK(encoded == added);
  BOOST_CHECK_EQUAL(encoded.payload_bytes(), added.payload_bytes());
  BOOST_CHECK((read_back(encoded) == read_back(added)));
}

BOOST_AUTO_TEST_CASE(malformed_rows_from_another_process_throw_instead_of_reading_past_the_end) {
  auto fails = [](std::string bytes, std::uint64_t n, const std::string& why) {
    try {
      read_back(received(std::move(bytes), n));
    } catch (const sluice::codec_error& e) {
      BOOST_TEST_MESSAGE(e.what());
      return std::string{e.what()}.find(why) != std::string::npos;
    }
    return false;
  };
  BOOST_CHECK(fails(std::string{"\x05" "ab"}, 1, "runs past the end"));        // key of 5, 2 there
  BOOST_CHECK(fails(std::string{"\x01" "a"}, 1, "runs past the end"));          // no value length
  BOOST_CHECK(fails(std::string{"\x80\x80"}, 1, "runs past the end"));          // unfinished length
  BOOST_CHECK(fails(std::string(11, '\x80'), 1, "longer than 10 bytes"));
  BOOST_CHECK(fails(std::string{"\x01" "a" "\x01" "b" "\x00", 5}, 1, "bytes follow the last row"));
  BOOST_CHECK(fails(std::string{"\x01" "a" "\x01" "b"}, 2, "runs past the end"));  // one row, 2 said
  BOOST_CHECK(fails(std::string{"\x00\x00", 2}, 0, "bytes follow the last row"));
  auto ok = received(std::string{"\x01" "a" "\x01" "b"}, 1);
  BOOST_CHECK((read_back(ok) == pairs{{"a", "b"}}));
}
