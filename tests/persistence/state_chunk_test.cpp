#define BOOST_TEST_MODULE persistence/state_chunk
#include <boost/test/unit_test.hpp>

// parse_state_chunk reads a StateCheckpointChunk into views of its payload;
// a restore applies checkpoint_store::read_state_chunks' chunks through it.

#include "sluice/checkpoint_store.hpp"
#include "sluice/state_chunk.hpp"
#include <sluice/pb/records.pb.h>

#include "fixtures/sqlite_db.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

using sluice::checkpoint_store;
using sluice::state_chain;
using fixtures::checkpoint_dir_fixture;
using state_map = sluice::state_entries;
using key_list = std::vector<std::string>;

// -- reading a chunk without protobuf's message -------------------------------------------

BOOST_AUTO_TEST_CASE(a_state_chunk_is_read_field_for_field_as_protobuf_wrote_it) {
  sluice::pb::StateCheckpointChunk m;
  m.set_operator_id(-3);
  m.set_partition(2);
  m.set_batch_time_ms(1'700'000'000'123);
  m.set_full(true);
  m.set_chunk_index(1);
  m.set_chunk_count(4);
  const key_list keys{"k1", std::string("\0\xff", 2), ""};
  const key_list values{"v1", "", std::string(300, 'x')};
  for (size_t i = 0; i < keys.size(); ++i) {
    m.add_keys(keys[i]);
    m.add_values(values[i]);
  }
  m.add_removed_keys("gone");
  auto bytes = m.SerializeAsString();
  // Fields of a newer writer this build does not know are skipped, as
  // protobuf skips them: a varint 20, bytes 21 and a fixed64 22.
  bytes += std::string("\xa0\x01\x05", 3) + std::string("\xaa\x01\x03" "abc", 6)
           + std::string("\xb1\x01", 2) + std::string(8, '\x07');
  BOOST_REQUIRE(sluice::pb::StateCheckpointChunk{}.ParseFromString(bytes));
  sluice::state_chunk_view c;
  BOOST_REQUIRE(sluice::parse_state_chunk(bytes, c));
  BOOST_TEST(c.operator_id == -3);
  BOOST_TEST(c.partition == 2);
  BOOST_TEST(c.batch_time_ms == 1'700'000'000'123);
  BOOST_TEST(c.full);
  BOOST_TEST(c.chunk_index == 1u);
  BOOST_TEST(c.chunk_count == 4u);
  BOOST_TEST((key_list(c.keys.begin(), c.keys.end()) == keys));
  BOOST_TEST((key_list(c.values.begin(), c.values.end()) == values));
  BOOST_TEST((key_list(c.removed_keys.begin(), c.removed_keys.end()) == key_list{"gone"}));
  // The views point into the payload, not into copies.
  bool inside = c.values[2].data() >= bytes.data()
                && c.values[2].data() + 300 <= bytes.data() + bytes.size();
  BOOST_TEST(inside);
}

BOOST_AUTO_TEST_CASE(a_cut_or_unpaired_state_chunk_is_refused) {
  sluice::pb::StateCheckpointChunk m;
  m.set_chunk_count(1);
  m.add_keys("k");
  m.add_values("value");
  auto bytes = m.SerializeAsString();
  sluice::state_chunk_view c;
  BOOST_TEST(sluice::parse_state_chunk(bytes, c));
  for (size_t cut = 1; cut <= 6; ++cut)
    BOOST_TEST(!sluice::parse_state_chunk(std::string_view{bytes}.substr(0, bytes.size() - cut),
                                          c),
               "cut by " << cut);
  m.add_keys("unpaired");
  BOOST_TEST(!sluice::parse_state_chunk(m.SerializeAsString(), c));
  // Chunks that do not parse stop a fold with a storage error naming the chunk.
  std::vector<std::string> chunks{bytes, bytes.substr(0, bytes.size() - 1)};
  try {
    (void) sluice::state_from_chunks(chunks);
    BOOST_FAIL("a cut chunk was folded");
  } catch (const sluice::storage_corruption& e) {
    BOOST_TEST(std::string{e.what()}.find("chunk 1 ") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(read_state_chunks_are_the_rows_read_state_folds_in_order) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.state_chunk_bytes = 20});
  store->write_state(7, 1, 1000, true, {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}}, {});
  store->write_state(7, 1, 2000, false, {{"b", "20"}, {"e", "5"}}, {"a"});
  store->write_state(7, 1, 3000, true, {{"x", "1"}, {"y", "2"}, {"z", "3"}, {"w", "4"}}, {});
  store->write_state(7, 1, 4000, false, {{"a", "100"}}, {"x"});
  state_chain chain;
  auto chunks = store->read_state_chunks(7, 1, 4000, &chain);
  // The newest full snapshot (2 chunks of 20 bytes) and the delta after it.
  BOOST_REQUIRE(chunks.size() == 3u);
  std::vector<std::pair<int64_t, uint32_t>> order;
  sluice::state_chunk_view c;
  for (auto& bytes : chunks) {
    BOOST_REQUIRE(sluice::parse_state_chunk(bytes, c));
    order.emplace_back(c.batch_time_ms, c.chunk_index);
  }
  BOOST_TEST((order == std::vector<std::pair<int64_t, uint32_t>>{{3000, 0}, {3000, 1}, {4000, 0}}));
  BOOST_TEST(chain.checkpoints == 2);
  BOOST_TEST(chain.full_ms == 3000);
  BOOST_TEST((sluice::state_from_chunks(chunks)
              == state_map{{"a", "100"}, {"w", "4"}, {"y", "2"}, {"z", "3"}}));
  BOOST_TEST(sluice::first_checkpoint_size_hint(chunks) >= 4u); // room for the full snapshot
}
