#include "sluice/detail/table_memory.hpp"

#include <cstdint>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sluice::detail {

namespace {

constexpr std::size_t line = 64;
constexpr std::size_t page = 4096;
constexpr std::size_t huge_page = std::size_t{2} << 20;
constexpr std::size_t mapped_from = std::size_t{4} << 20;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

} // namespace

#if defined(__linux__)

void* allocate_table(std::size_t bytes) {
  if (bytes < mapped_from) {
    void* p = ::operator new(bytes, std::align_val_t{line});
    std::memset(p, 0, bytes);
    return p;
  }
  // Map a huge page more than needed, then unmap what lies before the
  // first 2 MiB boundary and after the block (anonymous memory is zero).
  std::size_t size = round_up(bytes, page);
  std::size_t span = size + huge_page;
  void* m = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    throw std::bad_alloc{};
  auto base = reinterpret_cast<std::uintptr_t>(m);
  auto start = round_up(base, huge_page);
  if (start > base)
    munmap(m, start - base);
  if (auto end = start + size; base + span > end)
    munmap(reinterpret_cast<void*>(end), base + span - end);
  // Only whole huge pages are advised: the tail stays in 4 KiB pages, so a
  // block's last, partly used huge page costs no unused resident memory.
  if (auto whole = size / huge_page * huge_page; whole > 0)
    madvise(reinterpret_cast<void*>(start), whole, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
}

void free_table(void* p, std::size_t bytes) noexcept {
  if (!p)
    return;
  if (bytes < mapped_from)
    ::operator delete(p, std::align_val_t{line});
  else
    munmap(p, round_up(bytes, page));
}

#else

void* allocate_table(std::size_t bytes) {
  void* p = ::operator new(bytes, std::align_val_t{line});
  std::memset(p, 0, bytes);
  return p;
}

void free_table(void* p, std::size_t) noexcept {
  if (p)
    ::operator delete(p, std::align_val_t{line});
}

#endif

} // namespace sluice::detail
