// flat_map_values with a function that returns a single value instead of a range.
// expect: dstream<std::pair<K, V>>::flat_map_values(f): f must be callable as R f(V), R f(const V&) or R f(V&&), where R is a range of W
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.flat_map_values([](int v) { return v; }).print();
}
