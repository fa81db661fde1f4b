// reduce_by_window with an inverse function of one argument.
// expect: dstream<T>::reduce_by_window(f, inv_f, w, s): inv_f must be callable as T inv_f(T, T) or T inv_f(const T&, const T&)
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.reduce_by_window([](int a, int b) { return a + b; }, [](int a) { return -a; },
                     sluice::seconds(30), sluice::seconds(10))
    .print();
}
