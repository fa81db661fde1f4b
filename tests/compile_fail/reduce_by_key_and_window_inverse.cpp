// reduce_by_key_and_window with an inverse function that returns nothing.
// expect: dstream<std::pair<K, V>>::reduce_by_key_and_window(f, inv_f, w, s[, n[, filter]]): inv_f must be callable as V inv_f(V, V) or V inv_f(const V&, const V&)
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.reduce_by_key_and_window([](int a, int b) { return a + b; }, [](int, int) {},
                             sluice::seconds(30), sluice::seconds(10))
    .print();
}
