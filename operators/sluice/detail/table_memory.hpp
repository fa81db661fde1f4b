// Memory for large hash tables (state_table): zero-filled blocks; big ones
// are mapped directly and marked for transparent huge pages.
#pragma once

#include <cstddef>

namespace sluice::detail {

/// Returns `bytes` of zero-filled memory aligned to 64 bytes (a cache line).
/// Blocks of 4 MiB and more are mapped directly and, on Linux, advised to use
/// transparent huge pages: a random probe into a table of millions of keys
/// then walks a 2 MiB page's translation, not a 4 KiB one's, so the TLB and
/// the page-table caches cover 512x more of the table. Throws
/// std::bad_alloc when out of memory.
void* allocate_table(std::size_t bytes);

/// Frees a block from allocate_table(bytes), with the same `bytes`.
void free_table(void* p, std::size_t bytes) noexcept;

} // namespace sluice::detail
