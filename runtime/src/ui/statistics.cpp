#include "ui/statistics.hpp"

#include <algorithm>

namespace sluice::detail::ui {

void histogram::observe(double seconds) {
  size_t i = 0;
  while (i < num_delay_buckets && seconds > delay_buckets[i])
    ++i;
  ++counts[i];
  sum += seconds;
  ++count;
}

// Spark's delays are whole milliseconds: each is truncated from the
// microseconds the engine measures.
std::optional<int64_t> batch_record::scheduling_delay_ms() const {
  if (!processing_start_us)
    return std::nullopt;
  return (*processing_start_us - submission_us) / 1000;
}

std::optional<int64_t> batch_record::processing_time_ms() const {
  if (!processing_start_us || !processing_end_us)
    return std::nullopt;
  return (*processing_end_us - *processing_start_us) / 1000;
}

std::optional<int64_t> batch_record::total_delay_ms() const {
  if (!processing_end_us)
    return std::nullopt;
  return (*processing_end_us - submission_us) / 1000;
}

statistics::statistics(int64_t batch_ms, size_t retained) : retained_(retained) {
  s_.batch_ms = batch_ms;
}

statistics_snapshot statistics::snapshot(batches which) const {
  std::lock_guard<std::mutex> guard{mtx_};
  statistics_snapshot out = s_;
  switch (which) {
    case batches::all: out.completed.assign(completed_.begin(), completed_.end()); break;
    case batches::times_only:
      out.completed.reserve(completed_.size());
      for (auto& b : completed_) {
        auto& c = out.completed.emplace_back();
        c.time_ms = b.time_ms;
        c.status = b.status;
        c.num_records = b.num_records;
        c.submission_us = b.submission_us;
        c.processing_start_us = b.processing_start_us;
        c.processing_end_us = b.processing_end_us;
      }
      break;
    case batches::newest:
      if (!completed_.empty())
        out.completed.push_back(completed_.back());
      break;
    case batches::none: break;
  }
  for (auto& [t, b] : active_)
    out.active.push_back(b);
  for (auto& [id, r] : receivers_)
    out.receivers.push_back(r);
  return out;
}

void statistics::on_streaming_started(int64_t time_us) {
  std::lock_guard<std::mutex> guard{mtx_};
  s_.start_us = time_us;
}

batch_record& statistics::active_batch(int64_t time_ms) {
  auto& b = active_[time_ms];
  b.time_ms = time_ms;
  return b;
}

void statistics::on_batch_submitted(const batch_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& b = active_batch(info.time.ms);
  b.submission_us = info.submission_us;
}

void statistics::on_batch_started(const batch_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& b = active_batch(info.time.ms);
  b.status = batch_status::processing;
  b.submission_us = info.submission_us;
  b.processing_start_us = info.processing_start_us;
}

void statistics::on_batch_completed(const batch_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  batch_record b = std::move(active_batch(info.time.ms));
  active_.erase(info.time.ms);
  b.status = batch_status::completed;
  b.num_records = info.num_records;
  b.submission_us = info.submission_us;
  b.processing_start_us = info.processing_start_us;
  b.processing_end_us = info.processing_end_us;
  for (auto& [id, in] : info.stream_id_to_input_info) {
    b.stream_records[id] = in.num_records;
    s_.stream_records[id] += in.num_records;
  }
  ++s_.total_completed;
  s_.total_records += info.num_records;
  s_.scheduling_delay.observe(static_cast<double>(info.scheduling_delay_us()) / 1e6);
  s_.processing_time.observe(static_cast<double>(info.processing_delay_us()) / 1e6);
  s_.total_delay.observe(static_cast<double>(info.total_delay_us()) / 1e6);
  completed_.push_back(std::move(b));
  while (completed_.size() > retained_)
    completed_.pop_front();
}

void statistics::on_output_operation_started(const output_operation_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& op = active_batch(info.batch.ms).ops[info.id];
  op.id = info.id;
  op.name = info.name;
  op.start_us = info.start_us;
}

void statistics::on_output_operation_completed(const output_operation_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& op = active_batch(info.batch.ms).ops[info.id];
  op.id = info.id;
  op.name = info.name;
  op.start_us = info.start_us;
  op.end_us = info.end_us;
  op.failure_reason = info.failure_reason;
  if (info.failure_reason)
    ++s_.output_ops_failed;
  else
    ++s_.output_ops_completed;
}

receiver_record& statistics::receiver(const receiver_info& info) {
  auto& r = receivers_[info.stream_id];
  r.info = info;
  return r;
}

void statistics::on_receiver_started(const receiver_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& r = receiver(info);
  if (r.started)
    ++r.restarts;
  r.started = true;
}

void statistics::on_receiver_error(const receiver_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  ++receiver(info).errors;
}

void statistics::on_receiver_stopped(const receiver_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  receiver(info);
}

void statistics::on_worker_added(const worker_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  s_.workers.push_back({info.name, info.cores, info.time_us, std::nullopt, {}});
}

void statistics::on_worker_removed(const worker_info& info) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& w : s_.workers)
    if (w.name == info.name && !w.removed_us) {
      w.removed_us = info.time_us;
      w.removed_reason = info.reason;
    }
}

void statistics::on_operators_placed(const placement_info& p) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (p.replaced)
    ++s_.replacements;
  s_.placement = p.workers;
}

void statistics::on_checkpoint_written(const checkpoint_info& c) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& r = s_.checkpoints[c.what == checkpoint_info::kind::state ? c.operator_id : -1];
  ++r.count;
  r.bytes += c.bytes;
  r.last_batch_ms = c.batch.ms;
  r.last_time_us = c.time_us;
  r.last_duration_us = c.duration_us;
  r.durations.observe(static_cast<double>(c.duration_us) / 1e6);
}

void statistics::on_actors(std::vector<actor_report> reports, int64_t time_us) {
  std::lock_guard<std::mutex> guard{mtx_};
  // An actor that did not answer keeps its last report, marked so (an
  // operator busy with a long batch is the one a user looks for).
  for (auto& old : s_.actors) {
    bool found = std::any_of(reports.begin(), reports.end(),
                             [&](const actor_report& r) { return r.id == old.id; });
    if (!found) {
      old.answered = false;
      reports.push_back(std::move(old));
    }
  }
  s_.actors = std::move(reports);
  s_.actors_sampled_us = time_us;
}

void statistics::set_graph(graph_view g) {
  std::lock_guard<std::mutex> guard{mtx_};
  s_.graph = std::move(g);
}

} // namespace sluice::detail::ui
