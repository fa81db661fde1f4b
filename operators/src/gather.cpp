// The gather operators' parts that do not depend on the record type.
#include "sluice/gather.hpp"

namespace sluice::detail {

std::optional<parts> union_parts(batch_time t, std::vector<std::optional<parts>>& in) {
  parts out;
  for (auto& p : in) {
    if (!p)
      throw error("Could not generate RDD from a parent for unifying at time " + to_string(t));
    sort_by_index(*p);
    for (auto& x : *p)
      out.push_back({static_cast<int32_t>(out.size()), std::move(x.data)});
  }
  return out;
}

} // namespace sluice::detail
