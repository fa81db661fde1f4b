// update_state_by_key with a function taking one value instead of all of the key's values.
// expect: dstream<std::pair<K, V>>::update_state_by_key(f[, n[, initial]]): f must be callable as std::optional<S> f(const std::vector<V>&, std::optional<S>) or std::optional<S> f(batch_time, const K&, const std::vector<V>&, std::optional<S>)
#include <optional>
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.update_state_by_key([](int v, std::optional<int> sum) -> std::optional<int> {
     return sum.value_or(0) + v;
   }).print();
}
