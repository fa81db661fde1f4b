// Checksummed frames: the envelope of every persisted or transmitted record
// (byte layout in FORMAT.md "Frames").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

/// The first byte of a frame: magic in the high nibble, format version in the low one.
inline constexpr std::uint8_t frame_magic = 0xB0;
inline constexpr std::uint8_t frame_version = 1;

/// Magic/version byte, payload length (uint32 LE), CRC-32C of the payload (uint32 LE).
inline constexpr std::size_t frame_header_size = 9;

/// The largest payload a frame carries (Protobuf's 2 GiB limit).
inline constexpr std::size_t max_frame_payload = 0x7FFFFFFF;

/// What is wrong with bytes that do not hold a valid frame. Persisted in logs
/// and metrics by name only.
enum class frame_defect : std::uint8_t {
  /// Fewer bytes than the header announces: an interrupted write.
  torn = 1,
  /// The first byte is not a frame's (high nibble not 0xB).
  bad_magic,
  /// A frame of a format version this build cannot read.
  unsupported_version,
  /// A length above `max_frame_payload`, or bytes left after the payload.
  bad_length,
  /// The payload does not match its CRC-32C.
  checksum_mismatch,
};

/// Returns "torn", "bad_magic", "unsupported_version", "bad_length" or "checksum_mismatch".
std::string_view to_string(frame_defect x) noexcept;

/// Appends the frame of `payload` to `out`.
/// Throws `std::length_error` if `payload` exceeds `max_frame_payload`.
void append_frame(std::string& out, std::string_view payload);

/// Returns the frame of `payload`: a 9-byte header followed by `payload`.
/// Throws `std::length_error` if `payload` exceeds `max_frame_payload`.
std::string frame(std::string_view payload);

/// Returns the payload of `bytes`, which must be exactly one frame, as a view
/// into `bytes`. On failure returns `std::nullopt`, stores the defect in
/// `*defect` and a message naming it ("torn frame: ...", "corrupt frame
/// (checksum mismatch): ...") in `*error`, each when not null. Never returns a
/// payload that failed its checksum.
std::optional<std::string_view> unframe(std::string_view bytes, std::string* error = nullptr,
                                        frame_defect* defect = nullptr);

/// Returns the payload of the frame at the front of `stream` and drops that
/// frame from `stream`; bytes after it are left for the next call. On failure
/// returns `std::nullopt`, leaves `stream` unchanged and reports as `unframe`
/// does. A frame cut short by the end of `stream` is `frame_defect::torn`.
/// @pre `!stream.empty()`
std::optional<std::string_view> next_frame(std::string_view& stream, std::string* error = nullptr,
                                           frame_defect* defect = nullptr);

} // namespace sluice
