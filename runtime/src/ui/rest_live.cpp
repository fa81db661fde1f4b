#include "ui/rest_live.hpp"

#include <nlohmann/json.hpp>

#include "ui/rest_api.hpp"

namespace sluice::detail::ui {

namespace {

using json = nlohmann::ordered_json;

json node_json(const graph_view::node& n) { return json{{"id", n.id}, {"name", n.name}}; }

json checkpoints_json(const checkpoint_record& c) {
  json j;
  j["checkpoints"] = c.count;
  j["checkpointBytes"] = c.bytes;
  j["lastCheckpointBatchTime"] = spark_date(c.last_batch_ms);
  j["lastCheckpointTime"] = spark_date(c.last_time_us / 1000);
  j["lastCheckpointDurationMs"] = static_cast<double>(c.last_duration_us) / 1000.0;
  return j;
}

json stateful_json(const statistics_snapshot& s, const graph_view::node& n) {
  json j;
  j["operatorId"] = n.id;
  j["name"] = n.name;
  if (auto keys = state_keys(s, n.id); keys >= 0)
    j["stateKeys"] = keys;
  if (auto i = s.checkpoints.find(n.id); i != s.checkpoints.end())
    j.update(checkpoints_json(i->second));
  else
    j["checkpoints"] = 0;
  return j;
}

} // namespace

std::string slot_host(const statistics_snapshot& s, int slot) {
  if (s.placement.empty() || slot < 0)
    return "driver";
  return s.placement[static_cast<size_t>(slot) % s.placement.size()];
}

int64_t state_keys(const statistics_snapshot& s, int op) {
  if (!s.actors_sampled_us)
    return -1;
  int64_t keys = 0;
  for (auto& a : s.actors)
    if (a.op == op)
      keys += a.state_keys;
  return keys;
}

int64_t wal_bytes(const statistics_snapshot& s, int stream) {
  int64_t bytes = 0;
  for (auto& a : s.actors)
    if (a.stream == stream)
      bytes += a.wal_bytes;
  return bytes;
}

std::string operators_body(const statistics_snapshot& s) {
  json stages = json::array(), gathers = json::array(), stateful = json::array();
  for (auto& st : s.graph.stages) {
    json j;
    j["id"] = st.id;
    j["slots"] = st.slots;
    j["input"] = st.input;
    json nodes = json::array();
    for (auto& n : st.nodes)
      nodes.push_back(node_json(n));
    j["nodes"] = std::move(nodes);
    json consumers = json::array();
    for (auto& c : st.consumers)
      consumers.push_back(json{{"kind", c.kind}, {"target", c.target}});
    j["consumers"] = std::move(consumers);
    json hosts = json::array();
    for (int i = 0; i < st.slots; ++i)
      hosts.push_back(slot_host(s, i));
    j["hosts"] = std::move(hosts);
    stages.push_back(std::move(j));
    if (st.stateful)
      stateful.push_back(stateful_json(s, *st.stateful));
  }
  for (auto& g : s.graph.gathers) {
    gathers.push_back(json{{"id", g.id},
                           {"node", node_json(g.n)},
                           {"stage", g.stage},
                           {"gathers", g.to_gathers},
                           {"host", "driver"}});
    if (g.checkpointed)
      stateful.push_back(stateful_json(s, g.n));
  }
  json j;
  j["stages"] = std::move(stages);
  j["gathers"] = std::move(gathers);
  j["stateful"] = std::move(stateful);
  if (auto i = s.checkpoints.find(-1); i != s.checkpoints.end())
    j["metadataCheckpoints"] = checkpoints_json(i->second);
  return j.dump();
}

std::string actors_body(const statistics_snapshot& s) {
  json list = json::array();
  for (auto& a : s.actors) {
    json j;
    j["id"] = a.id;
    j["parent"] = a.parent;
    j["name"] = a.kind;
    j["host"] = a.stage >= 0 ? slot_host(s, a.slot) : std::string{"driver"};
    j["mailbox"] = a.mailbox;
    j["restarts"] = a.restarts;
    j["stateKeys"] = a.state_keys;
    j["answered"] = a.answered;
    if (a.op >= 0)
      j["operatorId"] = a.op;
    if (a.stream >= 0) {
      j["streamId"] = a.stream;
      j["walBytes"] = a.wal_bytes;
    }
    list.push_back(std::move(j));
  }
  json j;
  if (s.actors_sampled_us)
    j["sampledAt"] = spark_date(*s.actors_sampled_us / 1000);
  j["actors"] = std::move(list);
  return j.dump();
}

} // namespace sluice::detail::ui
