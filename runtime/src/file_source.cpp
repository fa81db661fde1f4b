#include "sluice/detail/file_source.hpp"

#include "sluice/codec.hpp"

#include <algorithm>
#include <fstream>
#include <system_error>

namespace sluice::detail {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

file_source::file_source(duration batch, std::string directory)
    : source_node<std::string>("text_file_stream", batch), dir_(std::move(directory)) {}

bool file_source::ignored(const std::string& name) {
  return name.empty() || name.front() == '.' || name.front() == '_'
         || ends_with(name, "._COPYING_") || ends_with(name, ".tmp");
}

std::string file_source::position() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return encode_to_string(std::vector<std::string>(seen_.begin(), seen_.end()));
}

void file_source::restore_position(const std::string& bytes) {
  auto names = decode_from_string<std::vector<std::string>>(bytes);
  std::lock_guard<std::mutex> guard{mtx_};
  seen_ = std::set<std::string>(names.begin(), names.end());
  restored_ = true;
}

void file_source::start(const source_env&) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (restored_)
      return;
  }
  std::error_code ec;
  if (!fs::is_directory(dir_, ec))
    return; // reported by the first generate
  std::vector<std::string> names;
  try {
    names = list();
  } catch (const error&) {
    return; // likewise
  }
  std::lock_guard<std::mutex> guard{mtx_};
  seen_.insert(names.begin(), names.end());
}

std::vector<std::string> file_source::list() const {
  std::error_code ec;
  auto st = fs::status(dir_, ec);
  if (st.type() == fs::file_type::not_found)
    throw error("text_file_stream: directory '" + dir_ + "' does not exist");
  if (ec)
    throw error("text_file_stream: cannot access directory '" + dir_ + "': " + ec.message());
  if (st.type() != fs::file_type::directory)
    throw error("text_file_stream: '" + dir_ + "' is not a directory");
  std::vector<std::string> names;
  fs::directory_iterator it{dir_, ec};
  if (ec)
    throw error("text_file_stream: cannot list directory '" + dir_ + "': " + ec.message());
  for (; it != fs::directory_iterator{}; it.increment(ec)) {
    if (ec)
      throw error("text_file_stream: cannot list directory '" + dir_ + "': " + ec.message());
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec))
      continue;
    auto name = it->path().filename().string();
    if (!ignored(name))
      names.push_back(std::move(name));
  }
  if (ec)
    throw error("text_file_stream: cannot list directory '" + dir_ + "': " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

bool file_source::read_lines(const fs::path& path, std::vector<std::string>& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    out.push_back(std::move(line));
  }
  return true;
}

std::optional<parts> file_source::generate(batch_time) {
  auto names = list();
  std::lock_guard<std::mutex> guard{mtx_};
  parts out;
  for (auto& name : names) {
    if (seen_.count(name) != 0)
      continue;
    std::vector<std::string> lines;
    if (!read_lines(fs::path{dir_} / name, lines))
      continue; // removed between listing and reading: never became input
    seen_.insert(name);
    out.push_back({static_cast<int32_t>(out.size()), erase(std::move(lines))});
  }
  return out;
}

} // namespace sluice::detail
