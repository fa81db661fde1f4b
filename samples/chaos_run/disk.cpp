// chaos_run's small disk: a tmpfs filled at a full-disk fault.
#include "disk.hpp"

#include <cerrno>
#include <iostream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace chaos_run {

namespace {

std::string errno_text(const std::string& what, int err = errno) {
  return what + ": " + std::generic_category().message(err);
}

} // namespace

std::string enter_private_mounts() {
  if (::unshare(CLONE_NEWNS) != 0)
    return errno_text("unshare(CLONE_NEWNS)") + " (needs root or CAP_SYS_ADMIN)";
  // Without this, a mount below a shared mount (systemd makes / shared)
  // would propagate back to the machine's namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return errno_text("mount(/, MS_REC | MS_PRIVATE)");
  return {};
}

small_disk::small_disk(fs::path at, std::size_t bytes) : at_(std::move(at)), bytes_(bytes) {
  fs::create_directories(at_);
  auto options = "size=" + std::to_string(bytes) + ",mode=0755";
  if (::mount("tmpfs", at_.c_str(), "tmpfs", 0, options.c_str()) != 0)
    throw std::runtime_error(errno_text("mount -t tmpfs -o " + options + " tmpfs " + at_.string()));
}

small_disk::~small_disk() {
  if (::umount2(at_.c_str(), 0) != 0 && ::umount2(at_.c_str(), MNT_DETACH) != 0)
    std::cerr << "chaos_run: " << errno_text("umount " + at_.string()) << '\n';
}

std::size_t small_disk::fill() {
  auto path = filler();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    throw std::runtime_error(errno_text("cannot create " + path.string()));
  std::vector<char> zeros(64 * 1024, 0);
  std::size_t written = 0;
  for (;;) {
    auto n = ::write(fd, zeros.data(), zeros.size());
    if (n > 0) {
      written += static_cast<std::size_t>(n); // the last one may be short: ENOSPC comes next
      continue;
    }
    int err = errno;
    if (n < 0 && err == EINTR)
      continue;
    ::close(fd);
    if (n < 0 && err == ENOSPC)
      return written;
    throw std::runtime_error(errno_text("cannot fill " + path.string(), n < 0 ? err : EIO));
  }
}

void small_disk::give_back() {
  std::error_code ec;
  fs::remove(filler(), ec);
  if (ec)
    throw std::runtime_error("cannot delete " + filler().string() + ": " + ec.message());
}

void small_disk::save_to(const fs::path& to) const {
  std::error_code ec;
  fs::create_directories(to, ec);
  for (auto& e : fs::directory_iterator{at_, ec}) {
    if (e.path() == filler())
      continue;
    std::error_code copy_ec;
    fs::copy(e.path(), to / e.path().filename(), fs::copy_options::recursive, copy_ec);
    if (copy_ec)
      std::cerr << "chaos_run: cannot copy " << e.path() << " to " << to << ": "
                << copy_ec.message() << '\n';
  }
  if (ec)
    std::cerr << "chaos_run: cannot list or create " << at_ << ", " << to << ": " << ec.message()
              << '\n';
}

} // namespace chaos_run
