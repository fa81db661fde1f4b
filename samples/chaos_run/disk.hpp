// chaos_run's small disk: a tmpfs that holds the faulty run's {checkpoint},
// filled to the last block at a full-disk fault and given back after.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace chaos_run {

/// Moves chaos_run into a mount namespace of its own with every mount
/// private. Its mounts are then seen by chaos_run and the programs it starts
/// (children inherit the namespace), never by the rest of the machine, and
/// vanish with the last of those processes however they end (an exception,
/// SIGKILL, Ctrl-C): no mount can be left behind. Returns why that failed
/// (it needs root or CAP_SYS_ADMIN), or "".
/// @pre The calling thread is the only one (unshare refuses CLONE_NEWNS otherwise).
std::string enter_private_mounts();

/// A tmpfs of a fixed size mounted on a directory, unmounted (its content
/// gone) when the object dies. tmpfs because its size is a mount option,
/// it needs no image file or loop device, and a write past it fails with
/// ENOSPC at once, as on a full disk.
class small_disk {
 public:
  /// Mounts a tmpfs of `bytes` on `at`, creating the directory; throws
  /// std::runtime_error naming the directory and the errno text.
  /// @pre enter_private_mounts() succeeded.
  small_disk(std::filesystem::path at, std::size_t bytes);
  /// Unmounts, lazily (MNT_DETACH) if a process still has a file open on it.
  ~small_disk();
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;

  /// Takes all the room left with a filler file of zeros written until
  /// ENOSPC, as another process filling the disk would: the next write that
  /// needs a new block fails with ENOSPC (SQLite: "database or disk is
  /// full"); writes into blocks a file already has still succeed. Returns
  /// the filler's size in bytes; throws std::runtime_error on any other error.
  std::size_t fill();

  /// Deletes the filler: the room is back.
  void give_back();

  /// Copies what the disk holds (the filler aside) to `to`, to be looked at
  /// after the mount is gone. Errors are printed, not thrown.
  void save_to(const std::filesystem::path& to) const;

  const std::filesystem::path& path() const { return at_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::filesystem::path filler() const { return at_ / ".chaos-run-filler"; }

  std::filesystem::path at_;
  std::size_t bytes_;
};

} // namespace chaos_run
