// foreach_rdd with a function that takes a record instead of the batch's rdd.
// expect: dstream<T>::foreach_rdd(f): f must be callable as void f(const rdd<T>&) or void f(const rdd<T>&, batch_time)
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.foreach_rdd([](int) {});
}
