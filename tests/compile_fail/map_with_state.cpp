// state_spec::function with a function that does not take the state.
// expect: state_spec<K, V, S, M>::function(f): f must be callable as std::optional<M> f(batch_time, const K&, std::optional<V>, state<S>&) or M f(const K&, std::optional<V>, state<S>&)
#include <optional>
#include <string>
#include <sluice/sluice.hpp>

void build() {
  auto spec = sluice::state_spec<std::string, int, int, int>::function(
    [](const std::string&, std::optional<int> v) { return v.value_or(0); });
  (void)spec;
}
