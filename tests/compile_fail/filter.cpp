// filter with a predicate that returns a string.
// expect: dstream<T>::filter(pred): pred must be callable as bool pred(const T&) or bool pred(T)
#include <string>
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.filter([](int) { return std::string("yes"); }).print();
}
