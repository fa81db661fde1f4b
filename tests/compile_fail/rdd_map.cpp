// rdd::map (inside transform) with a function of the wrong argument type.
// expect: rdd<T>::map(f): f must be callable as U f(const T&) or U f(T), returning a value (not void)
#include <string>
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.transform([](const sluice::rdd<int>& r) { return r.map([](std::string x) { return x; }); })
    .print();
}
