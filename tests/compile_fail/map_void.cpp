// map with a function that returns nothing.
// expect: dstream<T>::map(f): f must be callable as U f(T), U f(const T&) or U f(T&&), returning a value (not void)
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.map([](int) {}).print();
}
