#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "sluice/detail/erased.hpp"

namespace sluice::detail {

namespace {

struct registry {
  std::mutex mtx;
  std::unordered_map<uint64_t, const record_ops*> types;
};

registry& types() {
  static registry r; // constructed on first use: registrations run before main
  return r;
}

} // namespace

bool register_record_type(const record_ops* ops) {
  auto& r = types();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto [i, fresh] = r.types.emplace(ops->key, ops);
  // One type instantiated in two libraries gives two ops with the same name.
  if (!fresh && std::string_view{i->second->type_name} != ops->type_name)
    throw std::logic_error("record types " + demangle(i->second->type_name) + " and "
                           + demangle(ops->type_name) + " have the same key");
  return true;
}

const record_ops* find_record_type(uint64_t key) {
  auto& r = types();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto i = r.types.find(key);
  return i == r.types.end() ? nullptr : i->second;
}

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> readable{
    abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free};
  return status == 0 && readable ? std::string{readable.get()} : std::string{mangled};
}

} // namespace sluice::detail

namespace sluice::detail {

void sort_by_index(parts& ps) {
  std::sort(ps.begin(), ps.end(), [](auto& a, auto& b) { return a.index < b.index; });
}

} // namespace sluice::detail
