// The DStream graph's out-of-line parts: retention for slice(), the graph
// description of checkpoints and its comparisons. Kept out of graph.hpp so
// that every user of <sluice/sluice.hpp> does not parse them.
#include "sluice/graph.hpp"

#include <algorithm>
#include <mutex>

namespace sluice::detail {

struct retention {
  std::mutex mtx;
  duration keep{0};
  std::map<int64_t, std::shared_ptr<const void>> batches;  ///< time -> rdd<T>; guarded by mtx
};

void retain(retention& r, batch_time t, std::shared_ptr<const void> batch) {
  std::lock_guard<std::mutex> guard{r.mtx};
  r.batches[t.ms] = std::move(batch);
  r.batches.erase(r.batches.begin(), r.batches.upper_bound(t.ms - r.keep.count()));
}

graph::graph(duration batch, int parallelism) : batch_(batch), parallelism_(parallelism) {}

graph::~graph() = default;

void graph::add_source(source_base* s) { sources_.push_back(s); }

void graph::enable_retention() {
  if (remember_.count() <= 0)
    return;
  auto factories = std::move(retainers_);
  for (auto& [id, make] : factories) {
    auto r = std::make_shared<retention>();
    r->keep = remember_;
    retentions_.emplace(id, r);
    add(make(r));
  }
}

std::shared_ptr<retention> graph::retained(int id) const {
  auto i = retentions_.find(id);
  return i == retentions_.end() ? nullptr : i->second;
}

std::vector<std::shared_ptr<const void>> graph::slice(int id, const std::string& name,
                                                      duration slide, batch_time from,
                                                      batch_time to) const {
  if (!started())
    throw illegal_state("slice: this DStream has not been initialized (call start() first)");
  auto r = retained(id);
  if (!r)
    throw illegal_state("slice needs ssc.remember(duration) before start() (node '" + name
                        + "')");
  int64_t zero = zero_.ms;
  int64_t s = slide.count();
  auto align = [&](int64_t t) {
    int64_t k = (t - zero) / s - ((t - zero) % s < 0 ? 1 : 0);
    return zero + k * s;
  };
  std::vector<std::shared_ptr<const void>> out;
  std::lock_guard<std::mutex> guard{r->mtx};
  for (int64_t t = std::max(align(from.ms), zero + s); t <= align(to.ms); t += s)
    if (auto i = r->batches.find(t); i != r->batches.end())
      out.push_back(i->second);
  return out;
}

std::vector<std::string> graph::describe() const {
  std::vector<std::string> out;
  for (auto& n : nodes_) {
    std::string line = std::to_string(n->id()) + " " + n->name() + " kind="
                       + std::to_string(static_cast<int>(n->kind())) + " slide="
                       + std::to_string(n->slide().count()) + " parents=";
    for (size_t i = 0; i < n->parents().size(); ++i)
      line += (i ? "," : "") + std::to_string(n->parents()[i]->id());
    if (n->partitions() > 0)
      line += " partitions=" + std::to_string(n->partitions());
    for (auto& [role, type] : n->state_types()) {
      line += type_separator;
      line += role + "=" + type;
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string_view line_without_types(std::string_view line) {
  return line.substr(0, line.find(type_separator));
}

/// Returns nullopt when two graph descriptions have the same nodes, else a
/// message naming the first difference (for a refused recovery). State types
/// are left to state_type_difference.
std::optional<std::string> describe_difference(const std::vector<std::string>& saved,
                                                      const std::vector<std::string>& built) {
  for (size_t i = 0; i < std::max(saved.size(), built.size()); ++i) {
    if (i >= saved.size())
      return "the program builds an extra node: '" + built[i] + "'";
    if (i >= built.size())
      return "the checkpoint has a node the program no longer builds: '" + saved[i] + "'";
    if (line_without_types(saved[i]) != line_without_types(built[i]))
      return "node " + std::to_string(i) + " differs: the checkpoint has '" + saved[i]
             + "', the program builds '" + built[i] + "'";
  }
  return std::nullopt;
}

/// For two descriptions without a describe_difference: returns nullopt when
/// every node's state types are the same, else a message naming the first
/// node whose types changed and each changed type, e.g. "map_with_state
/// (operator 3): state type changed from int64 to int32". A saved line
/// without types (written before types were recorded) matches any types.
std::optional<std::string> state_type_difference(const std::vector<std::string>& saved,
                                                        const std::vector<std::string>& built) {
  // role -> type, in line order
  auto types_of = [](std::string_view line) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto at = line.find(type_separator); at != std::string_view::npos;) {
      line.remove_prefix(at + type_separator.size());
      at = line.find(type_separator);
      auto item = line.substr(0, at);
      auto eq = item.find('=');
      out.emplace_back(item.substr(0, eq),
                       eq == std::string_view::npos ? "" : item.substr(eq + 1));
    }
    return out;
  };
  for (size_t i = 0; i < std::min(saved.size(), built.size()); ++i) {
    auto before = types_of(saved[i]);
    if (before.empty())
      continue;
    auto after = types_of(built[i]);
    std::string changes;
    auto note = [&](const std::string& role, const std::string& from, const std::string& to) {
      changes += (changes.empty() ? "" : ", ") + role + " type changed from " + from + " to "
                 + to;
    };
    for (auto& [role, type] : before) {
      auto j = std::find_if(after.begin(), after.end(), [&](auto& a) { return a.first == role; });
      if (j == after.end())
        note(role, type, "none");
      else if (j->second != type)
        note(role, type, j->second);
    }
    for (auto& [role, type] : after)
      if (std::none_of(before.begin(), before.end(), [&](auto& b) { return b.first == role; }))
        note(role, "none", type);
    if (!changes.empty()) {
      // "<id> <name> kind=..."
      std::string_view line = built[i];
      auto name_at = line.find(' ') + 1;
      auto name = line.substr(name_at, line.find(' ', name_at) - name_at);
      return std::string{name} + " (operator " + std::to_string(i) + "): " + changes;
    }
  }
  return std::nullopt;
}

} // namespace sluice::detail
