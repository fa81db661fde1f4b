// The narrow operators' out-of-line part: the message of a failed operator.
#include "sluice/narrow.hpp"

namespace sluice::detail {

std::string failure_message(const node_base& n, int64_t t, std::string_view what) {
  return n.name() + " (operator " + std::to_string(n.id()) + ") failed at batch "
         + to_string(batch_time{t}) + ": " + std::string{what};
}

} // namespace sluice::detail
