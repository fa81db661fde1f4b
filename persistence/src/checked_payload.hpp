// The payload of a stored row's frame, checked: shared by the receiver WAL
// and the checkpoint store (FORMAT.md "Frames").
#pragma once

#include "sluice/error.hpp"
#include "sluice/frame.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::detail {

/// Returns the payload of row `row_id`'s frame `bytes` in `table` of the
/// database `file`, or throws `wal_corruption` naming them and the defect.
inline std::string_view checked_payload(const std::string& file, std::string_view table,
                                        std::int64_t row_id, std::string_view bytes) {
  std::string error;
  frame_defect defect{};
  auto payload = unframe(bytes, &error, &defect);
  if (!payload)
    throw wal_corruption(file, std::string{table}, row_id, std::string{to_string(defect)},
                         error);
  return *payload;
}

} // namespace sluice::detail
