// The window operators' argument checks (SEMANTICS §2.11), out of line so
// that users of <sluice/sluice.hpp> do not parse them.
#include "sluice/window.hpp"

#include <algorithm>
#include <numeric>
#include <string>

namespace sluice::detail {

void check_window(duration window, duration slide, duration parent, const char* what,
                  bool require_style) {
  auto fail = [&](const char* which, duration d) {
    std::string head = require_style ? "requirement failed: " : "";
    std::string verb = require_style ? " must be multiple of" : " must be a multiple of";
    throw invalid_argument(head + "The " + which + " duration of " + what + " (" + to_string(d)
                           + ")" + verb + " the slide duration of parent DStream ("
                           + to_string(parent) + ")");
  };
  if (window.count() <= 0)
    throw invalid_argument(std::string("The window duration of ") + what
                           + " must be positive, got " + to_string(window));
  if (slide.count() <= 0)
    throw invalid_argument(std::string("The slide duration of ") + what
                           + " must be positive, got " + to_string(slide));
  if (window.count() % parent.count() != 0)
    fail("window", window);
  if (slide.count() % parent.count() != 0)
    fail("slide", slide);
}

std::vector<size_t> sorted_order(const std::vector<int64_t>& keys) {
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  return order;
}

} // namespace sluice::detail
