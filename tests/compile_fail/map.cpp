// map with a function of the wrong argument type (a string for an int stream).
// expect: dstream<T>::map(f): f must be callable as U f(T), U f(const T&) or U f(T&&)
#include <string>
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.map([](const std::string& x) { return x.size(); }).print();
}
