// chaos_run's files: a run's directories, its input and its output.
#include "run_dirs.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

namespace fs = std::filesystem;

namespace chaos_run {

run_dirs make_dirs(const fs::path& work, const std::string& name) {
  run_dirs d{work / name / "input", work / name / "checkpoint", work / name / "output",
             work / name / "program.log"};
  fs::create_directories(d.input);
  fs::create_directories(d.output);
  return d;
}

std::vector<std::string> substitute(const std::vector<std::string>& command, const run_dirs& d) {
  std::vector<std::string> out;
  for (auto a : command) {
    for (auto [key, value] : {std::pair<std::string, std::string>{"{input}", d.input},
                              {"{checkpoint}", d.checkpoint},
                              {"{output}", d.output}})
      for (auto at = a.find(key); at != std::string::npos; at = a.find(key))
        a.replace(at, key.size(), value);
    out.push_back(a);
  }
  return out;
}

void drop_file(const fs::path& dir, int n, const std::string& text) {
  auto tmp = dir / (".part-" + std::to_string(n) + ".tmp");
  std::ofstream{tmp} << text;
  fs::rename(tmp, dir / ("part-" + std::to_string(n) + ".txt"));
}

std::string newest_output(const fs::path& dir) {
  long long best = -1;
  fs::path file;
  std::error_code ec;
  for (auto& e : fs::directory_iterator{dir, ec}) {
    auto name = e.path().filename().string();
    if (name.empty() || name[0] == '.')
      continue;
    auto digit = name.find_first_of("0123456789");
    if (digit == std::string::npos)
      continue;
    long long n = std::atoll(name.c_str() + digit);
    if (n > best) {
      best = n;
      file = e.path();
    }
  }
  if (best < 0)
    return {};
  std::ifstream in{file};
  return {std::istreambuf_iterator<char>{in}, {}};
}

bool has_output(const fs::path& dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator{dir, ec})
    if (e.path().filename().string()[0] != '.')
      return true;
  return false;
}

} // namespace chaos_run
