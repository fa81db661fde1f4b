#include "ui/prometheus.hpp"

#include "ui/rest_live.hpp"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sluice::detail::ui {

namespace {

/// Escapes a label value: backslash, double quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

/// The shortest text that reads back as `v` ("0.005", not "0.0050000000000000001").
std::string num(double v) {
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

class writer {
 public:
  void head(const std::string& name, const char* type, const std::string& help) {
    os_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const std::string& name, const std::string& labels, double v) {
    os_ << name;
    if (!labels.empty())
      os_ << '{' << labels << '}';
    os_ << ' ' << num(v) << '\n';
  }
  void metric(const std::string& name, const char* type, const std::string& help, double v) {
    head(name, type, help);
    sample(name, "", v);
  }
  void histo(const std::string& name, const std::string& help, const histogram& h) {
    head(name, "histogram", help);
    series(name, "", h);
  }
  /// One labelled series of a histogram whose head was written.
  void series(const std::string& name, const std::string& labels, const histogram& h) {
    std::string prefix = labels.empty() ? "" : labels + ",";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < num_delay_buckets; ++i) {
      cumulative += h.counts[i];
      sample(name + "_bucket", prefix + "le=\"" + num(delay_buckets[i]) + "\"",
             static_cast<double>(cumulative));
    }
    sample(name + "_bucket", prefix + "le=\"+Inf\"", static_cast<double>(h.count));
    sample(name + "_sum", labels, h.sum);
    sample(name + "_count", labels, static_cast<double>(h.count));
  }
  std::string str() const { return os_.str(); }

 private:
  std::ostringstream os_;
};

/// The name of operator `op` in the graph, or "".
std::string operator_name(const statistics_snapshot& s, int op) {
  for (auto& st : s.graph.stages)
    if (st.stateful && st.stateful->id == op)
      return st.stateful->name;
  for (auto& g : s.graph.gathers)
    if (g.n.id == op)
      return g.n.name;
  return "";
}

/// State keys and checkpoints per stateful operator, and the actors' mailboxes.
void live_metrics(writer& w, const statistics_snapshot& s) {
  auto op_labels = [&](int op) {
    return "operator_id=\"" + std::to_string(op) + "\",operator=\"" + label(operator_name(s, op))
           + "\"";
  };
  if (s.actors_sampled_us) {
    bool any = false;
    for (auto& st : s.graph.stages)
      if (st.stateful) {
        if (!any)
          w.head("sluice_streaming_state_keys", "gauge",
                 "Keys held by a stateful operator over its partitions (sampled).");
        any = true;
        w.sample("sluice_streaming_state_keys", op_labels(st.stateful->id),
                 static_cast<double>(state_keys(s, st.stateful->id)));
      }
    w.head("sluice_actor_mailbox_messages", "gauge",
           "Messages waiting in an actor's mailbox when it was sampled.");
    for (auto& a : s.actors)
      w.sample("sluice_actor_mailbox_messages",
               "actor=\"" + label(a.id) + "\",kind=\"" + label(a.kind) + "\"",
               static_cast<double>(a.mailbox));
  }
  if (s.checkpoints.empty())
    return;
  auto labels = [&](int op) {
    return op < 0 ? std::string{"kind=\"metadata\",operator_id=\"\",operator=\"\""}
                  : "kind=\"state\"," + op_labels(op);
  };
  w.head("sluice_streaming_checkpoint_duration_seconds", "histogram",
         "How long storing a checkpoint in sluice.db took, its commit included.");
  for (auto& [op, c] : s.checkpoints)
    w.series("sluice_streaming_checkpoint_duration_seconds", labels(op), c.durations);
  w.head("sluice_streaming_checkpoint_bytes_total", "counter",
         "Key and value bytes of the state checkpoints stored (0 for metadata).");
  for (auto& [op, c] : s.checkpoints)
    w.sample("sluice_streaming_checkpoint_bytes_total", labels(op), static_cast<double>(c.bytes));
}

} // namespace

std::string prometheus_text(const statistics_snapshot& s, const app_info& app) {
  writer w;
  w.head("sluice_streaming_info", "gauge", "The application: its id and name.");
  w.sample("sluice_streaming_info",
           "app_id=\"" + label(app.id) + "\",app_name=\"" + label(app.name) + "\"", 1);
  w.metric("sluice_streaming_start_time_seconds", "gauge",
           "When streaming started, seconds since the Unix epoch (0 before).",
           s.start_us ? static_cast<double>(*s.start_us) / 1e6 : 0);
  w.metric("sluice_streaming_batch_duration_seconds", "gauge", "The batch interval.",
           static_cast<double>(s.batch_ms) / 1e3);
  w.metric("sluice_streaming_batches_completed_total", "counter", "Batches completed.",
           static_cast<double>(s.total_completed));
  int queued = 0, processing = 0;
  for (auto& b : s.active)
    (b.status == batch_status::queued ? queued : processing) += 1;
  w.head("sluice_streaming_batches_active", "gauge",
         "Batches generated and not completed, by status.");
  w.sample("sluice_streaming_batches_active", "status=\"queued\"", queued);
  w.sample("sluice_streaming_batches_active", "status=\"processing\"", processing);
  w.metric("sluice_streaming_records_processed_total", "counter",
           "Input records of the completed batches.", static_cast<double>(s.total_records));
  double last_time = 0, last_records = 0;
  if (!s.completed.empty()) {
    last_time = static_cast<double>(s.completed.back().time_ms) / 1e3;
    last_records = static_cast<double>(s.completed.back().num_records);
  }
  w.metric("sluice_streaming_last_completed_batch_time_seconds", "gauge",
           "The batch time of the newest completed batch (0 before any).", last_time);
  w.metric("sluice_streaming_last_completed_batch_records", "gauge",
           "Input records of the newest completed batch.", last_records);
  w.histo("sluice_streaming_scheduling_delay_seconds",
          "From a batch's submission to the start of its processing.", s.scheduling_delay);
  w.histo("sluice_streaming_processing_time_seconds",
          "From the start of a batch's processing to the end of its last output operation.",
          s.processing_time);
  w.histo("sluice_streaming_total_delay_seconds",
          "From a batch's submission to the end of its last output operation.", s.total_delay);
  w.head("sluice_streaming_output_operations_total", "counter",
         "Output operations ended, by outcome.");
  w.sample("sluice_streaming_output_operations_total", "outcome=\"succeeded\"",
           static_cast<double>(s.output_ops_completed));
  w.sample("sluice_streaming_output_operations_total", "outcome=\"failed\"",
           static_cast<double>(s.output_ops_failed));
  if (!s.receivers.empty()) {
    auto labels = [](const receiver_record& r) {
      return "stream_id=\"" + std::to_string(r.info.stream_id) + "\",stream_name=\""
             + label(r.info.name) + "\"";
    };
    w.head("sluice_streaming_receiver_active", "gauge", "1 while the receiver runs, else 0.");
    for (auto& r : s.receivers)
      w.sample("sluice_streaming_receiver_active", labels(r), r.info.active ? 1 : 0);
    w.head("sluice_streaming_receiver_restarts_total", "counter",
           "Times the receiver started again after its first start.");
    for (auto& r : s.receivers)
      w.sample("sluice_streaming_receiver_restarts_total", labels(r),
               static_cast<double>(r.restarts));
    w.head("sluice_streaming_receiver_errors_total", "counter",
           "Errors the receiver reported or its supervisor saw.");
    for (auto& r : s.receivers)
      w.sample("sluice_streaming_receiver_errors_total", labels(r),
               static_cast<double>(r.errors));
    w.head("sluice_streaming_receiver_records_total", "counter",
           "Records of the receiver's stream in the completed batches.");
    for (auto& r : s.receivers) {
      auto i = s.stream_records.find(r.info.stream_id);
      w.sample("sluice_streaming_receiver_records_total", labels(r),
               i == s.stream_records.end() ? 0.0 : static_cast<double>(i->second));
    }
    w.head("sluice_streaming_receiver_input_rate", "gauge",
           "Records per second the receiver's stream gave the newest completed batch "
           "(Spark's event rate; 0 before any).");
    for (auto& r : s.receivers) {
      double rate = 0;
      if (!s.completed.empty()) {
        auto& last = s.completed.back().stream_records;
        if (auto i = last.find(r.info.stream_id); i != last.end())
          rate = static_cast<double>(i->second) * 1000.0 / static_cast<double>(s.batch_ms);
      }
      w.sample("sluice_streaming_receiver_input_rate", labels(r), rate);
    }
    w.head("sluice_streaming_receiver_wal_bytes_total", "counter",
           "Record bytes the receiver wrote to the write-ahead log (sampled).");
    for (auto& r : s.receivers)
      w.sample("sluice_streaming_receiver_wal_bytes_total", labels(r),
               static_cast<double>(wal_bytes(s, r.info.stream_id)));
  }
  live_metrics(w, s);
  if (!s.workers.empty()) {  // cluster mode
    int active = 0;
    for (auto& wk : s.workers)
      active += wk.removed_us ? 0 : 1;
    w.head("sluice_cluster_workers", "gauge", "Worker processes, by state.");
    w.sample("sluice_cluster_workers", "state=\"active\"", active);
    w.sample("sluice_cluster_workers", "state=\"removed\"",
             static_cast<double>(s.workers.size()) - active);
    w.metric("sluice_cluster_replacements_total", "counter",
             "Times the operators were placed again after a worker was lost or joined.",
             static_cast<double>(s.replacements));
  }
  return w.str();
}

} // namespace sluice::detail::ui
