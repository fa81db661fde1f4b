// combine_by_key with a merge_value that takes its arguments in the wrong order.
// expect: combine_by_key(create, merge_value, merge_combiners): merge_value must be callable as C merge_value(C, V) or C merge_value(const C&, const V&)
#include <string>
#include <utility>
#include <vector>
#include <sluice/sluice.hpp>

void build(sluice::dstream<std::pair<std::string, int>> s) {
  using list = std::vector<int>;
  s.combine_by_key([](int v) { return list{v}; },
                   [](int v, list c) { c.push_back(v); return c; },
                   [](list a, const list& b) { a.insert(a.end(), b.begin(), b.end()); return a; })
    .print();
}
