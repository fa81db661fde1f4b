#define BOOST_TEST_MODULE actors/checkpoint_writer
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "fixtures/harness.hpp"
#include "sluice/checkpoint_store.hpp"
#include "sluice/checkpoint_writer.hpp"
#include "sluice/error.hpp"
#include "sluice/state_chunk.hpp"

// The checkpoint writer owns sluice.db: state and metadata checkpoints reach
// it as messages (here serialized and deserialized first, as from another
// node), and what it stores is what a recovery reads.

using namespace sluice;
using namespace sluice::detail;
using namespace std::chrono_literals;

namespace {

struct writer_fixture {
  fixtures::temp_dir dir{"ckpt-writer"};
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<transport> net;
  caf::actor writer;
  writer_fixture() {
    add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    net = std::make_shared<transport>(sys->node(), false);
    writer = sys->spawn<caf::detached>(checkpoint_writer,
                                       std::shared_ptr<checkpoint_store>{
                                         checkpoint_store::open(dir.str())},
                                       net, caf::actor{});
  }
  ~writer_fixture() { caf::anon_send_exit(writer, caf::exit_reason::user_shutdown); }

  /// `x` after a trip through CAF's binary serializer inside a message.
  template <class T>
  T over_the_wire(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto m = caf::make_message(std::move(x));
    BOOST_REQUIRE(!sink(m));
    caf::message back;
    caf::binary_deserializer source{*sys, buf};
    BOOST_REQUIRE(!source(back));
    return back.get_as<T>(0);
  }

  template <class T>
  std::optional<writer_failure> ask(T x) {
    caf::scoped_actor self{*sys};
    std::optional<writer_failure> failure;
    self->request(writer, 10s, over_the_wire(std::move(x)))
      .receive([](bool) {}, [&](caf::error& err) { failure = failure_of(err); });
    return failure;
  }

  sluice::state_entries restore(int32_t op, int32_t partition, int64_t t) {
    caf::scoped_actor self{*sys};
    sluice::state_entries rows;
    self->request(writer, 10s, restore_atom::value, op, partition, t)
      .receive([&](state_rows_msg& r) { rows = sluice::state_from_chunks(r.chunks); },
               [&](caf::error& err) { BOOST_FAIL(failure_of(err).what); });
    return rows;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(checkpoint_writer_suite, writer_fixture)

BOOST_AUTO_TEST_CASE(state_and_metadata_sent_as_messages_are_what_a_recovery_reads) {
  state_write_msg full{3, 1, 2000, true, {{"a", "1"}, {"b", "2"}}, {}, -1};
  state_write_msg delta{3, 1, 3000, false, {{"b", "5"}, {"c", "7"}}, {"a"}, -1};
  BOOST_TEST(!ask(full).has_value());
  BOOST_TEST(!ask(delta).has_value());
  metadata_checkpoint m;
  m.batch_time_ms = 3000;
  m.graph_fingerprint = "graph";
  m.conf = {{"sluice.master", "local[2]"}};
  m.pending_batches = {4000};
  m.source_offsets = {{"0", "pos"}};
  m.zero_time_ms = 1000;
  BOOST_TEST(!ask(m).has_value());
  using rows = sluice::state_entries; // sorted by key
  BOOST_TEST((restore(3, 1, 2000) == rows{{"a", "1"}, {"b", "2"}}));
  BOOST_TEST((restore(3, 1, 3000) == rows{{"b", "5"}, {"c", "7"}}));
  BOOST_TEST(restore(3, 0, 3000).empty());
  caf::scoped_actor self{*sys};
  self->request(writer, 10s, drain_atom::value).receive([](bool) {}, [](caf::error&) {});
  auto store = checkpoint_store::open(dir.str());
  auto latest = store->latest_metadata();
  BOOST_REQUIRE(latest.has_value());
  BOOST_TEST((*latest == m));
}

BOOST_AUTO_TEST_CASE(a_metadata_checkpoint_without_zero_time_stays_without) {
  metadata_checkpoint m;
  m.batch_time_ms = 1000;
  m.graph_fingerprint = "g";
  BOOST_TEST(!over_the_wire(m).zero_time_ms.has_value());
  m.zero_time_ms = 0;
  BOOST_TEST((over_the_wire(m).zero_time_ms == std::optional<int64_t>{0}));
}

BOOST_AUTO_TEST_CASE(a_failed_write_comes_back_as_the_storage_error_it_was) {
  // Another file in place of sluice.db: the store refuses to write into it.
  std::filesystem::remove(dir.path() / "sluice.db");
  std::filesystem::copy_file(dir.path() / "sluice.db-wal", dir.path() / "sluice.db",
                             std::filesystem::copy_options::overwrite_existing);
  auto failure = ask(state_write_msg{1, 0, 1000, true, {{"k", "v"}}, {}, -1});
  BOOST_REQUIRE(failure.has_value());
  BOOST_TEST(failure->what.find("sluice.db") != std::string::npos, failure->what);
  auto cause = net->take(failure->cause);
  BOOST_REQUIRE(cause.has_value());
  BOOST_CHECK_THROW(std::rethrow_exception(std::any_cast<std::exception_ptr>(*cause)),
                    storage_error);
}

BOOST_AUTO_TEST_SUITE_END()

// Metadata checkpoints that reach the writer together are stored by one
// commit (one sync of the disk). On the deterministic scheduler the three
// requests are all in the writer's mailbox before it runs.
BOOST_AUTO_TEST_CASE(metadata_checkpoints_that_arrive_together_are_stored_by_one_commit) {
  fixtures::temp_dir dir{"ckpt-writer-group"};
  fixtures::temp_dir grouped_dir{"ckpt-writer-grouped"};
  fixtures::temp_dir one_dir{"ckpt-writer-one"};
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto net = std::make_shared<transport>(sys.node(), false);
  auto store = std::shared_ptr<checkpoint_store>{checkpoint_store::open(dir.str())};
  auto writer = sys.spawn(checkpoint_writer, store, net, caf::actor{});
  sched.run();
  // Bytes the commits wrote to the -wal file so far.
  auto wal_bytes = [](const fixtures::temp_dir& d) {
    return std::filesystem::file_size(d.path() / "sluice.db-wal");
  };
  auto before = wal_bytes(dir);
  std::vector<metadata_checkpoint> ms(3);
  for (size_t i = 0; i < ms.size(); ++i) {
    ms[i].batch_time_ms = 1000 * static_cast<int64_t>(i + 1);
    ms[i].graph_fingerprint = "g";
    ms[i].pending_batches = {ms[i].batch_time_ms};
  }
  auto stored = std::make_shared<std::vector<int64_t>>();
  auto client = sys.spawn([=](caf::event_based_actor* self) {
    for (auto& m : ms)
      self->request(writer, caf::infinite, m).then([=, t = m.batch_time_ms](bool ok) {
        if (ok)
          stored->push_back(t);
      });
  });
  sched.run();
  BOOST_TEST(*stored == (std::vector<int64_t>{1000, 2000, 3000}), boost::test_tools::per_element());
  BOOST_TEST(store->latest_metadata()->batch_time_ms == 3000);
  // As one group written to a store of its own, byte for byte; one by one
  // (a commit each) writes more.
  auto grouped = checkpoint_store::open(grouped_dir.str());
  auto one = checkpoint_store::open(one_dir.str());
  auto grouped_before = wal_bytes(grouped_dir);
  auto one_before = wal_bytes(one_dir);
  auto failed = grouped->write_metadata_group({&ms[0], &ms[1], &ms[2]});
  BOOST_TEST(std::count(failed.begin(), failed.end(), nullptr) == 3);
  for (auto& m : ms)
    one->write_metadata(m);
  BOOST_TEST(wal_bytes(dir) - before == wal_bytes(grouped_dir) - grouped_before);
  BOOST_TEST(wal_bytes(dir) - before < wal_bytes(one_dir) - one_before);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  sched.run();
}
