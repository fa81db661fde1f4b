#define BOOST_TEST_MODULE runtime/checkpoint
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "fixtures/harness.hpp"
#include "fixtures/sqlite_db.hpp"
#include "sluice/checkpoint_store.hpp"

using namespace sluice;
using fixtures::manual_conf;
using fixtures::temp_dir;

namespace {

/// Runs `batches` batches of a pipeline built by `build` with the
/// checkpoint directory `dir`, then stops.
template <class Build>
void run_with_checkpoints(const std::string& dir, int batches, Build build) {
  streaming_context ssc{manual_conf(), seconds(1)};
  ssc.checkpoint(dir);
  build(ssc);
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  for (int i = 1; i <= batches; ++i) { // one at a time, as a running program's
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  ssc.stop();
}

void word_count(streaming_context& ssc) {
  ssc.queue_stream<std::string>({{"a"}, {"b"}, {"a"}})
    .map([](std::string w) { return std::pair{w, 1}; })
    .reduce_by_key(std::plus<int>{})
    .foreach_rdd([](const rdd<std::pair<std::string, int>>&) {});
}

} // namespace

BOOST_AUTO_TEST_CASE(a_metadata_checkpoint_is_written_after_every_batch) {
  temp_dir dir{"meta"};
  run_with_checkpoints(dir.str(), 3, word_count);
  auto store = checkpoint_store::open(dir.str());
  auto meta = store->latest_metadata();
  BOOST_REQUIRE(meta.has_value());
  BOOST_TEST(meta->batch_time_ms == 3000);
  BOOST_TEST(meta->conf.at("sluice.master") == "local[2]");
  BOOST_TEST(meta->graph_fingerprint.find("1 map kind=2 slide=1000 parents=0") != std::string::npos,
             meta->graph_fingerprint);
}

BOOST_AUTO_TEST_CASE(get_or_create_refuses_a_changed_graph) {
  temp_dir dir{"changed"};
  run_with_checkpoints(dir.str(), 1, word_count);
  try {
    streaming_context::get_or_create(dir.str(), [] {
      streaming_context ssc{manual_conf(), seconds(1)};
      ssc.queue_stream<std::string>({}).filter([](const std::string&) { return true; }).print();
      return ssc;
    });
    BOOST_FAIL("expected illegal_state");
  } catch (const illegal_state& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("node 1 differs: the checkpoint has '1 map kind=2 slide=1000 parents=0', "
                        "the program builds '1 filter kind=2 slide=1000 parents=0'")
                 != std::string::npos,
               msg);
  }
}

BOOST_AUTO_TEST_CASE(get_or_create_accepts_the_same_graph_and_creates_without_a_checkpoint) {
  temp_dir dir{"same"};
  int created = 0;
  auto factory = [&] {
    ++created;
    streaming_context ssc{manual_conf(), seconds(1)};
    word_count(ssc);
    return ssc;
  };
  { auto fresh = streaming_context::get_or_create(dir.str(), factory); }
  run_with_checkpoints(dir.str(), 1, word_count);
  { auto again = streaming_context::get_or_create(dir.str(), factory); }
  BOOST_TEST(created == 2);
}

namespace {

using kv = std::pair<std::string, int>;
using outputs = std::vector<fixtures::batch_output<kv>>;

/// An output operation keeping each batch's records, sorted, in `out`.
auto keep_sorted(std::shared_ptr<outputs> out) {
  return [out](const rdd<kv>& r, batch_time t) {
    auto v = r.collect();
    std::sort(v.begin(), v.end());
    out->push_back({t.ms, v});
  };
}

/// Sums a key's values, or removes the key when one is negative.
std::optional<int> sum_or_remove(const std::vector<int>& vs, std::optional<int> s) {
  for (int v : vs)
    if (v < 0)
      return std::nullopt;
  int sum = s.value_or(0);
  for (int v : vs)
    sum += v;
  return sum;
}

/// get_or_create(dir, factory) with `listener` added (if any), then
/// `batches` batches one at a time, as a running program's, then stop.
template <class Factory>
void run_batches(const std::string& dir, Factory factory, int batches,
                 std::shared_ptr<streaming_listener> listener = nullptr) {
  auto ssc = streaming_context::get_or_create(dir, factory);
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  if (listener)
    ssc.add_listener(listener);
  ssc.start();
  for (int i = 1; i <= batches; ++i) {
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(i);
  }
  ssc.stop();
}

} // namespace

BOOST_AUTO_TEST_CASE(state_is_restored_by_get_or_create) {
  temp_dir dir{"restore"};
  auto build = [path = dir.str()](std::vector<std::vector<std::string>> input,
                                  std::shared_ptr<outputs> out) {
    return [=] {
      streaming_context ssc{manual_conf(), seconds(1)};
      ssc.checkpoint(path);
      ssc.queue_stream(input)
        .map([](std::string w) { return kv{w, 1}; })
        .update_state_by_key([](const std::vector<int>& vs, std::optional<int> s) {
          return std::optional<int>{s.value_or(0) + static_cast<int>(vs.size())};
        })
        .checkpoint(seconds(1))
        .foreach_rdd(keep_sorted(out));
      return ssc;
    };
  };
  auto first = std::make_shared<outputs>();
  run_batches(dir.str(), build({{"a"}, {"a"}, {"b"}, {"a"}}, first), 4);
  BOOST_TEST((first->back().records == std::vector<kv>{{"a", 3}, {"b", 1}}));
  // A new context from the same program continues at 5 s with the state of 4 s.
  auto second = std::make_shared<outputs>();
  run_batches(dir.str(), build({{"a"}, {"c"}}, second), 2);
  BOOST_TEST(*second == (outputs{{5000, {{"a", 4}, {"b", 1}}}, {6000, {{"a", 4}, {"b", 1}, {"c", 1}}}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_key_of_the_initial_state_removed_before_a_crash_stays_removed) {
  // Spark applies the initial state only to a run that starts without a
  // checkpoint; a recovered run's state is the checkpoint's. sluice used to
  // load the initial state and put the checkpoint over it, so "gone" came
  // back after the recovery.
  temp_dir dir{"restore-initial"};
  auto build = [path = dir.str()](std::vector<std::vector<kv>> input,
                                  std::shared_ptr<outputs> out) {
    return [=] {
      streaming_context ssc{manual_conf(), seconds(1)};
      ssc.checkpoint(path);
      auto initial = ssc.make_rdd<kv>({{"gone", 1}, {"kept", 2}}, 2);
      ssc.queue_stream(input)
        .update_state_by_key(sum_or_remove, 2, initial)
        .checkpoint(seconds(1))
        .foreach_rdd(keep_sorted(out));
      return ssc;
    };
  };
  auto first = std::make_shared<outputs>();
  run_batches(dir.str(), build({{{"gone", -1}}, {{"kept", 1}}}, first), 2);
  BOOST_TEST(*first == (outputs{{1000, {{"kept", 2}}}, {2000, {{"kept", 3}}}}),
             boost::test_tools::per_element());
  auto second = std::make_shared<outputs>();
  run_batches(dir.str(), build({{{"kept", 1}}}, second), 1);
  BOOST_TEST(*second == (outputs{{3000, {{"kept", 4}}}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_recovered_run_goes_on_with_deltas_and_a_second_recovery_reads_them) {
  // A restored state's first checkpoint is a delta of what its batch
  // changed, not the whole state again (a full snapshot of 1 M keys took
  // ~250 ms of the recovered run's first batch); the chain it extends must
  // still recover.
  temp_dir dir{"restore-deltas"};
  // Per batch time, the (full, entries) of each state checkpoint, sorted.
  using writes = std::map<int64_t, std::vector<std::pair<bool, int64_t>>>;
  struct recorder final : streaming_listener {
    std::mutex mtx;
    writes seen;
    void on_checkpoint_written(const checkpoint_info& c) override {
      if (c.what != checkpoint_info::kind::state)
        return;
      std::lock_guard lock{mtx};
      auto& v = seen[c.batch.ms];
      v.emplace_back(c.full, c.entries);
      std::sort(v.begin(), v.end());
    }
  };
  // One run over `input` (one batch each), recovered from the directory
  // when it holds a checkpoint; returns its outputs and state writes.
  auto run = [path = dir.str()](std::vector<std::vector<kv>> input) {
    auto out = std::make_shared<outputs>();
    auto rec = std::make_shared<recorder>();
    auto factory = [&] {
      streaming_context ssc{manual_conf(), seconds(1)};
      ssc.checkpoint(path);
      ssc.queue_stream(input)
        .update_state_by_key(sum_or_remove, 2)
        .checkpoint(seconds(1))
        .foreach_rdd(keep_sorted(out));
      return ssc;
    };
    run_batches(path, factory, static_cast<int>(input.size()), rec);
    std::lock_guard lock{rec->mtx};
    return std::pair{*out, rec->seen};
  };
  auto [out1, writes1] = run({{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}}, {{"a", 1}}});
  BOOST_TEST(out1 == (outputs{{1000, {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}}},
                              {2000, {{"a", 2}, {"b", 1}, {"c", 1}, {"d", 1}}}}),
             boost::test_tools::per_element());
  // A new run starts with full snapshots of its 2 partitions (the keys hash
  // to them 1 and 3), then deltas. update_state_by_key calls its function
  // for every key at every batch (Spark's rule), so each delta lists them all.
  BOOST_TEST((writes1 == writes{{1000, {{true, 1}, {true, 3}}}, {2000, {{false, 1}, {false, 3}}}}));
  // The recovered run's first batch goes on with deltas on the chain.
  auto [out2, writes2] = run({{{"b", 1}}});
  BOOST_TEST(out2 == (outputs{{3000, {{"a", 2}, {"b", 2}, {"c", 1}, {"d", 1}}}}),
             boost::test_tools::per_element());
  BOOST_TEST((writes2 == writes{{3000, {{false, 1}, {false, 3}}}}));
  // Recovering again reads the full snapshot of 1000 and the deltas of
  // 2000 and 3000, the last written by the recovered run.
  auto [out3, writes3] = run({{{"c", 5}}});
  BOOST_TEST(out3 == (outputs{{4000, {{"a", 2}, {"b", 2}, {"c", 6}, {"d", 1}}}}),
             boost::test_tools::per_element());
  BOOST_TEST((writes3 == writes{{4000, {{false, 1}, {false, 3}}}}));
}

BOOST_AUTO_TEST_CASE(the_file_stream_resumes_where_it_stopped) {
  temp_dir cp{"files-cp"};
  temp_dir in{"files-in"};
  auto drop = [&](const std::string& name, const std::string& text) {
    auto tmp = in.path() / ("." + name);
    std::ofstream{tmp} << text;
    std::filesystem::rename(tmp, in.path() / name);
  };
  auto run = [&](int batches, std::function<void()> before_last) {
    auto lines = std::make_shared<std::vector<std::string>>();
    auto ssc = streaming_context::get_or_create(cp.str(), [&] {
      streaming_context s{manual_conf(), seconds(1)};
      s.checkpoint(cp.str());
      s.text_file_stream(in.str()).foreach_rdd([lines](const rdd<std::string>& r) {
        for (auto& l : r.collect())
          lines->push_back(l);
      });
      return s;
    });
    auto counter = std::make_shared<fixtures::batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    for (int i = 1; i <= batches; ++i) {
      if (i == batches && before_last)
        before_last();
      ssc.manual_clock().advance(seconds(1));
      counter->wait_for(i);
    }
    ssc.stop();
    return *lines;
  };
  drop("old.txt", "present before the first start\n");
  auto first = run(2, [&] { drop("one.txt", "one\n"); });
  BOOST_TEST(first == (std::vector<std::string>{"one"}), boost::test_tools::per_element());
  drop("two.txt", "two\n"); // arrives while the program is down
  auto second = run(1, {});
  BOOST_TEST(second == (std::vector<std::string>{"two"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(received_blocks_in_the_wal_are_replayed_after_a_restart) {
  temp_dir dir{"replay"};
  struct blocks : receiver<int> {
    int first, count;
    std::shared_ptr<std::promise<void>> done = std::make_shared<std::promise<void>>();
    std::thread t;
    blocks(int f, int c) : first(f), count(c) {}
    blocks(const blocks& o) : receiver<int>(o), first(o.first), count(o.count), done(o.done) {}
    void on_start() override {
      t = std::thread{[this] {
        for (int b = 0; b < count; ++b)
          store(std::vector<int>{first + b}); // reliable: in the WAL when it returns
        done->set_value();
      }};
    }
    void on_stop() override {
      if (t.joinable())
        t.join();
    }
  };
  auto make = [path = dir.str()](blocks r, std::shared_ptr<std::vector<int>> out) {
    return [=] {
      auto c = manual_conf();
      c.set("sluice.streaming.receiver.writeAheadLog.enable", "true");
      // The test waits on the receiver's promise, in this process (make
      // test-cluster would place the receiver on a worker).
      c.set("sluice.cluster.receivers", "driver");
      streaming_context ssc{c, seconds(1)};
      ssc.checkpoint(path);
      ssc.receiver_stream(r).foreach_rdd([out](const rdd<int>& rd) {
        for (int x : rd.collect())
          out->push_back(x);
      });
      return ssc;
    };
  };
  auto first = std::make_shared<std::vector<int>>();
  {
    blocks r{0, 5};
    auto done = r.done->get_future();
    auto ssc = streaming_context::get_or_create(dir.str(), make(r, first));
    auto counter = std::make_shared<fixtures::batch_counter>();
    ssc.add_listener(counter);
    ssc.start();
    BOOST_REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    ssc.manual_clock().advance(seconds(1));
    counter->wait_for(1); // batch 1 took blocks 0..4 and was checkpointed
    ssc.stop();
  }
  {
    // Stored and acknowledged, but the program dies before a batch takes them.
    blocks r{100, 3};
    auto done = r.done->get_future();
    auto ssc = streaming_context::get_or_create(dir.str(), make(r, first));
    ssc.start();
    BOOST_REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    ssc.stop();
  }
  auto second = std::make_shared<std::vector<int>>();
  auto ssc = streaming_context::get_or_create(dir.str(), make(blocks{0, 0}, second));
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.stop();
  std::sort(first->begin(), first->end());
  std::sort(second->begin(), second->end());
  BOOST_TEST(*first == (std::vector<int>{0, 1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(*second == (std::vector<int>{100, 101, 102}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_corrupt_newest_checkpoint_falls_back_to_the_previous_one) {
  temp_dir dir{"corrupt"};
  run_with_checkpoints(dir.str(), 3, word_count); // metadata of 3000 ms generated, completed
  {
    fixtures::raw_db raw{dir.path() / "sluice.db"};
    raw.flip_payload_byte("checkpoint_metadata",
                          raw.query_int64("SELECT row_id FROM checkpoint_metadata "
                                          "ORDER BY batch_time_ms DESC, written DESC LIMIT 1"),
                          20);
  }
  auto times = std::make_shared<std::vector<int64_t>>();
  auto ssc = streaming_context::get_or_create(dir.str(), [&] {
    streaming_context s{manual_conf(), seconds(1)};
    s.checkpoint(dir.str());
    s.queue_stream<std::string>({{"a"}})
      .map([](std::string w) { return std::pair{w, 1}; })
      .reduce_by_key(std::plus<int>{})
      .foreach_rdd([times](const rdd<std::pair<std::string, int>>&, batch_time t) {
        times->push_back(t.ms);
      });
    return s;
  });
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.stop();
  // Recovered from 3000 ms's generation checkpoint (3000 pending), so the
  // first batch is 3000 ms.
  BOOST_TEST(*times == (std::vector<int64_t>{3000}), boost::test_tools::per_element());
}
