// The direct stream's source: Spark's DirectKafkaInputDStream on the driver.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "client.hpp"
#include "sluice/rate_estimator.hpp"
#include "sluice/source.hpp"

namespace sluice::kafka::detail {

/// Fixes each batch's offset ranges; the records are read downstream.
///
/// Contract:
/// - start() connects to the brokers and resolves every partition's start
///   offset (from_offsets, else the group's committed offset, else
///   auto.offset.reset: latest by default, earliest, or none = an error
///   naming the partition). Unreachable brokers or an unknown topic
///   (subscribe, assign) throw sluice::error naming them.
/// - prepare(t) (the batch's tick) fixes the ranges of batch t: per
///   partition [current, min(latest, current + max per batch)), where the
///   max per batch is maxRatePerPartition x batch seconds, at least
///   minRatePerPartition (no limit when maxRatePerPartition is 0); partitions
///   that appear later (subscribe, pattern) start at their committed offset or
///   the earliest one, so none of their records is missed. With backpressure
///   the max per batch of a partition is rate x its share of the lag (Spark's
///   maxMessagesPerPartition).
/// - generate(t) returns one partition per range, in (topic, partition)
///   order, each holding its one offset_range.
/// - position(): the next offsets and the ranges of batches not completed yet
///   (and of those within the replay window); after recovery those batches
///   get exactly the same ranges.
class direct_source final : public sluice::detail::source_node<offset_range> {
 public:
  direct_source(duration batch, consumer_strategy cs, std::shared_ptr<const reader_config> cfg,
                int64_t max_rate, int64_t min_rate, int max_retries);
  /// Backpressure (Spark's DirectKafkaRateController): `estimator` turns each
  /// completed batch into a rate (records/s) for the whole stream, split
  /// over the partitions by their lag and capped by maxRatePerPartition;
  /// before its first estimate, `initial_rate` (0: no limit but max rate).
  void backpressure(std::unique_ptr<rate_estimator> estimator, double initial_rate);
  ~direct_source() override;

  void start(const sluice::detail::source_env& env) override;
  void stop() override;
  std::string position() const override;
  void restore_position(const std::string& bytes) override;
  void prepare(batch_time t) override;
  std::optional<sluice::detail::parts> generate(batch_time t) override;
  void on_batch_completed(const batch_info& info, int64_t records) override;
  /// Input records: the sum of the ranges' counts.
  size_t records(const sluice::detail::erased& e) const override;

  /// The ranges of the batch that `first` (see ranges_of_batch) belongs to:
  /// the oldest generated and not completed one that matches, else the
  /// newest completed one still kept (a batch run again after a lost
  /// worker), if any.
  std::optional<std::vector<offset_range>>
  match(const std::vector<std::optional<std::pair<topic_partition, int64_t>>>& first) const;
  /// True if a batch of this stream holds every range of `ranges`.
  bool holds(const std::vector<offset_range>& ranges) const;
  void enqueue_commit(std::vector<offset_range> ranges, commit_callback cb);

 private:
  std::vector<topic_partition> list_partitions();
  std::pair<int64_t, int64_t> watermarks(const topic_partition& tp);
  int64_t start_offset(const topic_partition& tp, bool late);
  std::vector<offset_range> fix_ranges();
  void commit_loop();

  consumer_strategy cs_;
  std::shared_ptr<const reader_config> cfg_;
  std::optional<std::regex> pattern_;
  int64_t max_rate_, min_rate_;
  int max_retries_;
  duration batch_;
  std::unique_ptr<rate_estimator> estimator_;
  double rate_ = 0;  ///< the latest estimate, or the initial rate (guarded by mtx_)
  duration replay_window_{0};
  rk_ptr rk_;  ///< the driver's consumer: metadata, offsets, commits

  mutable std::mutex mtx_;
  std::map<topic_partition, int64_t> current_;  ///< next offset per partition
  std::map<int64_t, std::vector<offset_range>> by_batch_;
  std::set<int64_t> generated_;  ///< generated and not completed
  int64_t restored_upto_ = -1;
  bool restored_ = false;

  std::mutex commit_mtx_;
  std::condition_variable commit_cv_;
  std::deque<std::pair<std::vector<offset_range>, commit_callback>> commits_;
  bool commit_stop_ = false;
  std::thread committer_;
};

} // namespace sluice::kafka::detail
