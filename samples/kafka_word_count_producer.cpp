// Spark's KafkaWordCountProducer: writes lines of random digit words to a
// Kafka topic, <messages-per-sec> lines of <words-per-message> words each
// second, until stopped (or <seconds> have passed).
//
// Usage: kafka_word_count_producer <brokers> <topic> <messages-per-sec> <words-per-message> [<seconds>]
#include <chrono>
#include <csignal>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include <librdkafka/rdkafka.h>

namespace {
volatile std::sig_atomic_t stopping = 0;
}

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::cerr << "usage: kafka_word_count_producer <brokers> <topic> <messages-per-sec> "
                 "<words-per-message> [<seconds>]\n";
    return 2;
  }
  std::string brokers = argv[1], topic = argv[2];
  long per_sec = 0, words = 0, seconds = -1;
  try {
    per_sec = std::stol(argv[3]);
    words = std::stol(argv[4]);
    if (argc == 6)
      seconds = std::stol(argv[5]);
  } catch (const std::exception&) {
    per_sec = -1;
  }
  if (per_sec < 1 || words < 1 || (argc == 6 && seconds < 1)) {
    std::cerr << "kafka_word_count_producer: <messages-per-sec>, <words-per-message> and "
                 "<seconds> must be positive integers\n";
    return 2;
  }
  std::signal(SIGINT, [](int) { stopping = 1; });
  std::signal(SIGTERM, [](int) { stopping = 1; });
  char err[512];
  auto* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err)
      != RD_KAFKA_CONF_OK) {
    std::cerr << "kafka_word_count_producer: " << err << '\n';
    return 2;
  }
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::cerr << "kafka_word_count_producer: " << err << '\n';
    return 1;
  }
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> digit{0, 9};
  long sent = 0;
  for (long s = 0; !stopping && (seconds < 0 || s < seconds); ++s) {
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (long m = 0; m < per_sec; ++m) {
      std::string line;
      for (long w = 0; w < words; ++w)
        line += (w ? " " : "") + std::to_string(digit(rng));
      while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_VALUE(line.data(), line.size()), RD_KAFKA_V_END)
             == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 100);
      ++sent;
    }
    rd_kafka_poll(rk, 0);
    std::this_thread::sleep_until(next);
  }
  rd_kafka_flush(rk, 30000);
  int left = rd_kafka_outq_len(rk);
  rd_kafka_destroy(rk);
  std::cout << "sent " << sent << " lines" << (left ? ", " + std::to_string(left) + " undelivered" : "")
            << std::endl;
  return left ? 1 : 0;
}
