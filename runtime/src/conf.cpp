#include "sluice/conf.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <functional>
#include <thread>

#include "cluster_spec.hpp"
#include "sluice/error.hpp"
#include "sluice/fault_spec.hpp"

namespace sluice {

namespace {

[[noreturn]] void bad_value(const std::string& key, const std::string& value,
                            const std::string& expected) {
  throw invalid_argument("invalid value '" + value + "' for " + key + ": expected "
                         + expected);
}

std::optional<int64_t> to_int(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
    return std::nullopt;
  return v;
}

std::optional<double> to_double(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  try {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    if (pos != s.size())
      return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<bool> to_bool(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true")
    return true;
  if (s == "false")
    return false;
  return std::nullopt;
}

using checker = std::function<void(const std::string& key, const std::string& value)>;

checker positive_duration() {
  return [](const std::string& k, const std::string& v) {
    if (parse_duration(v, k).count() <= 0)
      bad_value(k, v, "a positive duration such as 200ms, 2s or 1min");
  };
}

checker int_at_least(int64_t lo) {
  return [lo](const std::string& k, const std::string& v) {
    auto x = to_int(v);
    if (!x || *x < lo)
      bad_value(k, v, "an integer >= " + std::to_string(lo));
  };
}

checker double_at_least(double lo, bool strict) {
  return [=](const std::string& k, const std::string& v) {
    auto x = to_double(v);
    if (!x || (strict ? *x <= lo : *x < lo))
      bad_value(k, v, std::string("a number ") + (strict ? "> " : ">= ") + std::to_string(lo));
  };
}

checker boolean() {
  return [](const std::string& k, const std::string& v) {
    if (!to_bool(v))
      bad_value(k, v, "true or false");
  };
}

checker one_of(std::vector<std::string> options) {
  return [options](const std::string& k, const std::string& v) {
    if (std::find(options.begin(), options.end(), v) == options.end()) {
      std::string all;
      for (auto& o : options)
        all += (all.empty() ? "" : " or ") + o;
      bad_value(k, v, all);
    }
  };
}

const std::map<std::string, checker>& known_keys() {
  static const std::map<std::string, checker> keys{
    {"sluice.master", [](const std::string&, const std::string& v) { parse_master(v); }},
    {"sluice.master.override", [](const std::string&, const std::string& v) { parse_master(v); }},
    {"sluice.default.parallelism", int_at_least(1)},
    {"sluice.cluster.workers", int_at_least(1)},
    {"sluice.cluster.secret", [](const std::string&, const std::string&) {}},
    {"sluice.cluster.heartbeatInterval", positive_duration()},
    {"sluice.cluster.workerTimeout", positive_duration()},
    {"sluice.cluster.startTimeout", positive_duration()},
    {"sluice.cluster.tls.certificate", [](const std::string&, const std::string&) {}},
    {"sluice.cluster.tls.key", [](const std::string&, const std::string&) {}},
    {"sluice.cluster.tls.cafile", [](const std::string&, const std::string&) {}},
    {"sluice.streaming.blockInterval", positive_duration()},
    {"sluice.streaming.blockQueueSize", int_at_least(1)},
    {"sluice.streaming.receiver.maxRate", int_at_least(LLONG_MIN)},
    {"sluice.streaming.receiverRestartDelay", positive_duration()},
    {"sluice.streaming.receiver.maxRestartDelay", positive_duration()},
    {"sluice.streaming.receiver.maxRestarts", int_at_least(0)},
    {"sluice.streaming.receiver.maxBufferedBlocks", int_at_least(1)},
    {"sluice.streaming.receiver.maxBufferedRecords", int_at_least(1)},
    {"sluice.streaming.receiver.restartWindow", positive_duration()},
    {"sluice.streaming.receiver.stopContextAfterMaxRestarts", boolean()},
    {"sluice.streaming.backpressure.enabled", boolean()},
    {"sluice.streaming.backpressure.initialRate", int_at_least(LLONG_MIN)},
    {"sluice.streaming.backpressure.rateEstimator", one_of({"pid"})},
    {"sluice.streaming.backpressure.pid.proportional", double_at_least(0, false)},
    {"sluice.streaming.backpressure.pid.integral", double_at_least(0, false)},
    {"sluice.streaming.backpressure.pid.derived", double_at_least(0, false)},
    {"sluice.streaming.backpressure.pid.minRate", double_at_least(0, true)},
    {"sluice.streaming.receiver.writeAheadLog.enable", boolean()},
    {"sluice.streaming.socket.acknowledge", boolean()},
    {"sluice.streaming.socket.maxLineBytes", int_at_least(1)},
    {"sluice.streaming.stopGracefullyOnShutdown", boolean()},
    {"sluice.streaming.gracefulStopTimeout", positive_duration()},
    {"sluice.streaming.checkpoint.retained", int_at_least(1)},
    {"sluice.streaming.checkpoint.pageSize", [](const std::string& k, const std::string& v) {
       auto x = to_int(v);
       if (!x || *x < 512 || *x > 65536 || (*x & (*x - 1)) != 0)
         bad_value(k, v, "a power of two from 512 to 65536");
     }},
    {"sluice.streaming.checkpoint.startFreshIfCorrupt", boolean()},
    {"sluice.streaming.concurrentJobs", int_at_least(1)},
    {"sluice.streaming.kafka.maxRatePerPartition", int_at_least(0)},
    {"sluice.streaming.kafka.minRatePerPartition", int_at_least(1)},
    {"sluice.streaming.kafka.maxRetries", int_at_least(0)},
    {"sluice.streaming.kafka.consumer.poll.ms", int_at_least(1)},
    {"sluice.streaming.clock", one_of({"system", "manual", "simulated"})},
    {"sluice.scheduler.policy", one_of({"sharing", "stealing"})},
    {"sluice.cluster.workerSchedulerPolicy", one_of({"sharing", "stealing"})},
    {"sluice.streaming.operatorChaining", boolean()},
    {"sluice.serializer.local", boolean()},
    {"sluice.ui.enabled", boolean()},
    {"sluice.ui.port", [](const std::string& k, const std::string& v) {
       auto x = to_int(v);
       if (!x || *x < 0 || *x > 65535)
         bad_value(k, v, "a port number from 0 to 65535");
     }},
    {"sluice.ui.host", [](const std::string& k, const std::string& v) {
       if (v.empty())
         bad_value(k, v, "a host name or address to bind, such as 127.0.0.1 or 0.0.0.0");
     }},
    {"sluice.ui.token", [](const std::string& k, const std::string& v) {
       if (v.empty()) // an empty token would be no protection
         bad_value(k, v, "a non-empty token");
     }},
    {"sluice.port.maxRetries", int_at_least(0)},
    {"sluice.streaming.ui.retainedBatches", int_at_least(0)},
  };
  return keys;
}

} // namespace

void check_fault_key(const std::string& key, const std::string& value);

duration parse_duration(const std::string& text, const std::string& what) {
  auto bad = [&]() -> duration {
    throw invalid_argument("invalid duration '" + text + "' for " + what
                           + ": expected a number with a unit: ms, s, min or h (e.g. 200ms, 2s, 1min)");
  };
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
    ++i;
  if (i == 0)
    bad();
  auto n = to_int(text.substr(0, i));
  if (!n)
    bad();
  auto unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ')
    unit.erase(0, 1);
  if (unit.empty() || unit == "ms")
    return duration{*n};
  if (unit == "s")
    return duration{*n * 1000};
  if (unit == "min" || unit == "m")
    return duration{*n * 60'000};
  if (unit == "h")
    return duration{*n * 3'600'000};
  return bad();
}

int parse_master(const std::string& m) {
  if (m == "local")
    return 1;
  if (m.rfind("local[", 0) == 0 && m.size() > 7 && m.back() == ']') {
    auto inner = m.substr(6, m.size() - 7);
    if (inner == "*")
      return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto n = to_int(inner);
    if (n && *n >= 1 && *n <= 1024)
      return static_cast<int>(*n);
  }
  if (m.rfind("local[", 0) == 0)
    detail::bad_master(m);
  auto spec = detail::parse_cluster(m);
  // Spark's default parallelism on a cluster: the workers' cores in all (at
  // least 2). A sluice:// driver cannot know them before its workers join.
  if (spec.what == detail::cluster_spec::mode::local_cluster)
    return spec.workers * spec.cores;
  return 2;
}

conf& conf::app_name(std::string name) { return set("sluice.app.name", std::move(name)); }

conf& conf::master(std::string m) { return set("sluice.master", std::move(m)); }

void check_fault_key(const std::string& key, const std::string& value) {
  if (key.rfind("sluice.fault.", 0) != 0)
    return;
  try {
    parse_fault_spec(key, value);
  } catch (const std::invalid_argument& e) {
    throw invalid_argument(e.what());
  }
}

conf& conf::set(std::string key, std::string value) {
  auto& keys = known_keys();
  if (auto i = keys.find(key); i != keys.end())
    i->second(key, value);
  check_fault_key(key, value);
  entries_[std::move(key)] = std::move(value);
  return *this;
}

std::optional<std::string> conf::get(const std::string& key) const {
  if (auto i = entries_.find(key); i != entries_.end())
    return i->second;
  return std::nullopt;
}

std::string conf::app_name() const { return get("sluice.app.name").value_or("sluice"); }

std::string conf::master() const {
  if (auto forced = get("sluice.master.override"))
    return *forced;
  return get("sluice.master").value_or("local[*]");
}

duration conf::get_duration(const std::string& key, duration fallback) const {
  auto v = get(key);
  return v ? parse_duration(*v, key) : fallback;
}

int64_t conf::get_int(const std::string& key, int64_t fallback) const {
  auto v = get(key);
  if (!v)
    return fallback;
  auto x = to_int(*v);
  if (!x)
    bad_value(key, *v, "an integer");
  return *x;
}

double conf::get_double(const std::string& key, double fallback) const {
  auto v = get(key);
  if (!v)
    return fallback;
  auto x = to_double(*v);
  if (!x)
    bad_value(key, *v, "a number");
  return *x;
}

bool conf::get_bool(const std::string& key, bool fallback) const {
  auto v = get(key);
  if (!v)
    return fallback;
  auto x = to_bool(*v);
  if (!x)
    bad_value(key, *v, "true or false");
  return *x;
}

int conf::parallelism() const {
  if (auto p = get("sluice.default.parallelism"))
    return static_cast<int>(get_int("sluice.default.parallelism", 1));
  return parse_master(master());
}

void conf::validate() const {
  auto& keys = known_keys();
  for (auto& [k, v] : entries_) {
    if (auto i = keys.find(k); i != keys.end())
      i->second(k, v);
    check_fault_key(k, v);
  }
}

} // namespace sluice
