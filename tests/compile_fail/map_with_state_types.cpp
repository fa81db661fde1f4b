// map_with_state with a state_spec whose value type differs from the stream's.
// expect: dstream<std::pair<K, V>>::map_with_state(spec): spec must be a state_spec<K, V, S, M> of the stream's key type K and value type V
#include <optional>
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  auto spec = sluice::state_spec<std::string, double, int, int>::function(
    [](const std::string&, std::optional<double>, sluice::state<int>&) { return 1; });
  s.map_with_state(spec).print();
}
