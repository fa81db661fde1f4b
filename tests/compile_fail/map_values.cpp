// map_values with a function of the whole (key, value) pair.
// expect: dstream<std::pair<K, V>>::map_values(f): f must be callable as W f(V), W f(const V&) or W f(V&&)
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.map_values([](const std::pair<std::string, int>& p) { return p.second; }).print();
}
