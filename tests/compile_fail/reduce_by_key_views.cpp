// reduce_by_key over values that view: the reduced value would outlive the line.
// expect: the reduced values outlive the records they came from, so V must not hold views
#include <string>
#include <string_view>
#include <utility>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, std::string_view>> s) {
  s.reduce_by_key([](std::string_view a, std::string_view b) { return a < b ? a : b; }).print();
}
