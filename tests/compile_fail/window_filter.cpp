// reduce_by_key_and_window with a filter that takes the value instead of the (key, value) pair.
// expect: dstream<std::pair<K, V>>::reduce_by_key_and_window(f, inv_f, w, s, n, filter): filter must be callable as bool filter(const std::pair<K, V>&)
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.reduce_by_key_and_window([](int a, int b) { return a + b; }, [](int a, int b) { return a - b; },
                             sluice::seconds(30), sluice::seconds(10), 2,
                             [](int v) { return v != 0; })
    .print();
}
