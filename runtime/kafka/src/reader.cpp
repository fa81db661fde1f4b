// The reading side (Spark's KafkaRDD compute with KafkaDataConsumer): reads
// one offset range through a consumer cached per topic-partition, so the
// next batch's range of the same partition continues its fetch.
#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <mutex>

#include "client.hpp"
#include "sluice/error.hpp"

namespace sluice::kafka::detail {

void rk_deleter::operator()(rd_kafka_t* rk) const {
  // No consumer-group close: the driver and readers only assign partitions.
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

std::string name_of(const std::string& topic, int32_t partition) {
  return "topic '" + topic + "' partition " + std::to_string(partition);
}

rk_ptr make_consumer(const kafka::params& client, const kafka::params& overrides) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw invalid_argument("kafka: parameter '" + k + "' = '" + v + "' rejected: " + errstr);
    }
  };
  for (auto& [k, v] : client)
    if (overrides.count(k) == 0)
      set(k, v);
  for (auto& [k, v] : overrides)
    set(k, v);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw error(std::string("kafka: cannot create a consumer: ") + errstr);
  }
  return rk_ptr{rk};
}

namespace {

struct cached_consumer {
  rk_ptr rk;
  int64_t next = -1;  ///< the offset its fetch continues at; -1: unknown
};

struct consumer_cache {
  std::mutex mtx;
  std::multimap<std::string, cached_consumer> idle;
};

consumer_cache& cache() {
  static auto* c = new consumer_cache; // never destroyed: no teardown order at exit
  return *c;
}

constexpr size_t max_idle = 64; // Spark's spark.streaming.kafka.consumer.cache.maxCapacity

std::string key_of(const reader_config& cfg, const offset_range& r) {
  return cfg.cache_key + '\n' + r.topic + '\n' + std::to_string(r.partition);
}

/// librdkafka 2.0.2 learns where an assigned topic's partitions live from the
/// metadata it asks for when its first broker connection comes up, or else
/// from its scan of unknown topics once a second. A new consumer whose
/// connection came up before rd_kafka_assign waited up to 1 s for its first
/// record (1 range in 5 in bench/kafka_ingest). Asking for the topic's
/// metadata first takes one round trip. A failure here is left to the read,
/// which reports it with the range.
void learn_topic(rd_kafka_t* rk, const std::string& topic, int64_t timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (!t)
    return;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, t, &md, static_cast<int>(std::min<int64_t>(timeout_ms, 10000)))
      == RD_KAFKA_RESP_ERR_NO_ERROR)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
}

cached_consumer check_out(const reader_config& cfg, const offset_range& r) {
  auto key = key_of(cfg, r);
  {
    std::lock_guard<std::mutex> guard{cache().mtx};
    auto i = cache().idle.find(key);
    if (i != cache().idle.end()) {
      auto c = std::move(i->second);
      cache().idle.erase(i);
      return c;
    }
  }
  // Spark's executor settings: its own group, no commits, no silent reset.
  auto rk = make_consumer(cfg.client, {{"group.id", "sluice-executor-" + cfg.group},
                                       {"enable.auto.commit", "false"},
                                       {"enable.auto.offset.store", "false"},
                                       {"auto.offset.reset", "error"}});
  learn_topic(rk.get(), r.topic, cfg.api_timeout_ms);
  return {std::move(rk), -1};
}

void check_in(const reader_config& cfg, const offset_range& r, cached_consumer c) {
  std::lock_guard<std::mutex> guard{cache().mtx};
  if (cache().idle.size() >= max_idle)
    cache().idle.erase(cache().idle.begin());
  cache().idle.emplace(key_of(cfg, r), std::move(c));
}

/// The messages of one rd_kafka_consume_batch_queue call, destroyed with it
/// (also when a record's callback throws).
struct message_batch {
  static constexpr size_t capacity = 512;
  std::array<rd_kafka_message_t*, capacity> m{};
  size_t n = 0;
  void clear() {
    for (size_t i = 0; i < n; ++i)
      rd_kafka_message_destroy(m[i]);
    n = 0;
  }
  ~message_batch() { clear(); }
};

struct queue_deleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};

std::optional<std::string_view> view_of(const void* p, size_t n) {
  if (!p)
    return std::nullopt;
  return std::string_view{static_cast<const char*>(p), n};
}

} // namespace

void drop_cached_consumers(const std::string& cache_key) {
  std::vector<cached_consumer> gone;
  {
    std::lock_guard<std::mutex> guard{cache().mtx};
    for (auto i = cache().idle.begin(); i != cache().idle.end();)
      if (i->first.compare(0, cache_key.size() + 1, cache_key + '\n') == 0) {
        gone.push_back(std::move(i->second));
        i = cache().idle.erase(i);
      } else {
        ++i;
      }
  }
}

void read_range(const reader_config& cfg, const offset_range& r,
                const std::function<void(const raw_record&)>& each) {
  if (r.until_offset <= r.from_offset)
    return;
  auto c = check_out(cfg, r);
  auto where = [&](int64_t at) {
    return name_of(r.topic, r.partition) + " offset " + std::to_string(at) + " (range ["
           + std::to_string(r.from_offset) + ", " + std::to_string(r.until_offset) + "))";
  };
  if (c.next != r.from_offset) {
    tpl_ptr list{rd_kafka_topic_partition_list_new(1)};
    rd_kafka_topic_partition_list_add(list.get(), r.topic.c_str(), r.partition)->offset =
      r.from_offset;
    if (auto err = rd_kafka_assign(c.rk.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw error("kafka: cannot assign " + where(r.from_offset) + ": " + rd_kafka_err2str(err));
  }
  using clock = std::chrono::steady_clock;
  auto timeout = std::chrono::milliseconds(cfg.poll_timeout_ms);
  auto deadline = clock::now() + timeout;
  int64_t next = r.from_offset;
  int64_t next_at_deadline = next; // no clock read per record: only when a poll comes back empty
  bool overshot = false;
  // Messages are taken in batches (one queue lock and clock read per batch,
  // not per record), never more than the offsets left in the range: a
  // message past the range would be taken from the fetch queue and the next
  // range would have to seek. What the queue holds is taken at once; only
  // an empty queue is waited on (100 ms, then the transaction-marker check).
  std::unique_ptr<rd_kafka_queue_t, queue_deleter> queue{rd_kafka_queue_get_consumer(c.rk.get())};
  message_batch batch;
  while (next < r.until_offset) {
    batch.clear();
    auto want = static_cast<size_t>(std::min<int64_t>(r.until_offset - next,
                                                      message_batch::capacity));
    auto got = rd_kafka_consume_batch_queue(queue.get(), 0, batch.m.data(), want);
    if (got == 0)
      got = rd_kafka_consume_batch_queue(queue.get(), 100, batch.m.data(), 1);
    if (got < 0)
      throw error("kafka: cannot read " + where(next) + ": "
                  + rd_kafka_err2str(rd_kafka_last_error()));
    batch.n = static_cast<size_t>(got);
    if (got == 0) {
      if (next != next_at_deadline) { // progress since the deadline was set
        next_at_deadline = next;
        deadline = clock::now() + timeout;
      }
      // Transaction markers take offsets without being records: the
      // consumer's position may pass the range's end with no record.
      tpl_ptr pos{rd_kafka_topic_partition_list_new(1)};
      rd_kafka_topic_partition_list_add(pos.get(), r.topic.c_str(), r.partition);
      if (rd_kafka_position(c.rk.get(), pos.get()) == RD_KAFKA_RESP_ERR_NO_ERROR
          && pos->elems[0].offset >= r.until_offset) {
        next = r.until_offset;
        overshot = pos->elems[0].offset > r.until_offset;
        break;
      }
      if (clock::now() > deadline)
        throw error("kafka: no record within " + std::to_string(cfg.poll_timeout_ms)
                    + " ms (sluice.streaming.kafka.consumer.poll.ms) reading " + where(next)
                    + " from bootstrap.servers=" + cfg.bootstrap);
      continue;
    }
    for (size_t i = 0; i < batch.n; ++i) {
      const rd_kafka_message_t* m = batch.m[i];
      if (next >= r.until_offset) { // the range is read; a record after it was taken
        overshot = overshot || (!m->err && m->offset >= r.until_offset);
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        continue;
      if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE
          || m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
        throw error("kafka: offset out of range reading " + where(next) + ": "
                    + rd_kafka_message_errstr(m));
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw error("kafka: cannot read " + where(next) + ": " + rd_kafka_message_errstr(m));
      if (m->offset < next)
        continue;
      if (m->offset >= r.until_offset) {
        overshot = true; // taken from the fetch queue: the next range must seek
        next = r.until_offset;
        break;
      }
      rd_kafka_timestamp_type_t tstype;
      raw_record rec{m->offset, rd_kafka_message_timestamp(m, &tstype), view_of(m->key, m->key_len),
                     view_of(m->payload, m->len)};
      each(rec);
      next = m->offset + 1;
    }
  }
  c.next = overshot ? -1 : next;
  check_in(cfg, r, std::move(c));
}

} // namespace sluice::kafka::detail
