// reduce with a function whose result cannot become a record (a pointer for an int stream).
// expect: dstream<T>::reduce(f) and reduce_by_window(f, w, s): f must be callable as T f(T, T) or T f(const T&, const T&)
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.reduce([](int a, int) { return &a; }).print();
}
