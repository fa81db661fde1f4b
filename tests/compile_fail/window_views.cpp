// An inverse window over keys that view: the window would keep them across batches.
// expect: the window keeps keys and values across batches, so they must not hold views
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string_view, int64_t>> s) {
  s.reduce_by_key_and_window(std::plus<int64_t>{}, std::minus<int64_t>{}, sluice::seconds(3),
                             sluice::seconds(1))
    .print();
}
