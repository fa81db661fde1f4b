#include "sluice/transport.hpp"

#include <random>

#include "sluice/error.hpp"

namespace sluice::detail {

transport::transport(caf::node_id node, bool always_bytes)
    : node_(std::move(node)), always_bytes_(always_bytes) {
  std::random_device rd;
  origin_ = (static_cast<uint64_t>(rd()) << 32) | rd();
  if (origin_ == 0)
    origin_ = 1;
}

records_msg transport::pack(erased data, const caf::node_id& to) {
  records_msg m;
  if (!data)
    return m;
  if (by_handle(to)) {
    m.origin = origin_;
    m.local = keep_records(std::move(data));
    return m;
  }
  auto* ops = data.ops();
  if (!ops || !ops->encode)
    throw error("records of type " + (ops ? demangle(ops->type_name) : std::string{"?"})
                + " must be sent as bytes but the type has no sluice::codec");
  m.type = ops->key;
  ops->encode(data.get(), m.bytes);
  return m;
}

std::vector<part_msg> transport::pack(parts data, const caf::node_id& to) {
  std::vector<part_msg> out;
  out.reserve(data.size());
  for (auto& p : data)
    out.push_back({p.index, pack(std::move(p.data), to)});
  return out;
}

std::vector<part_msg> transport::encode_copy(const parts& data) const {
  std::vector<part_msg> out;
  out.reserve(data.size());
  for (auto& p : data) {
    part_msg pm{p.index, {}};
    if (p.data) {
      auto* ops = p.data.ops();
      if (!ops || !ops->encode)
        throw error("records of type " + (ops ? demangle(ops->type_name) : std::string{"?"})
                    + " cannot be kept for a re-run: the type has no sluice::codec");
      pm.data.type = ops->key;
      ops->encode(p.data.get(), pm.data.bytes);
    }
    out.push_back(std::move(pm));
  }
  return out;
}

erased transport::unpack(records_msg& m) {
  if (m.local != 0) {
    if (m.origin != origin_)
      throw error("received a records handle of another process (origin "
                  + std::to_string(m.origin) + "): records between nodes must be encoded");
    auto x = take_records(m.local);
    if (!x)
      throw error("received records handle " + std::to_string(m.local)
                  + " that this process does not hold (taken twice?)");
    return std::move(*x);
  }
  if (m.type == 0)
    return {};
  auto* ops = find_record_type(m.type);
  if (!ops || !ops->decode)
    throw error("received records of unknown type key " + std::to_string(m.type)
                + ": every node must run the same executable");
  auto result = ops->decode(m.bytes);
  m.bytes.clear();
  return result;
}

parts transport::unpack(std::vector<part_msg>& m) {
  parts out;
  out.reserve(m.size());
  for (auto& p : m)
    out.push_back({p.index, unpack(p.data)});
  return out;
}

transport::slot* transport::find(uint64_t handle) {
  uint64_t index = (handle & 0xffffffffu) - 1;
  if (index >= slots_.size())
    return nullptr;
  auto& s = slots_[index];
  if (!s.used || s.generation != static_cast<uint32_t>(handle >> 32))
    return nullptr;
  return &s;
}

uint64_t transport::put(slot&& x) {
  uint32_t index;
  if (free_.empty()) {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_.back();
    free_.pop_back();
  }
  auto& s = slots_[index];
  s.records = std::move(x.records);
  s.object = std::move(x.object);
  s.used = true;
  return (uint64_t{s.generation} << 32) | (uint64_t{index} + 1);
}

uint64_t transport::keep(std::any x) {
  std::lock_guard<std::mutex> guard{mtx_};
  return put({{}, std::move(x)});
}

uint64_t transport::keep_records(erased x) {
  std::lock_guard<std::mutex> guard{mtx_};
  return put({std::move(x), {}});
}

std::optional<std::any> transport::take(uint64_t handle) {
  std::optional<std::any> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto* s = find(handle);
    if (!s)
      return out;
    if (s->records)
      out.emplace(std::move(s->records));
    else
      out.emplace(std::move(s->object));
    release(*s, handle);
  }
  return out;
}

std::optional<erased> transport::take_records(uint64_t handle) {
  std::optional<erased> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto* s = find(handle);
    if (!s)
      return out;
    if (!s->records && s->object.has_value())
      throw error("records handle " + std::to_string(handle) + " holds another object");
    out.emplace(std::move(s->records));
    release(*s, handle);
  }
  return out;
}

void transport::release(slot& s, uint64_t handle) {
  s.records.reset();
  s.object.reset();
  s.used = false;
  ++s.generation;
  free_.push_back(static_cast<uint32_t>((handle & 0xffffffffu) - 1));
}

size_t transport::kept() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return slots_.size() - free_.size();
}

} // namespace sluice::detail
