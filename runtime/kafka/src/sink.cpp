// save_to_kafka's producer: idempotent, and with transactional.id one
// transaction per batch whose batch time is kept in Kafka itself (a marker
// record in the same transaction), so a re-run batch is not written twice.
#include <algorithm>
#include <atomic>
#include <mutex>

#include "client.hpp"
#include "sluice/error.hpp"
#include "sluice/time.hpp"

namespace sluice::kafka::detail {

class sink {
 public:
  sink(std::string topic, kafka::params p) : topic_(std::move(topic)), p_(std::move(p)) {
    p_.erase("key.serializer");
    p_.erase("value.serializer");
    if (auto i = p_.find("default.api.timeout.ms"); i != p_.end()) {
      timeout_ms_ = std::stoi(i->second);
      p_.erase(i);
    }
    if (p_.find("bootstrap.servers") == p_.end())
      throw invalid_argument("save_to_kafka: the params need 'bootstrap.servers'");
    if (topic_.empty())
      throw invalid_argument("save_to_kafka: the topic name is empty");
    if (auto i = p_.find("transactional.id"); i != p_.end())
      txid_ = i->second;
    marker_ = topic_ + ".sluice-commits";
  }

  void write(batch_time t, const std::vector<producer_record>& records) {
    if (!rk_)
      open();
    if (!txid_.empty() && last_committed_ && t.ms <= *last_committed_)
      return; // committed before a crash: already in Kafka
    failed_ = 0;
    if (!txid_.empty())
      check(rd_kafka_begin_transaction(rk_.get()), t, "begin");
    for (auto& r : records)
      produce(topic_, r.partition, r.key, r.value, t);
    if (!txid_.empty()) {
      // The records are delivered before the marker is produced: a reader
      // that sees the marker without the transaction's isolation (the 2.0.2
      // mock cluster has none) then sees the records too.
      try {
        delivered(t);
      } catch (const error&) {
        rd_kafka_error_destroy(rd_kafka_abort_transaction(rk_.get(), timeout_ms_));
        throw;
      }
      produce(marker_, 0, std::nullopt, std::to_string(t.ms), t);
      if (auto* e = rd_kafka_commit_transaction(rk_.get(), timeout_ms_)) {
        if (rd_kafka_error_txn_requires_abort(e))
          rd_kafka_error_destroy(rd_kafka_abort_transaction(rk_.get(), timeout_ms_));
        check(e, t, "commit");
      }
      last_committed_ = t.ms;
      return;
    }
    delivered(t);
  }

 private:
  void open() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto params = p_;
    params.emplace("enable.idempotence", "true");
    for (auto& [k, v] : params)
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw invalid_argument("save_to_kafka: parameter '" + k + "' = '" + v + "' rejected: "
                               + errstr);
      }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* o) {
      if (!m->err)
        return;
      auto* s = static_cast<sink*>(o);
      std::lock_guard<std::mutex> guard{s->mtx_};
      if (s->failed_++ == 0)
        s->first_error_ = rd_kafka_err2str(m->err);
    });
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
      rd_kafka_conf_destroy(conf);
      throw error(std::string("save_to_kafka: cannot create a producer: ") + errstr);
    }
    rk_.reset(rk);
    if (txid_.empty())
      return;
    if (auto* e = rd_kafka_init_transactions(rk_.get(), timeout_ms_)) {
      std::string why = rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      throw error("kafka: save_to_kafka to topic '" + topic_ + "': cannot initialise transactions of "
                  "transactional.id '" + txid_ + "': " + why);
    }
    last_committed_ = read_last_committed();
  }

  /// Waits until every record produced is delivered; throws naming the
  /// topic and batch when one is not (within the timeout, or failed).
  void delivered(batch_time t) {
    rd_kafka_flush(rk_.get(), timeout_ms_);
    if (auto left = rd_kafka_outq_len(rk_.get()); left > 0)
      throw error("kafka: save_to_kafka to topic '" + topic_ + "' at " + to_string(t) + ": "
                  + std::to_string(left) + " records not delivered within "
                  + std::to_string(timeout_ms_) + " ms");
    if (failed_ > 0) {
      std::lock_guard<std::mutex> guard{mtx_};
      throw error("kafka: save_to_kafka to topic '" + topic_ + "' at " + to_string(t) + ": "
                  + std::to_string(failed_.load()) + " records failed: " + first_error_);
    }
  }

  /// The batch time of the last committed transaction, from the marker topic
  /// (read_committed), or nullopt when there is none.
  std::optional<int64_t> read_last_committed() {
    kafka::params c{{"bootstrap.servers", p_.at("bootstrap.servers")},
                    {"group.id", "sluice-sink-" + txid_},
                    {"isolation.level", "read_committed"},
                    {"enable.auto.commit", "false"},
                    {"enable.partition.eof", "true"}};
    if (auto i = p_.find("log_level"); i != p_.end())
      c["log_level"] = i->second;
    auto rk = make_consumer(c, {});
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk.get(), marker_.c_str(), 0, &lo, &hi, timeout_ms_)
          != RD_KAFKA_RESP_ERR_NO_ERROR
        || hi <= lo)
      return std::nullopt; // no marker topic yet: nothing was committed
    tpl_ptr list{rd_kafka_topic_partition_list_new(1)};
    // The last few offsets hold the last marker (commit markers take offsets too).
    rd_kafka_topic_partition_list_add(list.get(), marker_.c_str(), 0)->offset = std::max(lo, hi - 16);
    rd_kafka_assign(rk.get(), list.get());
    std::optional<int64_t> last;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    while (std::chrono::steady_clock::now() < deadline) {
      auto* m = rd_kafka_consumer_poll(rk.get(), 100);
      if (!m)
        continue;
      bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
      if (!m->err)
        last = std::stoll(std::string{static_cast<const char*>(m->payload), m->len});
      rd_kafka_message_destroy(m);
      if (eof)
        return last;
    }
    throw error("kafka: save_to_kafka to topic '" + topic_ + "': cannot read the last committed "
                "batch from topic '" + marker_ + "' within " + std::to_string(timeout_ms_) + " ms");
  }

  void produce(const std::string& topic, int32_t partition, const std::optional<std::string>& key,
               const std::string& value, batch_time t) {
    for (;;) {
      auto e = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY((key ? key->data() : nullptr), (key ? key->size() : size_t{0})),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk_.get(), 100);
        continue;
      }
      if (!txid_.empty())
        rd_kafka_error_destroy(rd_kafka_abort_transaction(rk_.get(), timeout_ms_));
      throw error("kafka: save_to_kafka to topic '" + topic + "' partition "
                  + std::to_string(partition) + " at " + to_string(t) + ": "
                  + rd_kafka_err2str(e));
    }
  }

  void check(rd_kafka_error_t* e, batch_time t, const char* step) {
    if (!e)
      return;
    std::string why = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    throw error("kafka: save_to_kafka to topic '" + topic_ + "': the transaction of "
                + to_string(t) + " failed to " + step + ": " + why);
  }

  std::string topic_;
  kafka::params p_;
  std::string txid_, marker_;
  int timeout_ms_ = 60000;
  rk_ptr rk_;
  std::optional<int64_t> last_committed_;
  std::mutex mtx_;
  std::atomic<int> failed_{0};
  std::string first_error_;
};

std::shared_ptr<sink> make_sink(const std::string& topic, const kafka::params& p) {
  return std::make_shared<sink>(topic, p);
}

void sink_write(sink& s, batch_time t, const std::vector<producer_record>& records) {
  s.write(t, records);
}

} // namespace sluice::kafka::detail
