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
    m.local = keep(std::move(data));
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
    auto x = take(m.local);
    if (!x)
      throw error("received records handle " + std::to_string(m.local)
                  + " that this process does not hold (taken twice?)");
    return std::any_cast<erased>(std::move(*x));
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

uint64_t transport::keep(std::any x) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto id = next_++;
  objects_.emplace(id, std::move(x));
  return id;
}

std::optional<std::any> transport::take(uint64_t handle) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = objects_.find(handle);
  if (i == objects_.end())
    return std::nullopt;
  auto x = std::move(i->second);
  objects_.erase(i);
  return x;
}

size_t transport::kept() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return objects_.size();
}

} // namespace sluice::detail
