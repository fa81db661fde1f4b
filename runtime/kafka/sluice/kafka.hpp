// <sluice/kafka.hpp>: Spark's spark-streaming-kafka-0-10 direct stream on
// librdkafka (target sluice::kafka). No librdkafka type appears here: the
// clients live in the library's .cpp files.
//
// The direct stream: at each batch time the driver fixes, per Kafka
// topic-partition, the offset range [from, until) the batch reads (the latest
// offsets, limited by sluice.streaming.kafka.maxRatePerPartition); the batch
// has one partition per Kafka partition, in (topic, partition) order, and the
// records are read in the operator actors (a narrow step fused after the
// source, "kafka_read"), each through a consumer cached per topic-partition.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/dstream.hpp"
#include "sluice/error.hpp"
#include "sluice/rdd.hpp"

namespace sluice {
class streaming_context;
}

namespace sluice::kafka {

/// Kafka's own client settings (`bootstrap.servers`, `group.id`,
/// `auto.offset.reset`, ...), passed to librdkafka. Java-only keys that
/// Spark programs carry (`key.deserializer`, `value.deserializer`) are
/// ignored; `default.api.timeout.ms` bounds the driver's metadata and offset
/// queries (default 60000).
using params = std::map<std::string, std::string>;

/// Raw bytes of a key or value.
using bytes = std::vector<uint8_t>;

struct topic_partition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const topic_partition&) const = default;
  bool operator==(const topic_partition&) const = default;
};

/// Spark's OffsetRange: the records [from_offset, until_offset) of one
/// topic-partition read by one batch.
struct offset_range {
  std::string topic;
  int32_t partition = 0;
  int64_t from_offset = 0;
  int64_t until_offset = 0;
  int64_t count() const { return until_offset - from_offset; }
  topic_partition tp() const { return {topic, partition}; }
  bool operator==(const offset_range&) const = default;
};

template <class Inspector>
auto inspect(Inspector& f, offset_range& x) {
  return f(x.topic, x.partition, x.from_offset, x.until_offset);
}

/// Spark's ConsumerRecord. `timestamp` is Kafka's, in ms since the epoch
/// (-1 when the record has none).
template <class K, class V>
struct consumer_record {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = -1;
  K key{};
  V value{};
  bool operator==(const consumer_record&) const = default;
};

template <class Inspector, class K, class V>
auto inspect(Inspector& f, consumer_record<K, V>& x) {
  return f(x.topic, x.partition, x.offset, x.timestamp, x.key, x.value);
}

/// Turns a key's or value's bytes (nullopt: Kafka's null) into a T. An
/// exception it throws fails the batch with an error naming the topic,
/// partition and offset of the record.
template <class T>
using deserializer = std::function<T(std::optional<std::string_view>)>;

/// null -> "".
inline deserializer<std::string> string_deserializer() {
  return [](std::optional<std::string_view> b) { return b ? std::string{*b} : std::string{}; };
}

/// null -> no bytes.
inline deserializer<bytes> bytes_deserializer() {
  return [](std::optional<std::string_view> b) {
    return b ? bytes(b->begin(), b->end()) : bytes{};
  };
}

template <class T>
deserializer<T> default_deserializer() {
  if constexpr (std::is_same_v<T, std::string>)
    return string_deserializer();
  else if constexpr (std::is_same_v<T, bytes>)
    return bytes_deserializer();
  else
    static_assert(std::is_same_v<T, std::string> || std::is_same_v<T, bytes>,
                  "sluice::kafka: only std::string and sluice::kafka::bytes have a default "
                  "deserializer; pass a sluice::kafka::deserializer<T> for other types");
}

// -- strategies (Spark's LocationStrategies, ConsumerStrategies) -------------------

struct location_strategy {
  enum class kind { prefer_consistent } what = kind::prefer_consistent;
};

/// Spreads the Kafka partitions over the operator actors (at local[N]
/// every partition is read in the one process).
inline location_strategy prefer_consistent() { return {}; }

struct consumer_strategy {
  enum class kind { subscribe, subscribe_pattern, assign } what = kind::subscribe;
  std::vector<std::string> topics;          ///< subscribe
  std::string pattern;                      ///< subscribe_pattern: an ECMAScript regex
  std::vector<topic_partition> partitions;  ///< assign
  kafka::params params;
  /// Where to start: these offsets, else the group's committed offset, else
  /// `auto.offset.reset` (latest by default, as Kafka).
  std::map<topic_partition, int64_t> from_offsets;
};

/// Every partition of `topics`, including partitions added later.
consumer_strategy subscribe(std::vector<std::string> topics, kafka::params p,
                            std::map<topic_partition, int64_t> from_offsets = {});
/// Every partition of every topic whose whole name matches `regex`
/// (re-evaluated at every batch: new topics join).
consumer_strategy subscribe_pattern(const std::string& regex, kafka::params p,
                                    std::map<topic_partition, int64_t> from_offsets = {});
/// Exactly these partitions.
consumer_strategy assign(std::vector<topic_partition> partitions, kafka::params p,
                         std::map<topic_partition, int64_t> from_offsets = {});

// -- engine parts ----------------------------------------------------------------

namespace detail {

/// One record as fetched, borrowed for the duration of a callback.
struct raw_record {
  int64_t offset = 0;
  int64_t timestamp = -1;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
};

/// What the reading step needs: the executor-side client settings.
struct reader_config;

/// Reads the records of `r` in offset order through a cached consumer, calling
/// `each` for each. Throws sluice::error naming topic/partition/offset when
/// a record cannot be read (offset out of range, timeout, broker errors).
void read_range(const reader_config& cfg, const offset_range& r,
                const std::function<void(const raw_record&)>& each);

/// Adds the range source to the context; returns its stream and the reader
/// settings. Throws invalid_argument for bad strategies or params.
std::pair<dstream<offset_range>, std::shared_ptr<const reader_config>>
add_direct_source(streaming_context& ssc, const location_strategy& loc,
                  const consumer_strategy& cs);

/// offset_ranges' look-up: `first_offsets[i]` is the (topic, partition,
/// offset) of the first record of batch partition i, nullopt when it is empty.
std::vector<offset_range>
ranges_of_batch(const std::vector<std::optional<std::pair<topic_partition, int64_t>>>& first);

[[noreturn]] void deserialize_failed(const char* what, const offset_range& r, int64_t offset,
                                     const std::string& why);

template <class K, class V>
class read_link final : public sluice::detail::emitter<offset_range> {
 public:
  read_link(std::shared_ptr<const reader_config> cfg, deserializer<K> kd, deserializer<V> vd,
            sluice::detail::emitter_base* down)
      : cfg_(std::move(cfg)), kd_(std::move(kd)), vd_(std::move(vd)),
        down_(static_cast<sluice::detail::emitter<consumer_record<K, V>>*>(down)) {}
  void open(int32_t p) override { down_->open(p); }
  void push(offset_range&& r) override {
    down_->expect(static_cast<size_t>(std::max<int64_t>(r.count(), 0)));
    read_range(*cfg_, r, [&](const raw_record& m) {
      consumer_record<K, V> rec;
      rec.topic = r.topic;
      rec.partition = r.partition;
      rec.offset = m.offset;
      rec.timestamp = m.timestamp;
      try {
        rec.key = kd_(m.key);
      } catch (const std::exception& e) {
        deserialize_failed("key", r, m.offset, e.what());
      }
      try {
        rec.value = vd_(m.value);
      } catch (const std::exception& e) {
        deserialize_failed("value", r, m.offset, e.what());
      }
      down_->push(std::move(rec));
    });
  }
  void close() override { down_->close(); }

 private:
  std::shared_ptr<const reader_config> cfg_;
  deserializer<K> kd_;
  deserializer<V> vd_;
  sluice::detail::emitter<consumer_record<K, V>>* down_;
};

/// The narrow step that reads each batch partition's offset range.
template <class K, class V>
class read_node final : public sluice::detail::node<consumer_record<K, V>> {
 public:
  read_node(sluice::detail::node_base* parent, std::shared_ptr<const reader_config> cfg,
            deserializer<K> kd, deserializer<V> vd)
      : sluice::detail::node<consumer_record<K, V>>(sluice::detail::node_kind::narrow,
                                                    "kafka_read", parent->slide(), {parent}),
        cfg_(std::move(cfg)), kd_(std::move(kd)), vd_(std::move(vd)) {}

  std::unique_ptr<sluice::detail::emitter_base>
  wrap(sluice::detail::emitter_base* down) const override {
    return std::make_unique<read_link<K, V>>(cfg_, kd_, vd_, down);
  }

 private:
  std::shared_ptr<const reader_config> cfg_;
  deserializer<K> kd_;
  deserializer<V> vd_;
};

} // namespace detail

// -- the API ----------------------------------------------------------------------

/// Spark's KafkaUtils.createDirectStream. Throws invalid_argument when
/// `bootstrap.servers` is missing or a strategy is malformed; unreachable
/// brokers, unknown topics and bad offsets fail start() or the batch with
/// an error naming the topic, partition and offset.
template <class K, class V>
dstream<consumer_record<K, V>>
create_direct_stream(streaming_context& ssc, const location_strategy& loc,
                     const consumer_strategy& cs,
                     deserializer<K> key_deserializer = default_deserializer<K>(),
                     deserializer<V> value_deserializer = default_deserializer<V>()) {
  auto [ranges, cfg] = detail::add_direct_source(ssc, loc, cs);
  return sluice::detail::dstream_access::add<consumer_record<K, V>>(
    ranges, std::make_unique<detail::read_node<K, V>>(sluice::detail::dstream_access::node(ranges),
                                                      std::move(cfg), std::move(key_deserializer),
                                                      std::move(value_deserializer)));
}

/// Spark's HasOffsetRanges: the ranges of a batch of a direct stream, one per
/// batch partition, in partition order. Call it on the rdd that foreach_rdd
/// (or transform) gives for the stream create_direct_stream returned, before
/// any transformation; otherwise it throws illegal_state.
template <class K, class V>
std::vector<offset_range> offset_ranges(const rdd<consumer_record<K, V>>& batch) {
  std::vector<std::optional<std::pair<topic_partition, int64_t>>> first;
  for (auto& p : batch.partitions())
    if (p.empty())
      first.emplace_back();
    else
      first.emplace_back(std::pair{topic_partition{p.front().topic, p.front().partition},
                                   p.front().offset});
  return detail::ranges_of_batch(first);
}

/// Called once per commit_async with the offsets stored (topic-partition ->
/// next offset to read) and, on failure, the error (empty on success). Runs
/// on the committing thread.
using commit_callback = std::function<void(const std::map<topic_partition, int64_t>& offsets,
                                           const std::string& error)>;

/// Spark's CanCommitOffsets.commitAsync: stores each range's until_offset as
/// the committed offset of the stream's `group.id`, in the background (the
/// stream whose batches hold these ranges commits them). Throws
/// illegal_state when no running direct stream holds the ranges.
void commit_async(const std::vector<offset_range>& ranges, commit_callback callback = {});

// -- the sink ---------------------------------------------------------------------

/// One record for save_to_kafka: partition -1 lets the producer choose (by key).
struct producer_record {
  std::optional<std::string> key;
  std::string value;
  int32_t partition = -1;
};

namespace detail {
class sink;
std::shared_ptr<sink> make_sink(const std::string& topic, const kafka::params& p);
void sink_write(sink& s, batch_time t, const std::vector<producer_record>& records);
} // namespace detail

/// `stream.save_to_kafka(topic, params, to_record)` (the dstream member), or
/// this free function. An output operation: each batch's records, made by
/// `to_record(const T&) -> producer_record`, are written to `topic` with the
/// idempotent producer (enable.idempotence=true unless params say
/// otherwise); the batch fails with an error naming the topic if any is not
/// delivered. With `transactional.id` in params, each batch is one Kafka
/// transaction that also writes the batch time to the topic
/// "<topic>.sluice-commits"; a batch at or before the last committed one (a
/// re-run after a crash) is not written again.
template <class T, class F>
void save_to_kafka(const dstream<T>& stream, const std::string& topic, const kafka::params& p,
                   F to_record) {
  auto s = detail::make_sink(topic, p);
  sluice::detail::dstream_access::output(
    stream, "save_to_kafka", [s, f = std::move(to_record)](const rdd<T>& r, batch_time t) mutable {
      std::vector<producer_record> out;
      out.reserve(static_cast<size_t>(r.count()));
      for (auto& part : r.partitions())
        for (auto& x : part)
          out.push_back(f(x));
      detail::sink_write(*s, t, out);
    });
}

} // namespace sluice::kafka

namespace sluice::detail {

template <class T>
struct kafka_ops<T, kafka::producer_record> {
  template <class F>
  static void save(const dstream<T>& s, const std::string& topic, const kafka::params& p, F f) {
    kafka::save_to_kafka(s, topic, p, std::move(f));
  }
};

} // namespace sluice::detail
