#include "cluster_spec.hpp"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

#include "sluice/error.hpp"

namespace sluice::detail {

namespace {

std::optional<long> number(const std::string& s) {
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty())
    return std::nullopt;
  return v;
}

/// Splits "HOST:PORT"; nullopt for anything else.
std::optional<std::pair<std::string, uint16_t>> host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  auto port = number(s.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535)
    return std::nullopt;
  return std::pair{s.substr(0, colon), static_cast<uint16_t>(*port)};
}

struct env_role {
  std::optional<worker_role> role;
  std::string problem;  ///< a malformed variable, reported at the first context
};

std::string take_env(const char* name) {
  const char* v = std::getenv(name);
  std::string out = v != nullptr ? v : "";
  unsetenv(name);
  return out;
}

env_role read_env() {
  env_role out;
  auto where = take_env("SLUICE_WORKER");
  auto cores = take_env("SLUICE_WORKER_CORES");
  auto context = take_env("SLUICE_WORKER_CONTEXT");
  if (where.empty())
    return out;
  worker_role r;
  auto hp = host_port(where);
  if (!hp) {
    out.problem = "invalid SLUICE_WORKER '" + where + "': expected HOST:PORT of the driver";
    return out;
  }
  r.host = hp->first;
  r.port = hp->second;
  if (!cores.empty()) {
    auto c = number(cores);
    if (!c || *c < 1 || *c > 1024) {
      out.problem = "invalid SLUICE_WORKER_CORES '" + cores + "': expected 1 to 1024";
      return out;
    }
    r.cores = static_cast<int>(*c);
  }
  if (!context.empty()) {
    auto c = number(context);
    if (!c || *c < 1) {
      out.problem = "invalid SLUICE_WORKER_CONTEXT '" + context + "': expected a number >= 1";
      return out;
    }
    r.context = static_cast<int>(*c);
  }
  out.role = r;
  return out;
}

// Read before main: the program may start other programs before its first
// context, and those are not workers.
const env_role the_role = read_env();

} // namespace

void bad_master(const std::string& m) {
  throw invalid_argument("invalid master '" + m
                         + "': expected local, local[N] with N >= 1, local[*], "
                           "local-cluster[W,C] with 1 <= W <= 64 workers of 1 <= C <= 256 "
                           "cores, or sluice://HOST:PORT");
}

cluster_spec parse_cluster(const std::string& m) {
  cluster_spec out;
  if (m == "local" || m.rfind("local[", 0) == 0)
    return out;  // parse_master checks the thread count
  auto bad = [&]() -> cluster_spec { bad_master(m); };
  if (m.rfind("local-cluster[", 0) == 0 && m.back() == ']') {
    auto inner = m.substr(14, m.size() - 15);
    auto comma = inner.find(',');
    if (comma == std::string::npos)
      return bad();
    auto w = number(inner.substr(0, comma));
    auto c = number(inner.substr(comma + 1));
    if (!w || !c || *w < 1 || *w > 64 || *c < 1 || *c > 256)
      return bad();
    out.what = cluster_spec::mode::local_cluster;
    out.workers = static_cast<int>(*w);
    out.cores = static_cast<int>(*c);
    return out;
  }
  if (m.rfind("sluice://", 0) == 0) {
    auto hp = host_port(m.substr(9));
    if (!hp)
      return bad();
    out.what = cluster_spec::mode::standalone;
    out.host = hp->first;
    out.port = hp->second;
    return out;
  }
  return bad();
}

const std::optional<worker_role>& process_worker_role() {
  if (!the_role.problem.empty())
    throw invalid_argument(the_role.problem);
  return the_role.role;
}

int next_context_number() {
  static std::atomic<int> next{1};
  return next++;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

} // namespace sluice::detail
