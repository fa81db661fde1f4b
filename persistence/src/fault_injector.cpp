// The fault injector: per-point counters and seeded generators behind one mutex.
#include "sluice/fault_injector.hpp"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {

namespace {

constexpr std::string_view conf_prefix = "sluice.fault.";

/// FNV-1a, 64 bit: a point-name hash that is the same on every platform
/// (std::hash is not), so a seed replays anywhere.
std::uint64_t fnv1a_64(std::string_view x) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto c : x) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

} // namespace

struct fault_injector::point_state {
  point_state(std::string_view point, const fault_spec& x)
    : spec(x), rng(x.seed ^ fnv1a_64(point)) {
    // nop
  }

  fault_spec spec;
  std::mt19937_64 rng;
  std::uint64_t hits = 0;
  std::uint64_t fires = 0;
};

fault_injector::fault_injector() = default;

fault_injector::~fault_injector() = default;

namespace {

thread_local fault_injector* scoped = nullptr;  // thread_scope's injector

} // namespace

fault_injector& fault_injector::global() noexcept {
  if (scoped != nullptr)
    return *scoped;
  static auto* instance = new fault_injector;
  return *instance;
}

fault_injector::thread_scope::thread_scope(fault_injector& x) noexcept : previous_(scoped) {
  scoped = &x;
}

fault_injector::thread_scope::~thread_scope() {
  scoped = previous_;
}

void fault_injector::arm(std::string_view point, const fault_spec& spec) {
  validate(point, spec);
  auto state = std::make_unique<point_state>(point, spec);
  std::lock_guard guard{mtx_};
  if (auto i = points_.find(point); i != points_.end()) {
    i->second = std::move(state);
    return;
  }
  points_.emplace(std::string{point}, std::move(state));
  armed_count_.store(points_.size(), std::memory_order_relaxed);
}

void fault_injector::arm_from_conf(const std::map<std::string, std::string>& entries) {
  std::vector<std::pair<std::string_view, fault_spec>> specs;
  for (const auto& [key, value] : entries) {
    if (!key.starts_with(conf_prefix))
      continue;
    auto point = std::string_view{key}.substr(conf_prefix.size());
    if (point.empty())
      throw fault_config_error{key + "=" + value + ": the key names no fault point"};
    auto spec = parse_fault_spec(key, value);
    validate(point, spec);
    specs.emplace_back(point, spec);
  }
  for (const auto& [point, spec] : specs)
    arm(point, spec);
}

bool fault_injector::disarm(std::string_view point) {
  std::lock_guard guard{mtx_};
  auto i = points_.find(point);
  if (i == points_.end())
    return false;
  points_.erase(i);
  armed_count_.store(points_.size(), std::memory_order_relaxed);
  return true;
}

void fault_injector::disarm_all() {
  std::lock_guard guard{mtx_};
  points_.clear();
  armed_count_.store(0, std::memory_order_relaxed);
}

fault_action fault_injector::check_armed(std::string_view point) {
  std::lock_guard guard{mtx_};
  auto i = points_.find(point);
  if (i == points_.end())
    return {};
  auto& st = *i->second;
  ++st.hits;
  if (st.hits <= st.spec.after || (st.spec.times && st.fires >= *st.spec.times))
    return {};
  // The top 53 bits as a double in [0, 1): portable, unlike
  // std::uniform_real_distribution, whose algorithm each library picks.
  auto draw = static_cast<double>(st.rng() >> 11) * 0x1.0p-53;
  if (draw >= st.spec.probability)
    return {};
  ++st.fires;
  return st.spec.action;
}

fault_kind fault_injector::perform(std::string_view point, const fault_action& action) {
  switch (action.kind) {
    case fault_kind::throw_error:
      throw injected_fault{point};
    case fault_kind::delay:
      std::this_thread::sleep_for(action.duration);
      break;
    case fault_kind::crash:
      std::fprintf(stderr, "sluice: injected crash at %.*s\n", static_cast<int>(point.size()),
                   point.data());
      std::fflush(stderr);
      if (action.exit_code < 0)
        std::abort();
      std::_Exit(action.exit_code);
    default:
      break;
  }
  return action.kind;
}

std::uint64_t fault_injector::hits(std::string_view point) const {
  std::lock_guard guard{mtx_};
  auto i = points_.find(point);
  return i == points_.end() ? 0 : i->second->hits;
}

std::uint64_t fault_injector::fires(std::string_view point) const {
  std::lock_guard guard{mtx_};
  auto i = points_.find(point);
  return i == points_.end() ? 0 : i->second->fires;
}

} // namespace sluice
