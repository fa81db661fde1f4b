// Whether a path lies under a directory, by its text: shared by the VFSs.
#pragma once

#include <string_view>

namespace sluice::detail {

/// Returns whether `path` is `dir` or a file under it (both normalized).
inline bool is_under(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir)
    return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

} // namespace sluice::detail
