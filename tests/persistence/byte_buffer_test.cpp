#define BOOST_TEST_MODULE byte_buffer
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>

#include <unistd.h>

#include "sluice/byte_buffer.hpp"

using sluice::byte_buffer;

namespace {

/// The bytes 0, 1, ..., 250, 0, 1, ... (251 is prime: no power-of-two
/// boundary lines up with the pattern).
char pattern(std::size_t i) { return static_cast<char>(i % 251); }

bool holds_pattern(const byte_buffer& b) {
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] != pattern(i))
      return false;
  return true;
}

double resident_mb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    std::fclose(f);
  }
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

} // namespace

BOOST_AUTO_TEST_CASE(bytes_survive_growth_from_the_heap_into_a_mapping_and_beyond) {
  byte_buffer b;
  BOOST_CHECK(b.empty());
  std::string chunk(1000, '\0');
  std::size_t n = 0;
  while (n < 5 * byte_buffer::mapped_from) {
    for (std::size_t i = 0; i < chunk.size(); ++i)
      chunk[i] = pattern(n + i);
    b.append(chunk);
    n += chunk.size();
    if (n == 1000)
      BOOST_CHECK_LT(b.capacity(), byte_buffer::mapped_from);
  }
  b.push_back(pattern(n++));
  BOOST_CHECK_EQUAL(b.size(), n);
  BOOST_CHECK_GE(b.capacity(), n);
  BOOST_CHECK(holds_pattern(b));
  byte_buffer copy = b;
  BOOST_CHECK(copy == b);
  byte_buffer moved = std::move(copy);
  BOOST_CHECK(moved == b);
  BOOST_CHECK(copy.empty());
  auto cap = b.capacity();
  b.clear();
  BOOST_CHECK(b.empty());
  BOOST_CHECK_EQUAL(b.capacity(), cap);
}

BOOST_AUTO_TEST_CASE(resize_zero_fills_and_cuts) {
  byte_buffer b;
  b.append("held");
  b.resize(6);
  BOOST_CHECK_EQUAL(b.view(), std::string_view("held\0\0", 6));
  b.resize(2);
  BOOST_CHECK_EQUAL(std::string{b.view()}, "he");
  // Grown into a mapping of its own: the new bytes are zero as well.
  b.resize(2 * byte_buffer::mapped_from);
  BOOST_CHECK_GE(b.capacity(), 2 * byte_buffer::mapped_from);
  BOOST_CHECK_EQUAL(b.view().substr(0, 3), std::string_view("he\0", 3));
  BOOST_CHECK(b.view().find_first_not_of('\0', 2) == std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(a_freed_large_buffer_is_given_back_to_the_os_at_once) {
  // What std::string did not do for a full state snapshot once glibc's mmap
  // threshold had risen: its tens of MB stayed resident after the free.
  // (The 1 MiB appended is made first: under ASan a freed heap block stays
  // resident in its quarantine.)
  std::string mib(1 << 20, 'x');
  double before = resident_mb();
  {
    byte_buffer b;
    b.reserve(8 << 20); // reserved, not written: no resident memory
    BOOST_CHECK_LT(resident_mb() - before, 4.0);
    for (int i = 0; i < 64; ++i)
      b.append(mib);
    BOOST_CHECK_GT(resident_mb() - before, 60.0);
  }
  BOOST_CHECK_LT(resident_mb() - before, 4.0);
}
