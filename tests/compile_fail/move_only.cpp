// map with a lambda that owns a std::unique_ptr: every partition needs a copy.
// expect: sluice: a function given to a dstream operator must be copy-constructible
#include <memory>
#include <sluice/sluice.hpp>

void build(sluice::dstream<int> s) {
  s.map([p = std::make_unique<int>(1)](int x) { return x + *p; }).print();
}
