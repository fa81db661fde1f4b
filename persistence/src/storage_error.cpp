// Messages of the storage errors.
#include "sluice/error.hpp"

#include <utility>

namespace sluice {

wal_corruption::wal_corruption(const std::string& file, std::string table, std::int64_t row_id,
                               std::string defect, const std::string& detail)
  : storage_corruption("sluice: corrupt record in " + file + ", table " + table + ", row "
                  + std::to_string(row_id) + ": " + defect + ": " + detail),
    table_(std::move(table)),
    row_id_(row_id),
    defect_(std::move(defect)) {
  // nop
}

} // namespace sluice
