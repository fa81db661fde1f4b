#define BOOST_TEST_MODULE actors/messages
#include <boost/test/unit_test.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "sluice/error.hpp"
#include "sluice/messages.hpp"
#include "sluice/shuffle.hpp"
#include "sluice/transport.hpp"

// Every message between sluice actors survives caf::binary_serializer and
// back, alone and inside a caf::message (which needs the type announced), and
// records cross as codec bytes or, within a process, as a handle.

using namespace sluice;
using namespace sluice::detail;

namespace {

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  system_fixture() {
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  template <class T>
  T round_trip(const T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto copy = x;
    if (auto err = sink(copy))
      BOOST_FAIL("serializing failed: " + sys->render(err));
    T y;
    caf::binary_deserializer source{*sys, buf};
    if (auto err = source(y))
      BOOST_FAIL("deserializing failed: " + sys->render(err));
    BOOST_TEST(source.remaining() == 0u);
    return y;
  }

  /// Round trip inside a caf::message: deserializing needs the type's name
  /// announced to the actor system (what a remote node does).
  template <class T>
  T message_round_trip(const T& x) {
    auto m = caf::make_message(x);
    auto y = round_trip(m);
    BOOST_REQUIRE(y.template match_elements<T>());
    return y.template get_as<T>(0);
  }
};

records_msg some_records() {
  records_msg r;
  r.origin = 7;
  r.local = 0;
  r.type = 0x1234'5678'9abc'def0ull;
  r.bytes = std::string("\x03\x01\x02\x00zz", 6);
  return r;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(messages, system_fixture)

BOOST_AUTO_TEST_CASE(every_message_type_round_trips) {
  auto r = some_records();
  part_msg p{3, r};
  batch_msg b{5000, 1, 2, false, {p, part_msg{4, records_msg{9, 42, 0, {}}}}};
  BOOST_TEST((round_trip(r) == r));
  BOOST_TEST((round_trip(p) == p));
  BOOST_TEST((round_trip(b) == b));
  BOOST_TEST((message_round_trip(b) == b));
  batch_msg none{6000, 0, -1, true, {}};
  BOOST_TEST((message_round_trip(none) == none));
  gather_done d{7000, 3, 99};
  BOOST_TEST((message_round_trip(d) == d));
  batch_failed f{8000, "map (operator 2) failed at batch 8000 ms: boom", 17};
  BOOST_TEST((message_round_trip(f) == f));
  block_msg k{2, 41, 1'700'000'000'123, 3, r, true};
  BOOST_TEST((message_round_trip(k) == k));
  allocation_msg a{9000, {p}, 3};
  BOOST_TEST((message_round_trip(a) == a));
  state_write_msg sw{4, 1, 10000, true, {{"k", "v"}, {"k2", std::string("\0x", 2)}}, {"gone"}, 5000};
  BOOST_TEST((message_round_trip(sw) == sw));
  // A snapshot past byte_buffer::mapped_from (its own mapping) crosses whole.
  state_write_msg big{4, 0, 10000, true, {}, {}, -1};
  for (int i = 0; i < 100'000; ++i)
    big.upserts.add("key " + std::to_string(i), std::string(12, static_cast<char>('a' + i % 26)));
  BOOST_TEST(big.upserts.packed_bytes() > sluice::byte_buffer::mapped_from);
  auto big_back = message_round_trip(big);
  BOOST_TEST((big_back == big));
  BOOST_TEST(big_back.upserts.size() == 100'000u);
  BOOST_TEST(std::string{(*std::next(big_back.upserts.begin(), 99'999)).first} == "key 99999");
  state_rows_msg rows{{"chunk 1", std::string("\0chunk 2", 8)}, {3, 20000}};
  BOOST_TEST((message_round_trip(rows) == rows));
  std::vector<std::pair<int32_t, int64_t>> ids{{0, 4}, {1, 9}};
  BOOST_TEST((message_round_trip(ids) == ids));
}

BOOST_AUTO_TEST_CASE(listener_events_round_trip_with_their_infos) {
  listener_event e;
  e.what = listener_event::kind::output_completed;
  e.batch.time = batch_time{4000};
  e.batch.num_records = 12;
  e.batch.submission_us = 1;
  e.batch.processing_start_us = 2;
  e.batch.processing_end_us = 3;
  e.output.batch = batch_time{4000};
  e.output.id = 1;
  e.output.name = "foreach_rdd";
  e.output.start_us = 10;
  e.output.end_us = 20;
  e.output.failure_reason = "foreach_rdd (operator 4) failed at batch 4000 ms: no";
  e.receiver.stream_id = 2;
  e.receiver.name = "socket_text_stream 2";
  e.receiver.active = true;
  e.receiver.last_error = "connection refused";
  e.receiver.last_error_us = 77;
  e.time_us = 123;
  auto y = message_round_trip(e);
  BOOST_TEST((y.what == e.what));
  BOOST_TEST(y.batch.time.ms == 4000);
  BOOST_TEST(y.batch.num_records == 12);
  BOOST_TEST(y.batch.processing_end_us == 3);
  BOOST_TEST(y.output.name == "foreach_rdd");
  BOOST_TEST(y.output.end_us == 20);
  BOOST_REQUIRE(y.output.failure_reason.has_value());
  BOOST_TEST(*y.output.failure_reason == *e.output.failure_reason);
  BOOST_TEST(y.receiver.name == "socket_text_stream 2");
  BOOST_TEST(y.receiver.active);
  BOOST_TEST(y.receiver.last_error == "connection refused");
  BOOST_TEST(y.receiver.last_error_us == 77);
  BOOST_TEST(y.time_us == 123);
  // No failure stays no failure (not an empty reason).
  e.output.failure_reason.reset();
  BOOST_TEST(!message_round_trip(e).output.failure_reason.has_value());
  // The newest kind, with its failure_info.
  e.what = listener_event::kind::streaming_failed;
  e.failure = {"kafka: offset out of range reading topic 't' partition 0", "storage_error", 9};
  auto f = message_round_trip(e);
  BOOST_TEST((f.what == listener_event::kind::streaming_failed));
  BOOST_TEST(f.failure.message == e.failure.message);
  BOOST_TEST(f.failure.type == "storage_error");
  BOOST_TEST(f.failure.time_us == 9);
}

BOOST_AUTO_TEST_CASE(an_unknown_listener_event_kind_is_refused) {
  listener_event e;
  std::vector<char> buf;
  caf::binary_serializer sink{*sys, buf};
  BOOST_REQUIRE(!sink(e));
  buf[0] = 42; // the kind comes first
  caf::binary_deserializer source{*sys, buf};
  listener_event y;
  auto err = source(y);
  BOOST_REQUIRE(err);
  BOOST_TEST(sys->render(err).find("unknown kind 42") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(records_cross_as_codec_bytes_and_decode_on_the_other_side) {
  transport sender{sys->node(), true}, receiver{sys->node(), false};
  auto m = sender.pack(erase(std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"bb", 2}}),
                       sys->node());
  BOOST_TEST(m.local == 0u);
  BOOST_TEST(m.type != 0u);
  BOOST_TEST(sender.kept() == 0u);
  auto wire = message_round_trip(m);
  auto data = receiver.unpack(wire);
  auto records = take<std::pair<std::string, int64_t>>(data);
  BOOST_TEST((records == std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"bb", 2}}));
  // A null partition stays null.
  auto empty = sender.pack(erased{}, sys->node());
  BOOST_TEST(!receiver.unpack(empty));
}

BOOST_AUTO_TEST_CASE(combined_buckets_cross_with_their_hashes_recomputed) {
  transport net{sys->node(), true};
  std::vector<hashed_bucket<std::string, int64_t>> one(1);
  one[0].entries = {{"x", 3}, {"y", 4}};
  one[0].hashes = {hash_key(std::string{"x"}), hash_key(std::string{"y"})};
  auto expected = one[0];
  auto m = net.pack(erase(std::move(one)), sys->node());
  auto wire = round_trip(m);
  auto data = net.unpack(wire);
  auto got = take<hashed_bucket<std::string, int64_t>>(data);
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST((got[0].entries == expected.entries));
  BOOST_TEST((got[0].hashes == expected.hashes));
}

BOOST_AUTO_TEST_CASE(within_a_process_records_are_moved_not_copied) {
  transport net{sys->node(), false};
  std::vector<std::string> v{"moved", "along"};
  auto* first = v.data();
  auto m = net.pack(erase(std::move(v)), sys->node());
  BOOST_TEST(m.local != 0u);
  BOOST_TEST(m.bytes.empty());
  BOOST_TEST(net.kept() == 1u);
  auto data = net.unpack(m);
  BOOST_TEST(net.kept() == 0u);
  auto back = take<std::string>(data);
  BOOST_TEST(back.data() == first);
  // The handle is gone once taken.
  BOOST_CHECK_EXCEPTION(net.unpack(m), sluice::error, [](const sluice::error& e) {
    return std::string(e.what()).find("does not hold") != std::string::npos;
  });
}

// A taken handle's slot is reused: the old handle must not reach the new
// object, and the job and exception handles share the table with records.
BOOST_AUTO_TEST_CASE(a_taken_handle_never_reaches_the_object_kept_after_it) {
  transport net{sys->node(), false};
  auto first = net.pack(erase(std::vector<int>{1}), sys->node());
  auto one = net.unpack(first);
  BOOST_TEST(take<int>(one) == std::vector<int>{1});
  auto second = net.pack(erase(std::vector<int>{2}), sys->node());
  BOOST_TEST(second.local != first.local);
  BOOST_CHECK_EXCEPTION(net.unpack(first), sluice::error, [](const sluice::error& e) {
    return std::string(e.what()).find("does not hold") != std::string::npos;
  });
  auto job = net.keep(std::string{"job"});
  BOOST_TEST(net.kept() == 2u);
  auto two = net.unpack(second);
  BOOST_TEST(take<int>(two) == std::vector<int>{2});
  auto x = net.take(job);
  BOOST_TEST_REQUIRE(x.has_value());
  BOOST_TEST(std::any_cast<std::string>(*x) == "job");
  BOOST_TEST(!net.take(job).has_value());
  BOOST_TEST(net.kept() == 0u);
  // A records handle read as an object hands the records over boxed.
  auto third = net.pack(erase(std::vector<int>{3}), sys->node());
  auto boxed = net.take(third.local);
  BOOST_TEST_REQUIRE(boxed.has_value());
  auto three = std::any_cast<erased>(std::move(*boxed));
  BOOST_TEST(take<int>(three) == std::vector<int>{3});
}

BOOST_AUTO_TEST_CASE(a_handle_from_another_process_is_refused) {
  transport here{sys->node(), false}, there{sys->node(), false};
  auto m = there.pack(erase(std::vector<int>{1}), sys->node());
  BOOST_CHECK_EXCEPTION(here.unpack(m), sluice::error, [](const sluice::error& e) {
    return std::string(e.what()).find("records handle of another process")
           != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(bytes_of_an_unknown_type_are_refused) {
  transport net{sys->node(), false};
  records_msg m;
  m.type = 12345;
  m.bytes = "x";
  BOOST_CHECK_EXCEPTION(net.unpack(m), sluice::error, [](const sluice::error& e) {
    return std::string(e.what()).find("unknown type key 12345") != std::string::npos;
  });
}

namespace {
struct no_codec {
  int x;
};
} // namespace

BOOST_AUTO_TEST_CASE(a_type_without_codec_cannot_be_sent_as_bytes) {
  transport net{sys->node(), true};
  BOOST_CHECK_EXCEPTION(net.pack(erase(std::vector<no_codec>{{1}}), sys->node()), sluice::error,
                        [](const sluice::error& e) {
                          std::string what = e.what();
                          return what.find("no_codec") != std::string::npos
                                 && what.find("has no sluice::codec") != std::string::npos;
                        });
  // Within the process it travels as a handle, without a codec.
  transport local{sys->node(), false};
  auto m = local.pack(erase(std::vector<no_codec>{{1}}), sys->node());
  auto data = local.unpack(m);
  BOOST_TEST(take<no_codec>(data)[0].x == 1);
}

BOOST_AUTO_TEST_SUITE_END()
