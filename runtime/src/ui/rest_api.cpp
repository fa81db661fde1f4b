#include "ui/rest_api.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include <nlohmann/json.hpp>

#include "ui/rest_live.hpp"

namespace sluice::detail::ui {

namespace {

using json = nlohmann::ordered_json;

api_response not_found(const std::string& message) { return {404, error_body(404, message)}; }

std::optional<int64_t> to_id(const std::string& s) {
  // Spark's routes accept only digits ("{batchId: \\d+}").
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos)
      j = path.size();
    if (j > i)
      out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

const char* status_name(batch_status s) {
  switch (s) {
    case batch_status::queued: return "QUEUED";
    case batch_status::processing: return "PROCESSING";
    case batch_status::completed: return "COMPLETED";
  }
  return "?";
}

/// Spark leaves out an Option that is None.
template <class T>
void put(json& j, const char* key, const std::optional<T>& v) {
  if (v)
    j[key] = *v;
}

json application(const app_info& app) {
  // A live application, as Spark's live UI reports it: not completed, its
  // end time -1.
  json attempt;
  attempt["startTime"] = spark_date(app.start_ms);
  attempt["endTime"] = spark_date(-1);
  attempt["lastUpdated"] = spark_date(app.start_ms);
  attempt["duration"] = 0;
  attempt["sparkUser"] = app.user;
  attempt["completed"] = false;
  attempt["appSparkVersion"] = SLUICE_VERSION;
  attempt["startTimeEpoch"] = app.start_ms;
  attempt["endTimeEpoch"] = -1;
  attempt["lastUpdatedEpoch"] = app.start_ms;
  json j;
  j["id"] = app.id;
  j["name"] = app.name;
  j["attempts"] = json::array({attempt});
  return j;
}

json statistics_json(const statistics_snapshot& s) {
  // As Spark's StreamingStatisticsResource: averages over the retained
  // batches, whole milliseconds, left out when there is nothing to average.
  // The input rate averages completed batches only: a batch's input count is
  // known when it completes.
  int64_t active_receivers = 0;
  for (auto& r : s.receivers)
    active_receivers += r.info.active ? 1 : 0;
  std::vector<int64_t> sched, proc, total;
  double rate_sum = 0;
  for (auto* batches : {&s.active, &s.completed})
    for (auto& b : *batches) {
      if (auto d = b.scheduling_delay_ms())
        sched.push_back(*d);
      if (auto d = b.processing_time_ms())
        proc.push_back(*d);
      if (auto d = b.total_delay_ms())
        total.push_back(*d);
    }
  for (auto& b : s.completed)
    rate_sum += static_cast<double>(b.num_records) * 1000.0 / static_cast<double>(s.batch_ms);
  auto avg = [](const std::vector<int64_t>& v) -> std::optional<int64_t> {
    if (v.empty())
      return std::nullopt;
    int64_t sum = 0;
    for (auto x : v)
      sum += x;
    return sum / static_cast<int64_t>(v.size());
  };
  json j;
  j["startTime"] = spark_date(s.start_us ? *s.start_us / 1000 : 0);
  j["batchDuration"] = s.batch_ms;
  j["numReceivers"] = s.receivers.size();
  j["numActiveReceivers"] = active_receivers;
  j["numInactiveReceivers"] = static_cast<int64_t>(s.receivers.size()) - active_receivers;
  j["numTotalCompletedBatches"] = s.total_completed;
  j["numRetainedCompletedBatches"] = s.completed.size();
  j["numActiveBatches"] = s.active.size();
  j["numProcessedRecords"] = s.total_records;
  j["numReceivedRecords"] = s.total_records;
  if (!s.completed.empty())
    j["avgInputRate"] = rate_sum / static_cast<double>(s.completed.size());
  put(j, "avgSchedulingDelay", avg(sched));
  put(j, "avgProcessingTime", avg(proc));
  put(j, "avgTotalDelay", avg(total));
  return j;
}

json receiver_json(const receiver_record& r, const statistics_snapshot& s) {
  json j;
  j["streamId"] = r.info.stream_id;
  j["streamName"] = r.info.name;
  j["isActive"] = r.info.active;
  // Where the receiver runs: the driver's process, or in cluster mode the
  // worker named "host:pid" (the executors endpoint's id).
  const auto& where = r.info.location;
  j["executorId"] = where.empty() ? std::string{"driver"} : where;
  j["executorHost"] = where.empty() ? std::string{"localhost"} : where.substr(0, where.rfind(':'));
  if (!r.info.last_error.empty()) {
    j["lastErrorTime"] = spark_date(r.info.last_error_us / 1000);
    j["lastErrorMessage"] = r.info.last_error;
    j["lastError"] = r.info.last_error;
  }
  // As Spark's StreamingJobProgressListener: the stream's records per
  // second in each retained completed batch (0 where it gave none), and
  // their mean, left out when no batch completed.
  json rates = json::array();
  double sum = 0;
  for (auto& b : s.completed) {
    auto i = b.stream_records.find(r.info.stream_id);
    double rate = i == b.stream_records.end() ? 0.0
                                                : static_cast<double>(i->second) * 1000.0
                                                    / static_cast<double>(s.batch_ms);
    rates.push_back(json::array({b.time_ms, rate}));
    sum += rate;
  }
  if (!s.completed.empty())
    j["avgEventRate"] = sum / static_cast<double>(s.completed.size());
  j["eventRates"] = std::move(rates);
  // sluice's own fields.
  auto total = s.stream_records.find(r.info.stream_id);
  j["numRecords"] = total == s.stream_records.end() ? 0 : total->second;
  j["restarts"] = r.restarts;
  j["numErrors"] = r.errors;
  j["walBytes"] = wal_bytes(s, r.info.stream_id);
  return j;
}

json batch_json(const batch_record& b, int64_t batch_ms) {
  int active = 0, completed = 0, failed = 0;
  std::optional<std::string> first_failure;
  for (auto& [id, op] : b.ops) {
    if (op.failure_reason) {
      ++failed;
      if (!first_failure)
        first_failure = op.failure_reason;
    } else if (op.end_us) {
      ++completed;
    } else {
      ++active;
    }
  }
  json j;
  j["batchId"] = b.time_ms;
  j["batchTime"] = spark_date(b.time_ms);
  j["status"] = status_name(b.status);
  j["batchDuration"] = batch_ms;
  j["inputSize"] = b.num_records;
  put(j, "schedulingDelay", b.scheduling_delay_ms());
  put(j, "processingTime", b.processing_time_ms());
  put(j, "totalDelay", b.total_delay_ms());
  j["numActiveOutputOps"] = active;
  j["numCompletedOutputOps"] = completed;
  j["numFailedOutputOps"] = failed;
  j["numTotalOutputOps"] = b.ops.size();
  put(j, "firstFailureReason", first_failure);
  return j;
}

json operation_json(const output_op_record& op) {
  json j;
  j["outputOpId"] = op.id;
  j["name"] = op.name;
  j["description"] = op.name;
  if (op.start_us)
    j["startTime"] = spark_date(*op.start_us / 1000);
  if (op.end_us)
    j["endTime"] = spark_date(*op.end_us / 1000);
  if (op.start_us && op.end_us)
    j["duration"] = (*op.end_us - *op.start_us) / 1000;
  put(j, "failureReason", op.failure_reason);
  j["jobIds"] = json::array();  // sluice runs no Spark jobs
  return j;
}

const batch_record* find_batch(const statistics_snapshot& s, int64_t id) {
  for (auto* batches : {&s.active, &s.completed})
    for (auto& b : *batches)
      if (b.time_ms == id)
        return &b;
  return nullptr;
}

api_response ok(const json& j) { return {200, j.dump()}; }

api_response batches(const statistics_snapshot& s, const std::vector<std::string>& params) {
  std::vector<batch_status> wanted;
  for (auto p : params) {
    std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::toupper(c); });
    if (p == "COMPLETED")
      wanted.push_back(batch_status::completed);
    else if (p == "PROCESSING")
      wanted.push_back(batch_status::processing);
    else if (p == "QUEUED")
      wanted.push_back(batch_status::queued);
    else
      return {400, error_body(400, "invalid value '" + p
                                     + "' for the query parameter status: expected COMPLETED, "
                                       "PROCESSING or QUEUED")};
  }
  std::vector<const batch_record*> out;
  for (auto* batches : {&s.active, &s.completed})
    for (auto& b : *batches)
      if (wanted.empty() || std::find(wanted.begin(), wanted.end(), b.status) != wanted.end())
        out.push_back(&b);
  // Newest first, as Spark's AllBatchesResource.
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->time_ms > b->time_ms; });
  json j = json::array();
  for (auto* b : out)
    j.push_back(batch_json(*b, s.batch_ms));
  return ok(j);
}

api_response streaming(const statistics_snapshot& s, const std::vector<std::string>& p,
                       const std::vector<std::string>& status_params) {
  // p: the segments after /api/v1/applications/{app-id}/streaming
  if (p.size() == 1 && p[0] == "statistics")
    return ok(statistics_json(s));
  if (p.size() == 1 && p[0] == "operators")
    return {200, operators_body(s)};
  if (p.size() == 1 && p[0] == "actors")
    return {200, actors_body(s)};
  if (p[0] == "receivers") {
    if (p.size() == 1) {
      json j = json::array();
      for (auto& r : s.receivers)
        j.push_back(receiver_json(r, s));
      return ok(j);
    }
    if (p.size() == 2) {
      auto id = to_id(p[1]);
      if (!id)
        return not_found("unknown receiver: " + p[1]);
      for (auto& r : s.receivers)
        if (r.info.stream_id == *id)
          return ok(receiver_json(r, s));
      return not_found("unknown receiver: " + p[1]);
    }
  }
  if (p[0] == "batches") {
    if (p.size() == 1)
      return batches(s, status_params);
    auto id = to_id(p[1]);
    const batch_record* b = id ? find_batch(s, *id) : nullptr;
    if (p.size() > 4 || (p.size() >= 3 && p[2] != "operations"))
      return not_found("unknown path");
    if (!b)
      return not_found("unknown batch: " + p[1]);
    if (p.size() == 2)
      return ok(batch_json(*b, s.batch_ms));
    if (p.size() == 3) {
      json j = json::array();
      for (auto& [oid, op] : b->ops)
        j.push_back(operation_json(op));
      return ok(j);
    }
    auto op_id = to_id(p[3]);
    if (op_id && *op_id <= INT32_MAX)
      if (auto i = b->ops.find(static_cast<int>(*op_id)); i != b->ops.end())
        return ok(operation_json(i->second));
    return not_found("unknown output operation: " + p[3]);
  }
  return not_found("unknown path");
}

/// Spark's /applications/{app-id}/executors (ExecutorSummary's fields that
/// sluice knows): the driver, then every worker of cluster mode, removed
/// ones included as Spark's allexecutors lists them.
json executors(const statistics_snapshot& s, const app_info& app) {
  json j = json::array();
  json driver;
  driver["id"] = "driver";
  driver["hostPort"] = "localhost";
  driver["isActive"] = true;
  driver["addTime"] = spark_date(app.start_ms);
  j.push_back(std::move(driver));
  for (auto& w : s.workers) {
    json e;
    e["id"] = w.name;
    e["hostPort"] = w.name;
    e["isActive"] = !w.removed_us.has_value();
    e["totalCores"] = w.cores;
    e["addTime"] = spark_date(w.added_us / 1000);
    if (w.removed_us) {
      e["removeTime"] = spark_date(*w.removed_us / 1000);
      e["removeReason"] = w.removed_reason;
    }
    j.push_back(std::move(e));
  }
  return j;
}

} // namespace

std::string error_body(int status, const std::string& message) {
  return json{{"status", status}, {"message", message}}.dump();
}

std::string spark_date(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int64_t millis = ms - secs * 1000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dGMT", buf, static_cast<int>(millis));
  return out;
}

api_response rest_api(const statistics_snapshot& s, const app_info& app, const std::string& path,
                      const std::vector<std::string>& status_params) {
  auto p = split(path);
  if (p.size() < 3 || p[0] != "api" || p[1] != "v1" || p[2] != "applications")
    return not_found("unknown path: " + path);
  if (p.size() == 3)
    return ok(json::array({application(app)}));
  if (p[3] != app.id)
    return not_found("unknown app: " + p[3]);
  if (p.size() == 4)
    return ok(application(app));
  if (p[4] == "executors" && p.size() == 5)
    return ok(executors(s, app));
  if (p[4] != "streaming" || p.size() == 5)
    return not_found("unknown path: " + path);
  auto r = streaming(s, std::vector<std::string>(p.begin() + 5, p.end()), status_params);
  if (r.status == 404 && r.body == error_body(404, "unknown path"))
    return not_found("unknown path: " + path);
  return r;
}

} // namespace sluice::detail::ui
