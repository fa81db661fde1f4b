// update_state_by_key with an initial rdd whose state type differs from f's.
// expect: update_state_by_key(f, n, initial): initial must be an rdd<std::pair<K, S>> of the stream's key type K and f's state type S
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  sluice::rdd<std::pair<std::string, double>> initial;
  s.update_state_by_key([](const std::vector<int>&, std::optional<int> sum) { return sum; }, 2,
                        initial)
    .print();
}
