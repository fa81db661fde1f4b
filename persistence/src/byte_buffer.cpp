#include "sluice/byte_buffer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sluice {

namespace {

constexpr std::size_t page = 4096;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

} // namespace

void byte_buffer::grow_for(std::size_t n) {
  if (n > SIZE_MAX / 2 - size_)
    throw std::bad_alloc{};
  grow_to(std::max({size_ + n, cap_ * 2, std::size_t{64}}));
}

#if defined(__linux__)

void byte_buffer::grow_to(std::size_t cap) {
  if (cap < mapped_from) {
    auto* p = static_cast<char*>(std::realloc(data_, cap));
    if (!p)
      throw std::bad_alloc{};
    data_ = p;
    cap_ = cap;
    return;
  }
  cap = round_up(cap, page);
  void* m;
  if (cap_ >= mapped_from) {
    m = mremap(data_, cap_, cap, MREMAP_MAYMOVE);
  } else {
    m = mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED && size_ > 0)
      std::memcpy(m, data_, size_);
    if (m != MAP_FAILED)
      std::free(data_);
  }
  if (m == MAP_FAILED)
    throw std::bad_alloc{};
  data_ = static_cast<char*>(m);
  cap_ = cap;
}

void byte_buffer::release() noexcept {
  if (cap_ >= mapped_from)
    munmap(data_, cap_);
  else
    std::free(data_);
}

#else

void byte_buffer::grow_to(std::size_t cap) {
  auto* p = static_cast<char*>(std::realloc(data_, cap));
  if (!p)
    throw std::bad_alloc{};
  data_ = p;
  cap_ = cap;
}

void byte_buffer::release() noexcept { std::free(data_); }

#endif

} // namespace sluice
