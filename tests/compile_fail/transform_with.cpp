// transform_with with a function that takes only this stream's rdd.
// expect: dstream<T>::transform_with(other, f) with other a dstream<U>: f must be callable as rdd<W> f(const rdd<T>&, const rdd<U>&), returning a sluice::rdd
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s, sluice::dstream<double> d) {
  s.transform_with(d, [](const sluice::rdd<int>& r) { return r; }).print();
}
