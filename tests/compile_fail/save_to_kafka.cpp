// save_to_kafka without <sluice/kafka.hpp>: the record type is unknown.
// expect: save_to_kafka: expected to_record(const T&) returning sluice::kafka::producer_record: #include <sluice/kafka.hpp> and link sluice::kafka
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.save_to_kafka("out", {{"bootstrap.servers", "127.0.0.1:9092"}},
                  [](int x) { return std::to_string(x); });
}
