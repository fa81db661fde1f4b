// An inverse window over values that view: the window would keep them across batches.
// expect: the window keeps values across batches, so V must not hold views
#include <string>
#include <string_view>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, std::string_view>> s) {
  auto pick = [](std::string_view a, std::string_view) { return a; };
  s.reduce_by_key_and_window(pick, pick, sluice::seconds(3), sluice::seconds(1)).print();
}
