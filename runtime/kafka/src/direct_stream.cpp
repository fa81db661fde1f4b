// create_direct_stream's non-template part, the strategies, offset_ranges'
// and commit_async's look-up of the running streams.
#include <algorithm>
#include <regex>
#include <set>

#include "context_access.hpp"
#include "direct_source.hpp"
#include "sluice/rate_estimator_factory.hpp"
#include "streams.hpp"

namespace sluice::kafka {

consumer_strategy subscribe(std::vector<std::string> topics, kafka::params p,
                            std::map<topic_partition, int64_t> from_offsets) {
  consumer_strategy cs;
  cs.what = consumer_strategy::kind::subscribe;
  cs.topics = std::move(topics);
  cs.params = std::move(p);
  cs.from_offsets = std::move(from_offsets);
  return cs;
}

consumer_strategy subscribe_pattern(const std::string& regex, kafka::params p,
                                    std::map<topic_partition, int64_t> from_offsets) {
  consumer_strategy cs;
  cs.what = consumer_strategy::kind::subscribe_pattern;
  cs.pattern = regex;
  cs.params = std::move(p);
  cs.from_offsets = std::move(from_offsets);
  return cs;
}

consumer_strategy assign(std::vector<topic_partition> partitions, kafka::params p,
                         std::map<topic_partition, int64_t> from_offsets) {
  consumer_strategy cs;
  cs.what = consumer_strategy::kind::assign;
  cs.partitions = std::move(partitions);
  cs.params = std::move(p);
  cs.from_offsets = std::move(from_offsets);
  return cs;
}

namespace detail {

namespace {

std::mutex registry_mtx;
std::vector<direct_source*> registry;

int64_t conf_int(const streaming_context& ssc, const std::string& key, int64_t fallback) {
  auto v = ssc.config().get(key);
  return v ? std::stoll(*v) : fallback; // validated by the conf table
}

int64_t param_int(kafka::params& p, const std::string& key, int64_t fallback) {
  auto i = p.find(key);
  if (i == p.end())
    return fallback;
  int64_t v = 0;
  try {
    size_t used = 0;
    v = std::stoll(i->second, &used);
    if (used != i->second.size() || v < 1)
      throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw invalid_argument("kafka: parameter '" + key + "' must be a positive number of "
                           "milliseconds, got '" + i->second + "'");
  }
  p.erase(i);
  return v;
}

} // namespace

void register_source(direct_source* s) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  registry.push_back(s);
}

void unregister_source(direct_source* s) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  registry.erase(std::remove(registry.begin(), registry.end(), s), registry.end());
}

std::pair<dstream<offset_range>, std::shared_ptr<const reader_config>>
add_direct_source(streaming_context& ssc, const location_strategy&, const consumer_strategy& cs) {
  auto cfg = std::make_shared<reader_config>();
  cfg->client = cs.params;
  // Java-only keys of Spark programs; librdkafka would reject them.
  cfg->client.erase("key.deserializer");
  cfg->client.erase("value.deserializer");
  cfg->api_timeout_ms = param_int(cfg->client, "default.api.timeout.ms", 60000);
  auto bs = cfg->client.find("bootstrap.servers");
  if (bs == cfg->client.end() || bs->second.empty())
    throw invalid_argument("create_direct_stream: the params need 'bootstrap.servers' "
                           "(e.g. 127.0.0.1:9092)");
  cfg->bootstrap = bs->second;
  auto g = cfg->client.find("group.id");
  if (g == cfg->client.end() || g->second.empty())
    throw invalid_argument("create_direct_stream: the params need 'group.id' (the consumer "
                           "group whose offsets commit_async stores)");
  cfg->group = g->second;
  switch (cs.what) {
    case consumer_strategy::kind::subscribe:
      if (cs.topics.empty())
        throw invalid_argument("subscribe: expected at least one topic, got none");
      break;
    case consumer_strategy::kind::subscribe_pattern:
      try {
        std::regex check{cs.pattern, std::regex::ECMAScript};
      } catch (const std::regex_error& e) {
        throw invalid_argument("subscribe_pattern: '" + cs.pattern
                               + "' is not a regular expression: " + e.what());
      }
      break;
    case consumer_strategy::kind::assign:
      if (cs.partitions.empty())
        throw invalid_argument("assign: expected at least one topic-partition, got none");
      break;
  }
  auto reset = cfg->client.find("auto.offset.reset");
  if (reset != cfg->client.end() && reset->second == "none")
    cfg->client.erase(reset), cfg->client["auto.offset.reset"] = "error"; // librdkafka's name
  cfg->poll_timeout_ms = conf_int(ssc, "sluice.streaming.kafka.consumer.poll.ms", 120000);
  for (auto& [k, v] : cfg->client)
    cfg->cache_key += k + '=' + v + '\x1f';
  auto src = std::make_unique<direct_source>(
    ssc.batch_interval(), cs, cfg, conf_int(ssc, "sluice.streaming.kafka.maxRatePerPartition", 0),
    conf_int(ssc, "sluice.streaming.kafka.minRatePerPartition", 1),
    static_cast<int>(conf_int(ssc, "sluice.streaming.kafka.maxRetries", 1)));
  if (ssc.config().get_bool("sluice.streaming.backpressure.enabled", false))
    src->backpressure(make_rate_estimator(ssc.config(), ssc.batch_interval()),
                      static_cast<double>(
                        std::max<int64_t>(conf_int(ssc, "sluice.streaming.backpressure.initialRate", 0), 0)));
  auto stream = sluice::detail::context_access::add_source(ssc, std::move(src));
  return {stream, cfg};
}

std::vector<offset_range>
ranges_of_batch(const std::vector<std::optional<std::pair<topic_partition, int64_t>>>& first) {
  std::lock_guard<std::mutex> guard{registry_mtx};
  for (auto* s : registry)
    if (auto r = s->match(first))
      return *r;
  throw illegal_state("offset_ranges: the rdd is not a running batch of a Kafka direct stream "
                      "(call it on the rdd of the stream create_direct_stream returned, inside "
                      "foreach_rdd or transform, before any other transformation)");
}

[[noreturn]] void deserialize_failed(const char* what, const offset_range& r, int64_t offset,
                                     const std::string& why) {
  throw error(std::string("kafka: cannot deserialize the ") + what + " of the record at "
              + name_of(r.topic, r.partition) + " offset " + std::to_string(offset) + ": " + why);
}

} // namespace detail

void commit_async(const std::vector<offset_range>& ranges, commit_callback callback) {
  std::lock_guard<std::mutex> guard{detail::registry_mtx};
  for (auto* s : detail::registry)
    if (s->holds(ranges)) {
      s->enqueue_commit(ranges, std::move(callback));
      return;
    }
  std::string names;
  for (auto& r : ranges)
    names += (names.empty() ? "" : ", ") + detail::name_of(r.topic, r.partition);
  throw illegal_state("commit_async: no running Kafka direct stream reads " + names);
}

} // namespace sluice::kafka
