// reduce_by_key with a function of one argument.
// expect: dstream<std::pair<K, V>>::reduce_by_key(f) and reduce_by_key_and_window(f, w[, s[, n]]): f must be callable as V f(V, V) or V f(const V&, const V&)
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.reduce_by_key([](int a) { return a; }).print();
}
