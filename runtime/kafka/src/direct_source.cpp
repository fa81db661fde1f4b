#include "direct_source.hpp"

#include <algorithm>
#include <cmath>

#include "sluice/codec.hpp"
#include "sluice/error.hpp"
#include "streams.hpp"

namespace sluice::kafka::detail {

namespace {

std::string reset_policy(const reader_config& cfg) {
  auto i = cfg.client.find("auto.offset.reset");
  return i == cfg.client.end() ? "latest" : i->second;
}

bool is_earliest(const std::string& p) {
  return p == "earliest" || p == "smallest" || p == "beginning";
}
bool is_none(const std::string& p) { return p == "none" || p == "error"; }

} // namespace

direct_source::direct_source(duration batch, consumer_strategy cs,
                             std::shared_ptr<const reader_config> cfg, int64_t max_rate,
                             int64_t min_rate, int max_retries)
    : sluice::detail::source_node<offset_range>("kafka_direct_stream", batch),
      cs_(std::move(cs)), cfg_(std::move(cfg)), max_rate_(max_rate), min_rate_(min_rate),
      max_retries_(max_retries), batch_(batch) {
  if (cs_.what == consumer_strategy::kind::subscribe_pattern)
    pattern_.emplace(cs_.pattern, std::regex::ECMAScript);
}

direct_source::~direct_source() { stop(); }

void direct_source::backpressure(std::unique_ptr<rate_estimator> estimator, double initial_rate) {
  estimator_ = std::move(estimator);
  rate_ = initial_rate;
}

void direct_source::start(const sluice::detail::source_env& env) {
  replay_window_ = env.replay_window;
  rk_ = make_consumer(cfg_->client, {{"enable.auto.commit", "false"},
                                     {"enable.auto.offset.store", "false"}});
  auto tps = list_partitions();
  for (auto& tp : tps) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (current_.count(tp) != 0)
        continue;
    }
    auto from = start_offset(tp, restored_);
    std::lock_guard<std::mutex> guard{mtx_};
    current_[tp] = from;
  }
  {
    std::lock_guard<std::mutex> guard{commit_mtx_};
    commit_stop_ = false;
  }
  committer_ = std::thread{[this] { commit_loop(); }};
  register_source(this);
}

void direct_source::stop() {
  unregister_source(this);
  {
    std::lock_guard<std::mutex> guard{commit_mtx_};
    commit_stop_ = true;
  }
  commit_cv_.notify_all();
  if (committer_.joinable())
    committer_.join();
  drop_cached_consumers(cfg_->cache_key);
}

template <class F>
auto with_retries(int retries, F f) {
  for (int attempt = 0;; ++attempt) {
    try {
      return f();
    } catch (const error&) {
      if (attempt >= retries)
        throw;
    }
  }
}

std::vector<topic_partition> direct_source::list_partitions() {
  return with_retries(max_retries_, [&] {
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk_.get(), 1, nullptr, &md,
                                 static_cast<int>(cfg_->api_timeout_ms));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw error("kafka: cannot read the cluster metadata from bootstrap.servers="
                  + cfg_->bootstrap + " within " + std::to_string(cfg_->api_timeout_ms)
                  + " ms: " + rd_kafka_err2str(err));
    std::map<std::string, int> counts;
    for (int i = 0; i < md->topic_cnt; ++i)
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        counts[md->topics[i].topic] = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    std::vector<topic_partition> out;
    switch (cs_.what) {
      case consumer_strategy::kind::subscribe:
        for (auto& t : cs_.topics) {
          auto i = counts.find(t);
          if (i == counts.end())
            throw error("kafka: unknown topic '" + t + "' (subscribe, bootstrap.servers="
                        + cfg_->bootstrap + ")");
          for (int p = 0; p < i->second; ++p)
            out.push_back({t, p});
        }
        break;
      case consumer_strategy::kind::subscribe_pattern:
        for (auto& [t, n] : counts)
          if (std::regex_match(t, *pattern_))
            for (int p = 0; p < n; ++p)
              out.push_back({t, p});
        break;
      case consumer_strategy::kind::assign:
        for (auto& tp : cs_.partitions) {
          auto i = counts.find(tp.topic);
          if (i == counts.end())
            throw error("kafka: unknown topic '" + tp.topic + "' (assign, bootstrap.servers="
                        + cfg_->bootstrap + ")");
          if (tp.partition >= i->second)
            throw error("kafka: unknown " + name_of(tp.topic, tp.partition) + " (assign): the topic has "
                        + std::to_string(i->second) + " partitions");
          out.push_back(tp);
        }
        break;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  });
}

std::pair<int64_t, int64_t> direct_source::watermarks(const topic_partition& tp) {
  return with_retries(max_retries_, [&] {
    int64_t lo = 0, hi = 0;
    auto err = rd_kafka_query_watermark_offsets(rk_.get(), tp.topic.c_str(), tp.partition, &lo,
                                                &hi, static_cast<int>(cfg_->api_timeout_ms));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw error("kafka: cannot read the offsets of " + name_of(tp.topic, tp.partition)
                  + " from bootstrap.servers=" + cfg_->bootstrap + ": " + rd_kafka_err2str(err));
    return std::pair{lo, hi};
  });
}

int64_t direct_source::start_offset(const topic_partition& tp, bool late) {
  if (auto i = cs_.from_offsets.find(tp); i != cs_.from_offsets.end())
    return i->second;
  tpl_ptr list{rd_kafka_topic_partition_list_new(1)};
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  auto err = with_retries(max_retries_, [&] {
    auto e = rd_kafka_committed(rk_.get(), list.get(), static_cast<int>(cfg_->api_timeout_ms));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw error("kafka: cannot read the committed offset of group '" + cfg_->group + "' for "
                  + name_of(tp.topic, tp.partition) + ": " + rd_kafka_err2str(e));
    return e;
  });
  (void) err;
  if (list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0)
    return list->elems[0].offset;
  auto policy = reset_policy(*cfg_);
  if (is_none(policy) && !late)
    throw error("kafka: group '" + cfg_->group + "' has no committed offset for "
                + name_of(tp.topic, tp.partition) + " and auto.offset.reset=" + policy);
  auto [lo, hi] = watermarks(tp);
  return late || is_earliest(policy) ? lo : hi;
}

std::vector<offset_range> direct_source::fix_ranges() {
  if (rk_)
    rd_kafka_poll(rk_.get(), 0); // serves the driver consumer's events
  auto tps = list_partitions();
  std::map<topic_partition, int64_t> from;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    from = current_;
  }
  double rate;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    rate = estimator_ ? rate_ : 0;
  }
  auto policy = reset_policy(*cfg_);
  std::vector<offset_range> out;
  std::vector<int64_t> latest;
  for (auto& tp : tps) {
    auto i = from.find(tp);
    int64_t f = i != from.end() ? i->second : start_offset(tp, true);
    auto [lo, hi] = watermarks(tp);
    if (f < lo || f > hi) {
      if (is_none(policy))
        throw error("kafka: offset out of range: " + name_of(tp.topic, tp.partition) + " offset "
                    + std::to_string(f) + " is outside the partition's offsets ["
                    + std::to_string(lo) + ", " + std::to_string(hi) + "] and auto.offset.reset="
                    + policy);
      f = is_earliest(policy) ? lo : hi;
    }
    out.push_back({tp.topic, tp.partition, f, hi});
    latest.push_back(hi);
  }
  // Spark's maxMessagesPerPartition: a per-partition rate (backpressure's
  // share of the lag, capped by maxRatePerPartition, or maxRatePerPartition
  // alone), times the batch's seconds, at least minRatePerPartition.
  double total_lag = 0;
  for (auto& r : out)
    total_lag += static_cast<double>(r.count());
  std::vector<double> limits;
  double sum = 0;
  for (auto& r : out) {
    double limit = static_cast<double>(max_rate_);
    if (rate > 0) {
      double share = total_lag > 0 ? static_cast<double>(r.count()) / total_lag * rate : 0;
      limit = max_rate_ > 0 ? std::min(share, static_cast<double>(max_rate_)) : share;
    }
    limits.push_back(limit);
    sum += limit;
  }
  if (sum > 0) {
    double secs = static_cast<double>(batch_.count()) / 1000.0;
    for (size_t k = 0; k < out.size(); ++k) {
      auto most = std::max(static_cast<int64_t>(secs * limits[k]), min_rate_);
      out[k].until_offset = std::min(latest[k], out[k].from_offset + most);
    }
  }
  return out;
}

void direct_source::prepare(batch_time t) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (by_batch_.count(t.ms) != 0 || t.ms <= restored_upto_)
      return;
  }
  auto ranges = fix_ranges();
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& r : ranges)
    current_[r.tp()] = r.until_offset;
  by_batch_[t.ms] = std::move(ranges);
}

std::optional<sluice::detail::parts> direct_source::generate(batch_time t) {
  bool missing;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    missing = by_batch_.count(t.ms) == 0 && t.ms > restored_upto_;
  }
  if (missing)
    prepare(t);
  std::lock_guard<std::mutex> guard{mtx_};
  sluice::detail::parts out;
  auto i = by_batch_.find(t.ms);
  if (i == by_batch_.end())
    return out; // before the recovered position and not kept: nothing to re-run
  generated_.insert(t.ms);
  for (auto& r : i->second)
    out.push_back({static_cast<int32_t>(out.size()),
                   sluice::detail::erase(std::vector<offset_range>{r})});
  return out;
}

void direct_source::on_batch_completed(const batch_info& info, int64_t records) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (estimator_)
    if (auto r = estimator_->compute(info.processing_end_us / 1000, records,
                                     info.processing_delay_us() / 1000,
                                     info.scheduling_delay_us() / 1000))
      rate_ = *r;
  generated_.erase(info.time.ms);
  auto keep_from = info.time.ms - replay_window_.count();
  for (auto i = by_batch_.begin(); i != by_batch_.end() && i->first < keep_from;)
    i = generated_.count(i->first) ? std::next(i) : by_batch_.erase(i);
  if (replay_window_.count() == 0)
    by_batch_.erase(info.time.ms);
}

size_t direct_source::records(const sluice::detail::erased& e) const {
  if (!e)
    return 0;
  size_t n = 0;
  for (auto& r : sluice::detail::view<offset_range>(e))
    n += static_cast<size_t>(std::max<int64_t>(r.count(), 0));
  return n;
}

namespace {

using tp_offsets = std::vector<std::pair<std::pair<std::string, int32_t>, int64_t>>;
using batch_ranges = std::vector<std::pair<int64_t, std::vector<offset_range>>>;

} // namespace

// Position bytes: codec<pair<tp_offsets, batch_ranges>> (FORMAT.md "Source
// offsets by source", kafka_direct_stream).
std::string direct_source::position() const {
  std::lock_guard<std::mutex> guard{mtx_};
  tp_offsets cur;
  for (auto& [tp, o] : current_)
    cur.push_back({{tp.topic, tp.partition}, o});
  return encode_to_string(std::pair{cur, batch_ranges(by_batch_.begin(), by_batch_.end())});
}

void direct_source::restore_position(const std::string& bytes) {
  auto pos = decode_from_string<std::pair<tp_offsets, batch_ranges>>(bytes);
  std::lock_guard<std::mutex> guard{mtx_};
  current_.clear();
  for (auto& [tp, o] : pos.first)
    current_[{tp.first, tp.second}] = o;
  by_batch_ = std::map<int64_t, std::vector<offset_range>>(pos.second.begin(), pos.second.end());
  restored_upto_ = by_batch_.empty() ? -1 : by_batch_.rbegin()->first;
  restored_ = true;
}

std::optional<std::vector<offset_range>> direct_source::match(
  const std::vector<std::optional<std::pair<topic_partition, int64_t>>>& first) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto fits = [&](const std::vector<offset_range>& ranges) {
    if (ranges.size() != first.size())
      return false;
    for (size_t k = 0; k < first.size(); ++k)
      if (first[k]) {
        auto& r = ranges[k];
        if (!(r.tp() == first[k]->first && r.from_offset <= first[k]->second
              && first[k]->second < r.until_offset))
          return false;
      }
    return true;
  };
  // A running batch first; then a completed one still kept (within the
  // replay window): after a lost worker the engine runs the batches after
  // the newest state checkpoint again from their kept input, without
  // generate(). A partition's ranges of different batches are disjoint, so
  // one record names its batch.
  for (auto t : generated_)
    if (auto i = by_batch_.find(t); i != by_batch_.end() && fits(i->second))
      return i->second;
  for (auto i = by_batch_.rbegin(); i != by_batch_.rend(); ++i)
    if (generated_.count(i->first) == 0 && fits(i->second))
      return i->second;
  return std::nullopt;
}

bool direct_source::holds(const std::vector<offset_range>& ranges) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& r : ranges)
    if (current_.count(r.tp()) == 0)
      return false;
  return true;
}

void direct_source::enqueue_commit(std::vector<offset_range> ranges, commit_callback cb) {
  {
    std::lock_guard<std::mutex> guard{commit_mtx_};
    commits_.emplace_back(std::move(ranges), std::move(cb));
  }
  commit_cv_.notify_all();
}

void direct_source::commit_loop() {
  std::unique_lock<std::mutex> guard{commit_mtx_};
  for (;;) {
    commit_cv_.wait(guard, [&] { return commit_stop_ || !commits_.empty(); });
    if (commits_.empty())
      return; // stopping with nothing left: queued commits are done first
    auto [ranges, cb] = std::move(commits_.front());
    commits_.pop_front();
    guard.unlock();
    std::map<topic_partition, int64_t> offsets;
    for (auto& r : ranges) {
      auto& o = offsets[r.tp()];
      o = std::max(o, r.until_offset);
    }
    tpl_ptr list{rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()))};
    for (auto& [tp, o] : offsets)
      rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = o;
    std::string why;
    if (!offsets.empty()) {
      auto err = rd_kafka_commit(rk_.get(), list.get(), 0);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        why = std::string("kafka: commit of group '") + cfg_->group + "' failed: "
              + rd_kafka_err2str(err);
      for (int i = 0; i < list->cnt && why.empty(); ++i)
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
          why = "kafka: commit of group '" + cfg_->group + "' failed for "
                + name_of(list->elems[i].topic, list->elems[i].partition) + ": "
                + rd_kafka_err2str(list->elems[i].err);
    }
    if (cb)
      cb(offsets, why);
    guard.lock();
  }
}

} // namespace sluice::kafka::detail
