// byte_buffer: a growable, contiguous run of bytes (as std::string, without
// the terminator) whose large capacities come from the OS directly.
//
// Why not std::string: a full state snapshot packs millions of rows into one
// buffer of tens of MB that lives for one checkpoint. glibc's malloc serves
// such a block from the heap once its dynamic mmap threshold has risen (any
// freed mapped block of that size raises it, up to 32 MB), and a freed block
// at the top of a worker thread's arena then stays resident: neither a free
// under the trim threshold nor malloc_trim gives a non-main arena's top back.
// A byte_buffer of 1 MiB or more is its own mapping: growing it remaps
// (no copy), freeing it unmaps, and capacity never written costs no memory.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

class byte_buffer {
 public:
  using value_type = char;
  using size_type = std::size_t;
  using iterator = char*;
  using const_iterator = const char*;

  /// Capacities from here on are mappings of their own.
  static constexpr std::size_t mapped_from = std::size_t{1} << 20;

  byte_buffer() noexcept = default;
  byte_buffer(const byte_buffer& other) { append(other.data(), other.size()); }
  byte_buffer(byte_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
        cap_(std::exchange(other.cap_, 0)) {}
  byte_buffer& operator=(byte_buffer other) noexcept {
    swap(other);
    return *this;
  }
  ~byte_buffer() { release(); }

  void swap(byte_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(cap_, other.cap_);
  }

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return cap_; }
  bool empty() const noexcept { return size_ == 0; }
  char* begin() noexcept { return data_; }
  char* end() noexcept { return data_ + size_; }
  const char* begin() const noexcept { return data_; }
  const char* end() const noexcept { return data_ + size_; }
  char& operator[](std::size_t i) noexcept { return data_[i]; }
  const char& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::string_view view() const noexcept { return {data_, size_}; }

  /// Makes room for `n` bytes in all (never shrinks; at least doubles, so
  /// reserving a little more at a time stays linear). Throws std::bad_alloc.
  void reserve(std::size_t n) {
    if (n > cap_)
      grow_to(n > 2 * cap_ ? n : 2 * cap_);
  }

  /// Sets the size to `n`; bytes past the old size are zero.
  void resize(std::size_t n) {
    reserve(n);
    if (n > size_)
      std::memset(data_ + size_, 0, n - size_);
    size_ = n;
  }

  /// Empties the buffer and keeps its capacity.
  void clear() noexcept { size_ = 0; }

  void push_back(char c) {
    if (size_ == cap_)
      grow_for(1);
    data_[size_++] = c;
  }

  void append(const char* p, std::size_t n) {
    if (n > cap_ - size_)
      grow_for(n);
    if (n > 0)
      std::memcpy(data_ + size_, p, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }

  friend bool operator==(const byte_buffer& a, const byte_buffer& b) noexcept {
    return a.view() == b.view();
  }

  /// CAF's inspectors: a serializer or deserializer moves the bytes as one
  /// raw sequence (as it does a std::string); other inspectors (to_string)
  /// see a string.
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, byte_buffer& x) {
    if constexpr (requires(std::size_t n) {
                    f.begin_sequence(n);
                    f.apply_raw(n, static_cast<void*>(nullptr));
                    f.end_sequence();
                  }) {
      std::size_t n = x.size();
      if (auto err = f.begin_sequence(n))
        return err;
      if constexpr (!Inspector::reads_state)
        x.resize(n);
      if (n > 0)
        if (auto err = f.apply_raw(n, x.data()))
          return err;
      return f.end_sequence();
    } else {
      std::string text{x.view()};
      return f(text);
    }
  }

 private:
  /// Grows to hold `n` more bytes than now (at least doubling).
  void grow_for(std::size_t n);
  /// Sets the capacity to `cap` (> capacity()), keeping the bytes.
  void grow_to(std::size_t cap);
  void release() noexcept;

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

} // namespace sluice
