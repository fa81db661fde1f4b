// transform with a function that returns a vector instead of an rdd.
// expect: dstream<T>::transform(f): f must be callable as rdd<U> f(const rdd<T>&) or rdd<U> f(const rdd<T>&, batch_time), returning a sluice::rdd
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.transform([](const sluice::rdd<int>& r) { return r.collect(); }).print();
}
