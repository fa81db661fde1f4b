#define BOOST_TEST_MODULE persistence/metadata_checkpoint
// The checkpoint store's metadata checkpoints: their rows, pruning, damaged
// rows, and groups written in one commit.
#include <boost/test/unit_test.hpp>

#include "sluice/checkpoint_store.hpp"
#include "sluice/fault_injector.hpp"
#include "sluice/frame.hpp"
#include "sluice/pb/records.pb.h"

#include "fixtures/sqlite_db.hpp"
#include "fixtures/store_rows.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using sluice::checkpoint_store;
using sluice::metadata_checkpoint;
using fixtures::checkpoint_dir_fixture;
using fixtures::full_metadata;
using fixtures::raw_db;

// -- metadata -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(metadata_round_trip) {
  checkpoint_dir_fixture dir;
  auto m = full_metadata(5000);
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir());
    BOOST_TEST(!store->latest_metadata().has_value());
    store->write_metadata(m);
  }
  // Read back after a reopen: it is on disk.
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  std::vector<std::string> skipped;
  auto got = store->latest_metadata(&skipped);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(skipped.empty());
  BOOST_TEST(got->batch_time_ms == 5000);
  BOOST_TEST(got->graph_fingerprint == "graph-2");
  BOOST_TEST((got->conf == m.conf));
  BOOST_TEST((got->pending_batches == std::vector<std::int64_t>{4000, 5000}));
  BOOST_TEST((got->source_offsets == m.source_offsets));
  BOOST_TEST(got->source_offsets[0].second.size() == 17u);
  BOOST_TEST(got->checkpoint_interval_hint == 10000);
  BOOST_TEST((*got == m));
}

// The fingerprint and conf are encoded once and reused while they stay the
// same: every row must still hold the message's own serialization of what
// was written, when they change between writes too.
BOOST_AUTO_TEST_CASE(each_metadata_row_is_the_serialization_of_its_own_checkpoint) {
  checkpoint_dir_fixture dir;
  std::vector<metadata_checkpoint> written;
  for (std::int64_t t : {1000, 2000, 3000, 4000, 5000}) {
    auto m = full_metadata(t);
    m.graph_fingerprint = t == 3000 ? "graph-b" : "graph-a";
    if (t >= 4000)
      m.conf["sluice.streaming.concurrentJobs"] = std::to_string(t / 1000);
    if (t == 5000)
      m.zero_time_ms = 0;
    written.push_back(m);
  }
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir());
    for (auto& m : written)
      store->write_metadata(m);
  }
  raw_db raw{dir.db_file()};
  for (auto& m : written) {
    sluice::pb::CheckpointMetadata msg;
    msg.set_batch_time_ms(m.batch_time_ms);
    msg.set_graph_fingerprint(m.graph_fingerprint);
    for (auto& [k, v] : m.conf) {
      auto* e = msg.add_conf();
      e->set_key(k);
      e->set_value(v);
    }
    for (auto p : m.pending_batches)
      msg.add_pending_batches(p);
    for (auto& [k, v] : m.source_offsets) {
      auto* e = msg.add_source_offsets();
      e->set_key(k);
      e->set_value(v);
    }
    msg.set_checkpoint_interval_hint(m.checkpoint_interval_hint);
    if (m.zero_time_ms)
      msg.set_zero_time_ms(*m.zero_time_ms);
    auto row = raw.row_id("checkpoint_metadata", "batch_time_ms = " + std::to_string(m.batch_time_ms));
    BOOST_TEST(raw.payload("checkpoint_metadata", row) == sluice::frame(msg.SerializeAsString()),
               "row of batch " << m.batch_time_ms);
  }
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  auto got = store->latest_metadata();
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST((*got == written.back()));
}

BOOST_AUTO_TEST_CASE(only_the_last_k_metadata_rows_are_kept) {
  checkpoint_dir_fixture dir;
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir());
    for (std::int64_t t = 1000; t <= 12000; t += 1000)
      store->write_metadata(full_metadata(t));
    BOOST_TEST(store->metadata_count() == 10u); // Spark's default
    BOOST_TEST(store->latest_metadata()->batch_time_ms == 12000);
  }
  {
    auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
    for (std::int64_t t = 13000; t <= 16000; t += 1000)
      store->write_metadata(full_metadata(t));
    BOOST_TEST(store->metadata_count() == 3u);
    BOOST_TEST(store->latest_metadata()->batch_time_ms == 16000);
  }
  raw_db raw{dir.db_file()};
  BOOST_TEST(raw.query_int64("SELECT min(batch_time_ms) FROM checkpoint_metadata") == 14000);
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM checkpoint_metadata") == 3);
}

BOOST_AUTO_TEST_CASE(pruning_keeps_the_newest_rows_by_batch_time_then_by_write_order) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir(), {.keep_metadata = 3});
  // A batch written twice (the checkpoint at generation and at completion),
  // then an older batch time written last (a re-run after recovery).
  for (std::int64_t t : {20000, 21000, 21000, 22000, 19000})
    store->write_metadata(full_metadata(t));
  raw_db raw{dir.db_file()};
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM checkpoint_metadata") == 3);
  BOOST_TEST(raw.query_int64("SELECT count(*) FROM checkpoint_metadata "
                             "WHERE batch_time_ms = 21000") == 2);
  BOOST_TEST(raw.query_int64("SELECT min(batch_time_ms) FROM checkpoint_metadata") == 21000);
  BOOST_TEST(store->latest_metadata()->batch_time_ms == 22000);
}

BOOST_AUTO_TEST_CASE(a_corrupt_newest_metadata_row_falls_back_to_the_previous_one) {
  checkpoint_dir_fixture dir;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  store->write_metadata(full_metadata(1000));
  store->write_metadata(full_metadata(2000));
  raw_db raw{dir.db_file()};
  auto bad_row = raw.query_int64("SELECT row_id FROM checkpoint_metadata WHERE batch_time_ms = 2000");
  raw.flip_payload_byte("checkpoint_metadata", bad_row, 20); // inside the payload
  std::vector<std::string> skipped;
  auto got = store->latest_metadata(&skipped);
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST((*got == full_metadata(1000)));
  BOOST_REQUIRE(skipped.size() == 1u);
  BOOST_TEST_MESSAGE("skipped: " << skipped[0]);
  BOOST_TEST(skipped[0].find("batch time 2000") != std::string::npos);
  BOOST_TEST(skipped[0].find("checkpoint_metadata") != std::string::npos);
  BOOST_TEST(skipped[0].find("row " + std::to_string(bad_row)) != std::string::npos);
  BOOST_TEST(skipped[0].find("checksum") != std::string::npos);
  // Without a skip list the fallback is silent but the same.
  BOOST_TEST(store->latest_metadata()->batch_time_ms == 1000);
  // Corrupting the other one as well leaves nothing.
  raw.flip_payload_byte("checkpoint_metadata",
                        raw.query_int64("SELECT row_id FROM checkpoint_metadata "
                                        "WHERE batch_time_ms = 1000"),
                        0); // the frame's magic byte
  skipped.clear();
  BOOST_TEST(!store->latest_metadata(&skipped).has_value());
  BOOST_REQUIRE(skipped.size() == 2u);
  BOOST_TEST(skipped[1].find("bad_magic") != std::string::npos);
}


// -- groups ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_group_of_metadata_checkpoints_is_one_commit_with_the_rows_of_one_by_one_writes) {
  checkpoint_dir_fixture one_dir;
  checkpoint_dir_fixture group_dir;
  checkpoint_store::options opts;
  opts.keep_metadata = 3;
  auto one = checkpoint_store::open(one_dir.checkpoint_dir(), opts);
  auto grouped = checkpoint_store::open(group_dir.checkpoint_dir(), opts);
  // Frames in the -wal file (each a 24-byte header and a page, after the
  // 32-byte file header): what the commits wrote and synced.
  auto frames = [](const checkpoint_dir_fixture& d) {
    auto size = fs::file_size(fs::path{d.checkpoint_dir()} / "sluice.db-wal");
    return size <= 32 ? std::uintmax_t{0} : (size - 32) / (65536 + 24);
  };
  auto one_before = frames(one_dir);
  auto group_before = frames(group_dir);
  std::vector<metadata_checkpoint> ms;
  for (std::int64_t t = 1000; t <= 5000; t += 1000)
    ms.push_back(full_metadata(t));
  std::vector<const metadata_checkpoint*> group;
  for (auto& m : ms) {
    one->write_metadata(m);
    group.push_back(&m);
  }
  auto failed = grouped->write_metadata_group(group);
  BOOST_TEST(std::count(failed.begin(), failed.end(), nullptr) == 5);
  auto a = one->metadata_generations();
  auto b = grouped->metadata_generations();
  BOOST_TEST_REQUIRE(b.size() == 3u);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(b[i].batch_time_ms == 5000 - 1000 * static_cast<std::int64_t>(i));
    BOOST_TEST((b[i].checkpoint == a[i].checkpoint));
  }
  // One commit: its pages once, against five commits of them each.
  auto one_frames = frames(one_dir) - one_before;
  auto group_frames = frames(group_dir) - group_before;
  BOOST_TEST_MESSAGE("wal frames: one by one " << one_frames << ", grouped " << group_frames);
  BOOST_TEST(group_frames * 3 <= one_frames);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_a_group_the_fault_point_fails_is_the_only_one_not_stored) {
  checkpoint_dir_fixture dir;
  fixtures::fault_guard guard;
  auto store = checkpoint_store::open(dir.checkpoint_dir());
  auto& faults = sluice::fault_injector::global();
  // The second hit fails: the group's second checkpoint.
  faults.arm(sluice::fault_points::checkpoint_write,
             {.action = sluice::fault_action::fail_write(), .after = 1, .times = 1});
  auto m1 = full_metadata(1000);
  auto m2 = full_metadata(2000);
  auto m3 = full_metadata(3000);
  auto failed = store->write_metadata_group({&m1, &m2, &m3});
  BOOST_TEST(faults.fires(sluice::fault_points::checkpoint_write) == 1u);
  BOOST_TEST(!failed[0]);
  BOOST_TEST(!failed[2]);
  BOOST_REQUIRE(failed[1]);
  try {
    std::rethrow_exception(failed[1]);
  } catch (const sluice::storage_error& e) {
    BOOST_TEST(std::string{e.what()}.find("injected write failure at checkpoint.write: "
                                          "metadata checkpoint 2000 not written")
               != std::string::npos, e.what());
  }
  std::vector<std::int64_t> stored;
  for (auto& g : store->metadata_generations())
    stored.push_back(g.batch_time_ms);
  BOOST_TEST(stored == (std::vector<std::int64_t>{3000, 1000}), boost::test_tools::per_element());
}
