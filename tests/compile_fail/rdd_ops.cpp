// rdd::reduce_by_key (inside transform) with a function that returns nothing.
// expect: rdd<std::pair<K, V>>::reduce_by_key(f): f must be callable as V f(V, V) or V f(const V&, const V&)
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.transform([](const sluice::rdd<std::pair<std::string, int>>& r) {
     return r.reduce_by_key([](int, int) {});
   }).print();
}
