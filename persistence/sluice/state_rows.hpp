// state_rows: the rows of one state checkpoint as a stateful operator hands
// them to the checkpoint writer (FORMAT.md "Checkpoint tables"): (key, value)
// pairs of codec bytes, packed into one buffer. A full snapshot of millions
// of keys is then one growing string, not two strings a key: encoding it
// costs no allocation per key, and the memory it holds is the bytes plus
// a length byte or two per key and value. The buffer is a byte_buffer: a
// snapshot's tens of MB are a mapping of their own, given back to the OS
// when the checkpoint is stored (byte_buffer.hpp says why).
//
// The buffer holds, per row: the key's length (LEB128), the key, the
// value's length, the value. It never reaches the disk (the checkpoint writer
// writes StateCheckpointChunk messages); it crosses processes inside
// state_write_msg, so a malformed buffer makes iteration throw codec_error
// rather than read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/byte_buffer.hpp"

namespace sluice {

class state_rows {
 public:
  using row = std::pair<std::string_view, std::string_view>;

  state_rows() = default;
  state_rows(std::initializer_list<row> rows);
  state_rows(const std::vector<std::pair<std::string, std::string>>& rows);

  /// Appends the row (key, value).
  void add(std::string_view key, std::string_view value) {
    put(key);
    put(value);
    ++size_;
  }

  /// Appends a row whose bytes `encode_key(out)` and `encode_value(out)`
  /// append to `out` (a codec's encode), with no copy in between.
  template <class EncodeKey, class EncodeValue>
  void add_encoded(EncodeKey&& encode_key, EncodeValue&& encode_value) {
    put_encoded(encode_key);
    put_encoded(encode_value);
    ++size_;
  }

  void clear() {
    data_.clear();
    size_ = payload_ = 0;
  }

  /// Reserves room for `bytes` more of packed rows.
  void reserve(std::size_t bytes) { data_.reserve(data_.size() + bytes); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// The bytes of the keys and values, without their lengths.
  std::size_t payload_bytes() const { return payload_; }
  /// The packed buffer's size: what the rows hold in memory.
  std::size_t packed_bytes() const { return data_.size(); }

  /// Reads the rows in the order they were added (a forward pass; copies
  /// of an iterator read on independently).
  class iterator {
   public:
    using value_type = row;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    row operator*() const { return row_; }
    iterator& operator++() {
      if (++at_ < size_)
        read();
      else
        finish();
      return *this;
    }
    iterator operator++(int) {
      auto old = *this;
      ++*this;
      return old;
    }
    /// Where the next row starts (the buffer's end after the last).
    const char* position() const { return p_; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.at_ == b.at_; }

   private:
    friend class state_rows;
    iterator(const char* p, const char* end, std::size_t at, std::size_t size)
        : p_(p), end_(end), at_(at), size_(size) {
      if (at_ < size_)
        read();
      else
        finish();
    }
    /// Reads the row at p_ into row_; throws codec_error past the end.
    void read();
    /// After the last row: throws codec_error if bytes remain.
    void finish() const;

    const char* p_ = nullptr;
    const char* end_ = nullptr;
    std::size_t at_ = 0;    // index of row_ (size_ at the end)
    std::size_t size_ = 0;
    row row_;
  };

  iterator begin() const {
    return iterator{data_.data(), data_.data() + data_.size(), 0, size_};
  }
  iterator end() const { return iterator{nullptr, nullptr, size_, size_}; }

  friend bool operator==(const state_rows& a, const state_rows& b) {
    return a.size_ == b.size_ && a.data_ == b.data_;
  }

  /// CAF's inspectors (state_write_msg crosses processes in cluster mode).
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, state_rows& x) {
    return f(x.data_, x.size_, x.payload_);
  }

 private:
  void put_length(std::size_t n) {
    while (n >= 0x80) {
      data_.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    data_.push_back(static_cast<char>(n));
  }

  void put(std::string_view bytes) {
    put_length(bytes.size());
    data_.append(bytes);
    payload_ += bytes.size();
  }

  /// Codecs encode into a std::string: `scratch_`, reused, then copied in
  /// (a few bytes a key; the buffer itself is not a std::string).
  template <class Encode>
  void put_encoded(Encode& encode) {
    scratch_.clear();
    encode(scratch_);
    put(scratch_);
  }

  byte_buffer data_;
  std::string scratch_;        // put_encoded's encoding, not part of the rows
  std::uint64_t size_ = 0;     // rows
  std::uint64_t payload_ = 0;  // key and value bytes
};

} // namespace sluice
