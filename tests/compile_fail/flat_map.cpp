// flat_map with a function that returns a single value instead of a range.
// expect: dstream<T>::flat_map(f): f must be callable as R f(T), R f(const T&) or R f(T&&), where R is a range of U
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.flat_map([](int x) { return x * 2; }).print();
}
