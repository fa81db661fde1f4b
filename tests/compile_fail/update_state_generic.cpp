// update_state_by_key with a generic lambda and no state type: S cannot be read from it.
// expect: update_state_by_key(f): the state type S is read from f's declared result std::optional<S>, and f has none
#include <string>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  s.update_state_by_key([](const auto& vs, auto sum) { return sum; }).print();
}
