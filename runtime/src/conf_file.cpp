// conf defaults from a file: Spark's spark-defaults.conf, named by the
// environment variable SLUICE_CONF_FILE.
#include <cstdlib>
#include <fstream>

#include "sluice/conf.hpp"
#include "sluice/error.hpp"

namespace sluice {

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

} // namespace

conf::conf() : conf(true) {}

conf::conf(bool load_defaults) {
  if (!load_defaults)
    return;
  if (const char* file = std::getenv("SLUICE_CONF_FILE"); file != nullptr && *file != '\0')
    load_file(file);
}

conf& conf::load_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw invalid_argument("cannot read the configuration file '" + path
                           + "' (SLUICE_CONF_FILE): no such file or not readable");
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    auto line = trim(raw);
    if (line.empty() || line.front() == '#')
      continue;
    auto where = path + ":" + std::to_string(number);
    // The key ends at the first '=' or blank; '=' may have blanks around it.
    auto end = line.find_first_of("= \t");
    auto key = line.substr(0, end);
    std::string value;
    if (end != std::string::npos) {
      value = trim(line.substr(end));
      if (!value.empty() && value.front() == '=')
        value = trim(value.substr(1));
    }
    if (key.empty() || value.empty())
      throw invalid_argument(where + ": expected 'key value' or 'key=value', got '" + line
                             + "'");
    if (key.rfind("sluice.", 0) != 0)
      throw invalid_argument(where + ": key '" + key
                             + "' is not a sluice key (keys start with 'sluice.')");
    try {
      set(key, value);
    } catch (const invalid_argument& e) {
      throw invalid_argument(where + ": key '" + key + "': " + e.what());
    }
  }
  return *this;
}

} // namespace sluice
