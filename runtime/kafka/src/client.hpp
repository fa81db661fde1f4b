// librdkafka helpers shared by the driver side (direct_source) and the
// reading side (reader): handles that destroy themselves, settings, errors.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <librdkafka/rdkafka.h>

#include "sluice/kafka.hpp"

namespace sluice::kafka::detail {

struct rk_deleter {
  void operator()(rd_kafka_t* rk) const;
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;

struct tpl_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using tpl_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, tpl_deleter>;

/// What a stream was built with, shared by its source and its reading step.
struct reader_config {
  kafka::params client;       ///< the user's params, less the keys we consume
  std::string group;          ///< group.id
  std::string bootstrap;      ///< bootstrap.servers (for messages)
  std::string cache_key;      ///< identifies consumers that may be shared
  int64_t api_timeout_ms = 60000;  ///< default.api.timeout.ms: driver queries
  int64_t poll_timeout_ms = 120000; ///< sluice.streaming.kafka.consumer.poll.ms
};

/// Creates a consumer with `cfg.client` plus `overrides` (overrides win).
/// Throws invalid_argument naming a key librdkafka rejects.
rk_ptr make_consumer(const kafka::params& client, const kafka::params& overrides);

/// "topic 't' partition p".
std::string name_of(const std::string& topic, int32_t partition);

/// Drops the cached consumers of streams with this cache key (the stream
/// stopped). Consumers being used stay with their user.
void drop_cached_consumers(const std::string& cache_key);

} // namespace sluice::kafka::detail
