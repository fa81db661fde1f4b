// The control: every operator with the accepted forms of its function (by
// value, const&, &&, function pointers, function objects, generic lambdas,
// mutable lambdas) must compile. It fails when the include path or flags are
// wrong (so the other cases cannot pass for that reason) and when a check
// rejects a function that its operator accepts.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <sluice/sluice.hpp>

using sluice::batch_time;
using sluice::rdd;
using kv = std::pair<std::string, int>;

namespace {

int twice(int x) { return 2 * x; }
int add(const int& a, const int& b) { return a + b; }
std::optional<int> sum_up(const std::vector<int>& vs, std::optional<int> s) {
  for (int v : vs)
    s = s.value_or(0) + v;
  return s;
}
struct is_even {
  bool operator()(const int& x) const noexcept { return x % 2 == 0; }
};

} // namespace

void build(sluice::dstream<int> s, sluice::dstream<kv> p, sluice::dstream<double> d) {
  s.map(twice).map([](int&& x) { return x + 1; }).map(std::function<long(int)>([](int x) {
    return long{x};
  }));
  s.map([n = 0](int x) mutable { return x + ++n; }).print();
  s.map([](const auto& x) { return std::to_string(x); }).print();
  s.flat_map([](int x) { return std::vector<int>(static_cast<size_t>(x), x); }).print();
  s.filter(is_even{}).filter([](int x) { return x > 0; }).print();
  s.map_partitions([](const std::vector<int>& v) { return v; }).print();
  s.reduce(add).reduce(std::plus<int>{}).reduce([](int a, int b) { return a * b; }).print();
  s.reduce_by_window(add, sluice::seconds(2), sluice::seconds(1)).print();
  s.reduce_by_window(std::plus<int>{}, std::minus<int>{}, sluice::seconds(2), sluice::seconds(1))
    .print();
  s.transform([](const rdd<int>& r) { return r.map([](int x) { return x * 0.5; }); }).print();
  s.transform([](const rdd<int>& r, batch_time) {
     return r.flat_map([](int x) { return std::vector<int>{x, x}; }).filter(is_even{});
   }).print();
  s.transform_with(d, [](const rdd<int>& a, const rdd<double>&) { return a; }).print();
  s.foreach_rdd([](const rdd<int>& r) { return r.count(); });
  s.foreach_rdd([](const rdd<int>&, batch_time) {});

  p.map_values(twice).map_values([](int x) { return std::to_string(x); }).print();
  p.flat_map_values([](int x) { return std::vector<int>{x}; }).print();
  p.reduce_by_key(add).reduce_by_key(std::plus<>{}, 3).print();
  p.combine_by_key([](int v) { return std::vector<int>{v}; },
                   [](std::vector<int> c, int v) { c.push_back(v); return c; },
                   [](std::vector<int> a, const std::vector<int>& b) {
                     a.insert(a.end(), b.begin(), b.end());
                     return a;
                   })
    .print();
  p.reduce_by_key_and_window(add, sluice::seconds(2)).print();
  p.reduce_by_key_and_window(add, std::minus<int>{}, sluice::seconds(2), sluice::seconds(1))
    .print();
  p.reduce_by_key_and_window(add, [](int a, const int& b) { return a - b; }, sluice::seconds(2),
                             sluice::seconds(1), 2, [](const kv& e) { return e.second != 0; })
    .print();
  p.update_state_by_key(sum_up).print();
  p.update_state_by_key([](batch_time, const std::string&, const std::vector<int>& vs,
                           std::optional<int> s) -> std::optional<int> {
     return vs.empty() ? s : std::optional<int>{static_cast<int>(vs.size())};
   }).print();
  p.update_state_by_key<int>([](const auto& vs, auto s) { return vs.empty() ? s : s; }).print();
  p.update_state_by_key<long>([](const std::vector<int>&, std::optional<long> s) { return s; },
                              2, rdd<std::pair<std::string, long>>{})
    .print();
  auto spec = sluice::state_spec<std::string, int, int, std::string>::function(
    [](const std::string& k, std::optional<int> v, sluice::state<int>& st) {
      st.update(v.value_or(0));
      return k;
    });
  p.map_with_state(spec).state_snapshots().print();
  auto timed = sluice::state_spec<std::string, int, int, int>::function(
    [](batch_time, const std::string&, std::optional<int> v, sluice::state<int>&)
      -> std::optional<int> { return v; });
  p.map_with_state(timed).print();
  p.transform([](const rdd<kv>& r) { return r.reduce_by_key(add); }).print();
}
