// samples/kafka_transactional_copy killed with SIGKILL at seeded moments
// while a producer writes: every record produced is copied, and a record
// copied twice (a batch run again after a kill) was copied by the same batch
// both times, on the same offset range.
//
// librdkafka 2.0.2's mock cluster does not isolate transactions: its Fetch
// answers a last stable offset equal to the high watermark and no aborted
// transactions (rdkafka_mock_handlers.c, "LastStableOffset", "#Aborted"),
// so a read_committed consumer also sees the records of a transaction a
// kill left open, which a real broker aborts (when the next producer of
// the transactional.id starts, or at the transaction timeout). Those are
// the only copies past the first this test allows, and it counts them.
#define BOOST_TEST_MODULE kafka/transactional_kill
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "fixtures/child_process.hpp"
#include "fixtures/harness.hpp"
#include "fixtures/kafka_cluster.hpp"
#include "fixtures/kcat.hpp"

using fixtures::kafka_cluster;

namespace {

struct copy {
  int64_t batch = 0;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string value;
};

/// Every record of `topic` as kcat reads it with read_committed, parsed
/// from the sample's "<batch ms> <partition> <offset> <value>".
std::vector<copy> read_copies(const kafka_cluster& k, const std::string& topic) {
  std::vector<copy> out;
  for (auto& value : fixtures::kcat_consume(k, topic, fixtures::read_committed).values) {
    std::istringstream line{value};
    copy c;
    if (line >> c.batch >> c.partition >> c.offset >> c.value)
      out.push_back(c);
    else
      BOOST_ERROR("an output record not in the sample's format: " << value);
  }
  return out;
}

/// The offsets of each partition in [0, n) that no copy has, as ranges,
/// with the batches that copied the records just before and after each.
std::string missing(const std::vector<copy>& copies, int n) {
  std::map<std::pair<int32_t, int64_t>, int64_t> by;
  for (auto& c : copies)
    by.emplace(std::pair{c.partition, c.offset}, c.batch);
  std::ostringstream out;
  for (int32_t p = 0; p < 2; ++p)
    for (int64_t o = 0; o < n;) {
      if (by.count({p, o})) {
        ++o;
        continue;
      }
      auto from = o;
      while (o < n && !by.count({p, o}))
        ++o;
      auto before = by.find({p, from - 1});
      auto after = by.find({p, o});
      out << "partition " << p << " [" << from << ", " << o << ") missing (batch before "
          << (before == by.end() ? -1 : before->second) << ", after "
          << (after == by.end() ? -1 : after->second) << "); ";
    }
  return out.str();
}

/// Per batch time: each partition's offsets copied ("p:first-last/count").
std::string summary(const std::vector<copy>& copies) {
  std::map<int64_t, std::map<int32_t, std::vector<int64_t>>> by;
  for (auto& c : copies)
    by[c.batch][c.partition].push_back(c.offset);
  std::ostringstream out;
  for (auto& [t, parts] : by) {
    out << t << ':';
    for (auto& [p, os] : parts)
      out << ' ' << p << ':' << os.front() << '-' << os.back() << '/' << os.size();
    out << '\n';
  }
  return out.str();
}

/// The sink's commit markers (batch times), in their order in the topic.
std::string markers(const kafka_cluster& k) {
  std::string out;
  for (auto& t : fixtures::kcat_consume(k, "out.sluice-commits").values)
    out += t + ' ';
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(sigkilled_at_seeded_moments_every_record_is_copied_by_one_batch) {
  kafka_cluster k;
  k.create_topic("in", 2);
  k.create_topic("out", 2);
  k.create_topic("out.sluice-commits", 1);
  fixtures::temp_dir ckpt{"kafka-txn-kill"};
  // The producer writes for about as long as the 10 kills take (~15 s):
  // 50 chunks of 20 records per partition, 250 ms apart.
  constexpr int per_partition = 1000;
  std::thread producer{[&] {
    for (int i = 0; i < per_partition; i += 20) {
      for (int p = 0; p < 2; ++p)
        for (int j = 0; j < 20; ++j)
          k.send("in", p, "v" + std::to_string(p) + "-" + std::to_string(i + j), {});
      k.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(250)); // pacing, not synchronisation
    }
  }};
  // Every run the same transactional.id, as a deployed copy job has: a new
  // run's producer fences the killed one's.
  auto app = [&] {
    return std::make_unique<fixtures::child_process>(std::vector<std::string>{
      SLUICE_SAMPLES_DIR "/kafka_transactional_copy", k.bootstrap(), "in", "out", "copy-1",
      ckpt.str()});
  };
  std::mt19937 rng{20261202};  // the seed fixes the kill moments
  std::uniform_int_distribution<int> after_ms{700, 2200};
  int kills = 0;
  constexpr int moments = 10;
  for (int i = 0; i < moments; ++i) {
    auto a = app();
    a->start();
    // The kill moment (not a synchronisation): somewhere in a batch's life.
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms(rng)));
    kills += a->kill() ? 1 : 0;
  }
  producer.join();
  auto last = app();
  last->start();
  auto distinct = [&](const std::vector<copy>& copies) {
    std::set<std::pair<int32_t, int64_t>> seen;
    for (auto& c : copies)
      seen.insert({c.partition, c.offset});
    return seen.size();
  };
  bool all = fixtures::eventually(
    [&] { return distinct(read_copies(k, "out")) == 2 * per_partition; },
    std::chrono::seconds(60));
  BOOST_TEST(last->kill(), "the sample exited by itself");
  BOOST_TEST(kills == moments);
  auto copies = read_copies(k, "out");
  BOOST_TEST(all, distinct(copies) << " of " << 2 * per_partition << " records copied; "
                                     << missing(copies, per_partition) << "\n"
                                     << summary(copies) << "markers: " << markers(k));
  // Each record: its value is the one produced at its offset, and every copy
  // of it was made by one batch (a re-run reads the range it read before).
  std::map<std::pair<int32_t, int64_t>, std::set<int64_t>> batches;
  int wrong = 0;
  for (auto& c : copies) {
    batches[{c.partition, c.offset}].insert(c.batch);
    if (c.value != "v" + std::to_string(c.partition) + "-" + std::to_string(c.offset) && ++wrong <= 5)
      BOOST_ERROR("partition " << c.partition << " offset " << c.offset << " was copied as '"
                               << c.value << "'");
  }
  int by_two = 0;
  for (auto& [at, ts] : batches)
    if (ts.size() > 1 && ++by_two <= 5)
      BOOST_ERROR("partition " << at.first << " offset " << at.second << " was copied by "
                               << ts.size() << " batches, the first two " << *ts.begin() << " and "
                               << *std::next(ts.begin()));
  BOOST_TEST(by_two == 0);
  // A batch's commit marker follows its records' delivery in its
  // transaction: a batch run again after its marker was written (committed,
  // or left open by a kill: the mock shows both) is not written again, so
  // every marker is there once. The copies past the first come from
  // transactions a kill ended before their marker.
  std::istringstream in{markers(k)};
  std::map<std::string, int> written;
  for (std::string t; in >> t;)
    if (++written[t] == 2)
      BOOST_ERROR("batch " << t << " was written twice (its commit marker is there twice)");
  BOOST_TEST(!written.empty());
  BOOST_TEST_MESSAGE(copies.size() - distinct(copies)
                     << " copies past the first, from transactions a kill ended before their "
                        "marker");
}
