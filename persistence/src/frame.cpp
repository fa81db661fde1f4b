// Frame encoding and validation.
#include "sluice/frame.hpp"

#include "sluice/crc32c.hpp"

#include <cstdio>
#include <stdexcept>

namespace sluice {

namespace {

void put_u32(std::string& out, std::uint32_t x) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(x >> (8 * i))));
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t x = 0;
  for (int i = 0; i < 4; ++i)
    x |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(p[i])) << (8 * i);
  return x;
}

std::string hex(std::uint32_t x, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%0*X", digits, static_cast<unsigned>(x));
  return buf;
}

std::optional<std::string_view> fail(frame_defect what, std::string msg, std::string* error,
                                     frame_defect* defect) {
  if (defect != nullptr)
    *defect = what;
  if (error != nullptr) {
    if (what == frame_defect::torn)
      *error = "torn frame: " + msg;
    else
      *error = "corrupt frame (" + std::string{to_string(what)} + "): " + msg;
  }
  return std::nullopt;
}

/// Validates the frame at the front of `bytes`; `whole` rejects bytes after it.
/// On success `*frame_size` holds the frame's size in bytes.
std::optional<std::string_view> parse(std::string_view bytes, bool whole, std::size_t* frame_size,
                                      std::string* error, frame_defect* defect) {
  if (!bytes.empty()) {
    auto first = static_cast<std::uint8_t>(bytes[0]);
    if ((first & 0xF0) != frame_magic)
      return fail(frame_defect::bad_magic,
                  "first byte " + hex(first, 2) + ", expected "
                    + hex(frame_magic | frame_version, 2),
                  error, defect);
    if ((first & 0x0F) != frame_version)
      return fail(frame_defect::unsupported_version,
                  "version " + std::to_string(first & 0x0F) + ", this build reads version "
                    + std::to_string(frame_version),
                  error, defect);
  }
  if (bytes.size() < frame_header_size)
    return fail(frame_defect::torn,
                std::to_string(bytes.size()) + " bytes, the header needs "
                  + std::to_string(frame_header_size),
                error, defect);
  auto length = get_u32(bytes.data() + 1);
  if (length > max_frame_payload)
    return fail(frame_defect::bad_length,
                "payload length " + std::to_string(length) + " exceeds the maximum "
                  + std::to_string(max_frame_payload),
                error, defect);
  auto present = bytes.size() - frame_header_size;
  if (present < length)
    return fail(frame_defect::torn,
                "header announces " + std::to_string(length) + " payload bytes, "
                  + std::to_string(present) + " present",
                error, defect);
  if (whole && present > length)
    return fail(frame_defect::bad_length,
                std::to_string(present - length)
                  + (present - length == 1 ? " byte follows the " : " bytes follow the ")
                  + std::to_string(length) + "-byte payload",
                error, defect);
  auto payload = bytes.substr(frame_header_size, length);
  auto stored = get_u32(bytes.data() + 5);
  auto computed = crc32c(payload);
  if (stored != computed)
    return fail(frame_defect::checksum_mismatch,
                "stored CRC-32C " + hex(stored, 8) + ", payload has " + hex(computed, 8),
                error, defect);
  *frame_size = frame_header_size + length;
  return payload;
}

} // namespace

std::string_view to_string(frame_defect x) noexcept {
  switch (x) {
    case frame_defect::torn:
      return "torn";
    case frame_defect::bad_magic:
      return "bad_magic";
    case frame_defect::unsupported_version:
      return "unsupported_version";
    case frame_defect::bad_length:
      return "bad_length";
    case frame_defect::checksum_mismatch:
      return "checksum_mismatch";
  }
  return "unknown";
}

void append_frame(std::string& out, std::string_view payload) {
  if (payload.size() > max_frame_payload)
    throw std::length_error{"sluice::frame: payload of " + std::to_string(payload.size())
                            + " bytes exceeds the maximum of "
                            + std::to_string(max_frame_payload)};
  out.reserve(out.size() + frame_header_size + payload.size());
  out.push_back(static_cast<char>(frame_magic | frame_version));
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32c(payload));
  out.append(payload);
}

std::string frame(std::string_view payload) {
  std::string out;
  append_frame(out, payload);
  return out;
}

std::optional<std::string_view> unframe(std::string_view bytes, std::string* error,
                                        frame_defect* defect) {
  std::size_t size = 0;
  return parse(bytes, true, &size, error, defect);
}

std::optional<std::string_view> next_frame(std::string_view& stream, std::string* error,
                                           frame_defect* defect) {
  std::size_t size = 0;
  auto payload = parse(stream, false, &size, error, defect);
  if (payload)
    stream.remove_prefix(size);
  return payload;
}

} // namespace sluice
