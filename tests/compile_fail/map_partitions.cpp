// map_partitions with a function of one record instead of the partition's vector.
// expect: dstream<T>::map_partitions(f): f must be callable as R f(const std::vector<T>&), where R is a range of U
#include <vector>
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.map_partitions([](int x) { return std::vector<int>{x}; }).print();
}
