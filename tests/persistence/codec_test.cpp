#define BOOST_TEST_MODULE persistence/codec
#include <boost/test/unit_test.hpp>

#include "sluice/codec.hpp"

#include <sluice/pb/records.pb.h>

#include <caf/meta/type_name.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace app {

struct reading {
  std::int32_t sensor = 0;
  bool valid = false;
  std::string unit;
  std::vector<double> samples;

  friend bool operator==(const reading&, const reading&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reading& x) {
  return f(x.sensor, x.valid, x.unit, x.samples);
}

// Annotated the CAF way: the type name carries no bytes.
struct tagged {
  std::int16_t id = 0;
  std::optional<reading> last;

  friend bool operator==(const tagged&, const tagged&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tagged& x) {
  return f(caf::meta::type_name("tagged"), x.id, x.last);
}

struct opaque {
  int x = 0;
};

// Two user codecs: one names its type, one does not.
struct celsius {
  double degrees = 0;
};

struct kelvin {
  double degrees = 0;
};

} // namespace app

template <>
struct sluice::codec<app::celsius> {
  static constexpr std::string_view type_name = "app.celsius";
  static void encode(const app::celsius& x, std::string& out) {
    codec<double>::encode(x.degrees, out);
  }
  static app::celsius decode(std::string_view& in) {
    return {codec<double>::decode(in)};
  }
};

template <>
struct sluice::codec<app::kelvin> {
  static void encode(const app::kelvin& x, std::string& out) {
    codec<double>::encode(x.degrees, out);
  }
  static app::kelvin decode(std::string_view& in) {
    return {codec<double>::decode(in)};
  }
};

namespace {

using sluice::decode_from_string;
using sluice::encode_to_string;

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

using int_bool_map = std::map<std::int32_t, bool>;
using byte_map = std::map<std::int8_t, std::int8_t>;

template <class T>
T round_trip(const T& x) {
  return decode_from_string<T>(encode_to_string(x));
}

/// Returns the message of the codec_error decoding `bytes` as T throws, or "no error".
template <class T>
std::string decode_error(std::string_view bytes) {
  try {
    decode_from_string<T>(bytes);
  } catch (const sluice::codec_error& e) {
    return e.what();
  }
  return "no error";
}

} // namespace

static_assert(sluice::encodable<std::int32_t>);
static_assert(sluice::encodable<std::map<std::string, std::vector<std::optional<double>>>>);
static_assert(sluice::encodable<sluice::pb::RecordBatch>);
static_assert(sluice::encodable<app::reading>);
static_assert(sluice::encodable<std::vector<app::tagged>>);
static_assert(!sluice::encodable<void*>);
static_assert(!sluice::encodable<app::opaque>);
static_assert(!sluice::encodable<std::vector<app::opaque>>);
static_assert(!sluice::encodable<std::pair<int, app::opaque>>);

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(integers_are_fixed_width_little_endian) {
  BOOST_TEST(hex(encode_to_string(std::int32_t{42})) == "2a000000");
  BOOST_TEST(hex(encode_to_string(std::int32_t{-2})) == "feffffff");
  BOOST_TEST(hex(encode_to_string(std::uint16_t{0x1234})) == "3412");
  BOOST_TEST(hex(encode_to_string(std::int64_t{1})) == "0100000000000000");
  BOOST_TEST(hex(encode_to_string(std::uint8_t{0xff})) == "ff");
  BOOST_TEST(hex(encode_to_string('A')) == "41");
}

BOOST_AUTO_TEST_CASE(floats_are_ieee_754_little_endian) {
  BOOST_TEST(hex(encode_to_string(1.0)) == "000000000000f03f");
  BOOST_TEST(hex(encode_to_string(-2.5f)) == "000020c0");
}

BOOST_AUTO_TEST_CASE(bools_and_strings_have_pinned_bytes) {
  BOOST_TEST(hex(encode_to_string(true)) == "01");
  BOOST_TEST(hex(encode_to_string(false)) == "00");
  BOOST_TEST(hex(encode_to_string(std::string{"abc"})) == "03616263");
  BOOST_TEST(hex(encode_to_string(std::string{})) == "00");
  // 300 = 0b10_0101100: varint bytes 0xac 0x02.
  BOOST_TEST(hex(encode_to_string(std::string(300, 'x'))).substr(0, 6) == "ac0278");
}

BOOST_AUTO_TEST_CASE(composites_concatenate_their_parts) {
  BOOST_TEST(hex(encode_to_string(std::pair<std::int32_t, std::string>{7, "hi"}))
             == "070000000268" "69");
  BOOST_TEST(hex(encode_to_string(std::tuple<std::int8_t, bool>{-1, true})) == "ff01");
  BOOST_TEST(hex(encode_to_string(std::tuple<>{})) == "");
  BOOST_TEST(hex(encode_to_string(std::optional<std::int8_t>{})) == "00");
  BOOST_TEST(hex(encode_to_string(std::optional<std::int8_t>{5})) == "0105");
  BOOST_TEST(hex(encode_to_string(std::vector<std::int16_t>{1, 2})) == "0201000200");
  BOOST_TEST(hex(encode_to_string(std::vector<bool>{true, false, true})) == "03010001");
  BOOST_TEST(hex(encode_to_string(std::map<std::string, std::int8_t>{{"b", 2}, {"a", 1}}))
             == "02016101016202");
}

BOOST_AUTO_TEST_CASE(arithmetic_values_round_trip_at_their_limits) {
  BOOST_TEST(round_trip(std::numeric_limits<std::int64_t>::min())
             == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(round_trip(std::numeric_limits<std::uint64_t>::max())
             == std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(round_trip(-0.0) == 0.0);
  BOOST_TEST(std::signbit(round_trip(-0.0)));
  BOOST_TEST(round_trip(std::numeric_limits<double>::infinity())
             == std::numeric_limits<double>::infinity());
  BOOST_TEST(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
  BOOST_TEST(round_trip(1.25L) == 1.25L);
  BOOST_TEST((round_trip(char32_t{0x1F600}) == char32_t{0x1F600}));
  BOOST_TEST(round_trip(true) == true);
}

BOOST_AUTO_TEST_CASE(nested_containers_round_trip) {
  using entry = std::tuple<std::int64_t, double, std::string>;
  std::vector<std::map<std::string, std::optional<entry>>> x{
    {{"a", entry{1, 0.5, "x"}}, {"b", std::nullopt}},
    {},
    {{std::string("\0zero", 5), entry{-7, -1e300, std::string(1000, 'q')}}},
  };
  BOOST_TEST((round_trip(x) == x));
  std::unordered_map<std::int32_t, std::vector<std::pair<std::string, bool>>> y{
    {1, {{"one", true}}}, {2, {}}, {-3, {{"", false}, {"three", true}}}};
  BOOST_TEST((round_trip(y) == y));
  std::vector<std::vector<std::int32_t>> z{
    {}, {1, -2, 3}, {std::numeric_limits<std::int32_t>::min()}};
  BOOST_TEST((round_trip(z) == z));
}

BOOST_AUTO_TEST_CASE(equal_unordered_maps_give_equal_bytes) {
  std::unordered_map<std::string, std::int32_t> a;
  std::unordered_map<std::string, std::int32_t> b(1024);
  for (int i = 0; i < 50; ++i)
    a.emplace("k" + std::to_string(i), i);
  for (int i = 49; i >= 0; --i)
    b.emplace("k" + std::to_string(i), i);
  BOOST_TEST(encode_to_string(a) == encode_to_string(b));
  std::map<std::string, std::int32_t> ordered(a.begin(), a.end());
  BOOST_TEST((decode_from_string<std::map<std::string, std::int32_t>>(encode_to_string(a))
              == ordered));
}

BOOST_AUTO_TEST_CASE(protobuf_messages_are_length_prefixed) {
  sluice::pb::RecordBatch batch;
  batch.set_batch_time_ms(5);
  batch.set_partition(1);
  batch.add_records("x");
  // 07: length; 08 05: field 1 = 5; 10 01: field 2 = 1; 1a 01 78: field 3 = "x".
  BOOST_TEST(hex(encode_to_string(batch)) == "0708051001" "1a0178");
  batch.add_records(encode_to_string(std::string(200, 'r')));
  auto copy = round_trip(batch);
  BOOST_TEST(copy.batch_time_ms() == 5);
  BOOST_TEST(copy.partition() == 1);
  BOOST_REQUIRE(copy.records_size() == 2);
  BOOST_TEST(decode_from_string<std::string>(copy.records(1)) == std::string(200, 'r'));
  BOOST_TEST(round_trip(sluice::pb::Frame{}).ByteSizeLong() == 0u);
}

BOOST_AUTO_TEST_CASE(inspectable_structs_encode_their_fields_in_order) {
  app::reading r{3, true, "C", {1.0}};
  BOOST_TEST(hex(encode_to_string(r))
             == "03000000" "01" "0143" "01" "000000000000f03f");
  BOOST_TEST((round_trip(r) == r));
  app::tagged t{-9, app::reading{1, false, "kPa", {0.5, -0.25}}};
  BOOST_TEST(hex(encode_to_string(app::tagged{2, std::nullopt})) == "020000");
  BOOST_TEST((round_trip(t) == t));
  std::vector<app::tagged> many{t, {}, t};
  BOOST_TEST((round_trip(many) == many));
}

BOOST_AUTO_TEST_CASE(truncated_input_names_what_was_being_decoded) {
  BOOST_TEST(decode_error<std::int32_t>("\x01\x02")
             == "sluice::codec: truncated input decoding int32: need at least 4 bytes, 2 left");
  BOOST_TEST(decode_error<std::string>("\x05" "ab")
             == "sluice::codec: truncated input decoding string bytes: need at least 5 bytes, "
                "2 left");
  BOOST_TEST(decode_error<std::string>("")
             == "sluice::codec: truncated input decoding string length: need at least 1 byte, "
                "0 left");
  BOOST_TEST(decode_error<bool>("") == "sluice::codec: truncated input decoding bool: need at "
                                       "least 1 byte, 0 left");
  BOOST_TEST(decode_error<std::vector<std::int32_t>>(std::string_view("\x02\x01\x00\x00\x00", 5))
             == "sluice::codec: truncated input decoding vector: need at least 8 bytes, "
                "4 left");
  BOOST_TEST(decode_error<sluice::pb::RecordBatch>("\x07\x08\x05")
             == "sluice::codec: truncated input decoding sluice.pb.RecordBatch: need at least 7 "
                "bytes, 2 left");
  auto bytes = encode_to_string(app::reading{3, true, "C", {1.0, 2.0}});
  for (std::size_t n = 0; n < bytes.size(); ++n)
    BOOST_CHECK_THROW(decode_from_string<app::reading>(bytes.substr(0, n)), sluice::codec_error);
}

BOOST_AUTO_TEST_CASE(huge_counts_fail_before_allocating) {
  // A count of 2^32 - 1 int64 elements with 1 byte behind it.
  BOOST_TEST(decode_error<std::vector<std::int64_t>>("\xff\xff\xff\xff\x0f\x01")
             == "sluice::codec: truncated input decoding vector: need at least "
                "34359738360 bytes, 1 left");
  BOOST_TEST(decode_error<int_bool_map>("\x80\x01")
             == "sluice::codec: truncated input decoding map: need at least 640 bytes, "
                "0 left");
}

BOOST_AUTO_TEST_CASE(malformed_input_is_rejected) {
  BOOST_TEST(decode_error<bool>("\x02")
             == "sluice::codec: malformed input decoding bool: byte is neither 0x00 nor 0x01");
  BOOST_TEST(decode_error<std::optional<int>>("\x07")
             == "sluice::codec: malformed input decoding optional tag: byte is neither 0x00 "
                "nor 0x01");
  BOOST_TEST(decode_error<std::string>("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02")
             == "sluice::codec: malformed input decoding string length: varint overflows 64 "
                "bits");
  BOOST_TEST(decode_error<byte_map>("\x02\x01\x0a\x01\x0b")
             == "sluice::codec: malformed input decoding map: repeated key");
  BOOST_TEST(decode_error<sluice::pb::RecordBatch>("\x02\xff\xff")
             == "sluice::codec: malformed input decoding sluice.pb.RecordBatch: bytes do not "
                "parse as this message");
  BOOST_TEST(decode_error<std::int8_t>("\x01\x02")
             == "sluice::codec: 1 byte left over after the decoded value");
}

BOOST_AUTO_TEST_CASE(type_names_follow_the_codec_structure) {
  using sluice::codec_type_name;
  BOOST_TEST((codec_type_name<std::int64_t>() == "int64"));
  BOOST_TEST((codec_type_name<long long>() == "int64"));
  BOOST_TEST((codec_type_name<std::int32_t>() == "int32"));
  BOOST_TEST((codec_type_name<std::uint16_t>() == "uint16"));
  BOOST_TEST((codec_type_name<double>() == "double"));
  BOOST_TEST((codec_type_name<bool>() == "bool"));
  BOOST_TEST((codec_type_name<char>() == "char"));
  BOOST_TEST((codec_type_name<std::string>() == "string"));
  BOOST_TEST((codec_type_name<std::pair<std::string, std::int64_t>>() == "pair<string,int64>"));
  BOOST_TEST((codec_type_name<std::tuple<int, std::string, bool>>() == "tuple<int32,string,bool>"));
  BOOST_TEST((codec_type_name<std::tuple<>>() == "tuple<>"));
  BOOST_TEST((codec_type_name<std::vector<std::optional<double>>>() == "vector<optional<double>>"));
  // Equal bytes, equal names.
  BOOST_TEST((codec_type_name<std::map<std::string, int>>() == "map<string,int32>"));
  BOOST_TEST((codec_type_name<std::unordered_map<std::string, int>>() == "map<string,int32>"));
  BOOST_TEST((codec_type_name<sluice::pb::RecordBatch>() == "sluice.pb.RecordBatch"));
  BOOST_TEST((codec_type_name<app::reading>() == "struct{int32,bool,string,vector<double>}"));
  BOOST_TEST((codec_type_name<app::tagged>()
             == "tagged{int16,optional<struct{int32,bool,string,vector<double>}>}"));
  BOOST_TEST((codec_type_name<app::celsius>() == "app.celsius"));
  BOOST_TEST((codec_type_name<std::vector<app::kelvin>>() == "vector<custom>"));
}

BOOST_AUTO_TEST_CASE(decode_consumes_only_its_own_bytes) {
  std::string bytes = encode_to_string(std::string{"ab"}) + encode_to_string(std::int16_t{-1});
  std::string_view in = bytes;
  BOOST_TEST(sluice::codec<std::string>::decode(in) == "ab");
  BOOST_TEST(in.size() == 2u);
  BOOST_TEST(sluice::codec<std::int16_t>::decode(in) == -1);
  BOOST_TEST(in.empty());
}

BOOST_AUTO_TEST_SUITE_END()
