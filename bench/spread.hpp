// Min, median and max of several runs, for every benchmark (this machine is
// shared and noisy: report the spread, never only the best). No sluice
// headers, so benchmarks of the machine alone (host_latency) use it too.
#pragma once

#include <algorithm>
#include <vector>

namespace bench {

struct spread_result {
  double min = 0, median = 0, max = 0;
};

inline spread_result spread(std::vector<double> xs) {
  if (xs.empty())
    return {};
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  double median = n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
  return {xs.front(), median, xs.back()};
}

} // namespace bench
