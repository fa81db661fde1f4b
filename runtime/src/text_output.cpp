// The file and console side of print and save_as_text_files.
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "sluice/dstream.hpp"

namespace fs = std::filesystem;

namespace sluice::detail {

void format_double(std::ostream& os, double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
    os << static_cast<long long>(d) << ".0"; // Scala prints 1.0, not 1
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  os.write(buf, r.ptr - buf);
}

void print_batch(batch_time t, const std::vector<std::string>& lines, bool more) {
  std::string out = "-------------------------------------------\nTime: " + to_string(t)
                    + "\n-------------------------------------------\n";
  for (auto& l : lines)
    out += l + '\n';
  if (more)
    out += "...\n";
  out += '\n';
  std::cout << out << std::flush;
}

void write_text_batch(const std::string& dir, const std::vector<std::string>& partitions) {
  fs::path target{dir};
  if (target.has_parent_path())
    fs::create_directories(target.parent_path());
  auto tmp = fs::path{dir + "._tmp-" + std::to_string(::getpid())};
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  for (size_t i = 0; i < partitions.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "part-%05zu", i);
    std::ofstream f{tmp / name, std::ios::binary};
    f << partitions[i];
    f.flush();
    if (!f)
      throw error("save_as_text_files: cannot write " + (tmp / name).string());
  }
  std::ofstream{tmp / "_SUCCESS"};
  // A re-run batch replaces its directory: move the old one aside first.
  if (fs::exists(target)) {
    auto old = fs::path{dir + "._old-" + std::to_string(::getpid())};
    fs::remove_all(old);
    fs::rename(target, old);
    fs::rename(tmp, target);
    fs::remove_all(old);
  } else {
    fs::rename(tmp, target);
  }
}

} // namespace sluice::detail
