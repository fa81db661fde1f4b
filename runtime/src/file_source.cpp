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

namespace {

using batch_files = std::vector<std::pair<int64_t, std::vector<std::string>>>;
using position_v2 = std::pair<std::vector<std::string>, batch_files>;

} // namespace

// Position bytes: codec<pair<vector<string> seen, vector<pair<int64, vector<string>>>
// read by batch>> (FORMAT.md "Source positions"). A checkpoint of the first
// format, codec<vector<string>> alone, still decodes: it fails the new
// decode, which needs a second vector after the first.
std::string file_source::position() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return encode_to_string(
    position_v2{std::vector<std::string>(seen_.begin(), seen_.end()),
                batch_files(read_by_batch_.begin(), read_by_batch_.end())});
}

void file_source::restore_position(const std::string& bytes) {
  position_v2 pos;
  try {
    pos = decode_from_string<position_v2>(bytes);
  } catch (const std::exception&) {
    pos.first = decode_from_string<std::vector<std::string>>(bytes);
  }
  std::lock_guard<std::mutex> guard{mtx_};
  seen_ = std::set<std::string>(pos.first.begin(), pos.first.end());
  read_by_batch_ = std::map<int64_t, std::vector<std::string>>(pos.second.begin(),
                                                               pos.second.end());
  restored_upto_ = read_by_batch_.empty() ? -1 : read_by_batch_.rbegin()->first;
  restored_ = true;
}

void file_source::start(const source_env& env) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    replay_window_ = env.replay_window;
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

parts file_source::replay(batch_time t, const std::vector<std::string>& names) const {
  parts out;
  for (auto& name : names) {
    std::vector<std::string> lines;
    if (!read_lines(fs::path{dir_} / name, lines))
      throw error("text_file_stream: cannot replay batch " + to_string(t) + " after recovery: "
                  "its file '" + (fs::path{dir_} / name).string() + "' is gone");
    out.push_back({static_cast<int32_t>(out.size()), erase(std::move(lines))});
  }
  return out;
}

std::optional<parts> file_source::generate(batch_time t) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (t.ms <= restored_upto_) {
      auto i = read_by_batch_.find(t.ms);
      return i == read_by_batch_.end() ? parts{} : replay(t, i->second);
    }
  }
  auto names = list();
  std::lock_guard<std::mutex> guard{mtx_};
  parts out;
  std::vector<std::string> read;
  for (auto& name : names) {
    if (seen_.count(name) != 0)
      continue;
    std::vector<std::string> lines;
    if (!read_lines(fs::path{dir_} / name, lines))
      continue; // removed between listing and reading: never became input
    seen_.insert(name);
    read.push_back(name);
    out.push_back({static_cast<int32_t>(out.size()), erase(std::move(lines))});
  }
  read_by_batch_[t.ms] = std::move(read);
  return out;
}

void file_source::on_batch_completed(const batch_info& info, int64_t) {
  std::lock_guard<std::mutex> guard{mtx_};
  read_by_batch_.erase(read_by_batch_.begin(),
                       read_by_batch_.upper_bound(info.time.ms - replay_window_.count()));
}

} // namespace sluice::detail
