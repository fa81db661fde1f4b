// fault_plan: which fault strikes which batch, decided by (seed, batch, kind)
// alone, and its text form.
#include <charconv>
#include <cmath>
#include <sstream>

#include "sluice/testing.hpp"

namespace sluice::testing {

namespace {

constexpr std::string_view point_prefix = "point:";

std::uint64_t fnv1a_64(std::string_view s) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// SplitMix64's finalizer: a well-mixed 64-bit value from any input, the same
// on every platform (std::uniform_real_distribution is not).
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// A draw in [0, 1) for (seed, batch, kind).
double draw(std::uint64_t seed, std::int64_t batch, const fault& f) {
  auto x = mix(mix(seed) ^ mix(static_cast<std::uint64_t>(batch)) ^ fnv1a_64(f.to_string()));
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

[[noreturn]] void bad(std::string_view text, const std::string& why) {
  throw invalid_argument("fault_plan::parse: cannot read \"" + std::string{text} + "\": " + why
                         + " (expected \"none\", \"faults <batch>=<fault>,...\" or \"random "
                           "seed=<n> p=<0..1> kinds=<fault>,...\", a fault being operator_error, "
                           "process_crash, storage_full, torn_write, worker_loss, worker_stall, "
                           "receiver_crash, worker_loss_mid_batch or point:<name>)");
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos)
      return out;
    s.remove_prefix(i + 1);
  }
}

template <class N>
bool read_number(std::string_view s, N& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

fault read_fault(std::string_view text, std::string_view s) {
  if (s == "operator_error")
    return operator_error;
  if (s == "process_crash")
    return process_crash;
  if (s == "storage_full")
    return storage_full;
  if (s == "torn_write")
    return torn_write;
  if (s == "worker_loss")
    return worker_loss;
  if (s == "worker_stall")
    return worker_stall;
  if (s == "receiver_crash")
    return receiver_crash;
  if (s == "worker_loss_mid_batch")
    return worker_loss_mid_batch;
  if (s.substr(0, point_prefix.size()) == point_prefix) {
    try {
      return fault::user_point(std::string{s.substr(point_prefix.size())});
    } catch (const invalid_argument& e) {
      bad(text, e.what());
    }
  }
  bad(text, "unknown fault \"" + std::string{s} + "\"");
}

} // namespace

fault fault::user_point(std::string name) {
  if (name.empty() || name.find_first_of(" ,=;\t\n") != std::string::npos)
    throw invalid_argument("fault::user_point: expected a non-empty name without spaces, ',', "
                           "'=' or ';', got \"" + name + "\"");
  return fault{fault_type::user_point, std::move(name)};
}

std::string fault::to_string() const {
  switch (type) {
    case fault_type::operator_error:
      return "operator_error";
    case fault_type::process_crash:
      return "process_crash";
    case fault_type::storage_full:
      return "storage_full";
    case fault_type::torn_write:
      return "torn_write";
    case fault_type::worker_loss:
      return "worker_loss";
    case fault_type::worker_stall:
      return "worker_stall";
    case fault_type::receiver_crash:
      return "receiver_crash";
    case fault_type::worker_loss_mid_batch:
      return "worker_loss_mid_batch";
    case fault_type::user_point:
      break;
  }
  return std::string{point_prefix} + point;
}

fault_plan fault_plan::random(std::uint64_t seed, std::vector<fault> kinds, double per_batch) {
  if (!(per_batch >= 0.0 && per_batch <= 1.0))
    throw invalid_argument("fault_plan::random: expected a per-batch probability in [0, 1], got "
                           + std::to_string(per_batch));
  if (kinds.empty())
    throw invalid_argument("fault_plan::random: expected at least one kind of fault, got none");
  fault_plan p;
  p.random_ = random_spec{seed, std::move(kinds), per_batch};
  return p;
}

fault_plan fault_plan::explicit_faults(std::map<std::int64_t, fault> faults) {
  for (auto& [i, f] : faults)
    if (i < 1)
      throw invalid_argument("fault_plan::explicit_faults: batch indexes start at 1, got "
                             + std::to_string(i) + " (" + f.to_string() + ")");
  fault_plan p;
  p.faults_ = std::move(faults);
  return p;
}

std::optional<fault> fault_plan::at(std::int64_t index) const {
  if (random_) {
    for (auto& k : random_->kinds)
      if (draw(random_->seed, index, k) < random_->per_batch)
        return k;
    return std::nullopt;
  }
  if (auto i = faults_.find(index); i != faults_.end())
    return i->second;
  return std::nullopt;
}

std::map<std::int64_t, fault> fault_plan::faults_until(std::int64_t batches) const {
  std::map<std::int64_t, fault> out;
  for (std::int64_t i = 1; i <= batches; ++i)
    if (auto f = at(i))
      out.emplace(i, *f);
  return out;
}

std::string fault_plan::to_string() const {
  std::ostringstream os;
  if (random_) {
    // Shortest text that reads back to the same double.
    char p[32];
    auto [end, ec] = std::to_chars(p, p + sizeof(p), random_->per_batch);
    os << "random seed=" << random_->seed << " p=" << std::string_view{p, end} << " kinds=";
    for (size_t i = 0; i < random_->kinds.size(); ++i)
      os << (i ? "," : "") << random_->kinds[i].to_string();
    return os.str();
  }
  if (faults_.empty())
    return "none";
  os << "faults ";
  bool first = true;
  for (auto& [i, f] : faults_) {
    os << (first ? "" : ",") << i << '=' << f.to_string();
    first = false;
  }
  return os.str();
}

fault_plan fault_plan::parse(std::string_view text) {
  auto words = split(text, ' ');
  if (words.size() == 1 && words[0] == "none")
    return {};
  if (words.size() == 2 && words[0] == "faults") {
    std::map<std::int64_t, fault> faults;
    for (auto item : split(words[1], ',')) {
      auto eq = item.find('=');
      std::int64_t i = 0;
      if (eq == std::string_view::npos || !read_number(item.substr(0, eq), i) || i < 1)
        bad(text, "\"" + std::string{item} + "\" is not <batch index >= 1>=<fault>");
      if (!faults.emplace(i, read_fault(text, item.substr(eq + 1))).second)
        bad(text, "batch " + std::to_string(i) + " has two faults");
    }
    return explicit_faults(std::move(faults));
  }
  if (words.size() == 4 && words[0] == "random") {
    auto value = [&](std::string_view w, std::string_view key) {
      if (w.substr(0, key.size()) != key)
        bad(text, "expected " + std::string{key} + "..., got \"" + std::string{w} + "\"");
      return w.substr(key.size());
    };
    std::uint64_t seed = 0;
    double p = 0;
    if (!read_number(value(words[1], "seed="), seed))
      bad(text, "the seed is not a non-negative integer");
    if (!read_number(value(words[2], "p="), p) || !(p >= 0.0 && p <= 1.0))
      bad(text, "p is not a number in [0, 1]");
    std::vector<fault> kinds;
    for (auto k : split(value(words[3], "kinds="), ','))
      kinds.push_back(read_fault(text, k));
    return random(seed, std::move(kinds), p);
  }
  bad(text, "unknown form");
}

std::string to_string(const std::vector<trace_event>& trace) {
  std::string out;
  for (auto& e : trace)
    out += "batch " + std::to_string(e.batch) + ": " + e.what + "\n";
  return out;
}

} // namespace sluice::testing
