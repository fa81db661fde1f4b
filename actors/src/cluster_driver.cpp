#include "sluice/cluster_driver.hpp"

#include <algorithm>
#include <sstream>

#include <spdlog/spdlog.h>

#include "sluice/cluster_auth.hpp"
#include "sluice/log.hpp"
#include "sluice/replace_atoms.hpp"

namespace sluice::detail {

namespace {

using self_ptr = caf::stateful_actor<cluster_driver_state>*;

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in{s};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

caf::error refuse(self_ptr self, const worker_hello& h, const std::string& why) {
  logger()->error("cluster: refused worker {}: {}", h.name, why);
  auto& st = self->state;
  st.refusals.push_back("worker " + h.name + " refused: " + why);
  if (st.cfg.refusal_fails && st.waiting.pending())
    st.waiting.deliver(caf::make_error(caf::sec::runtime_error, st.refusals.front()));
  return caf::make_error(caf::sec::runtime_error, why);
}

void deliver_if_ready(self_ptr self) {
  auto& st = self->state;
  if (st.waiting.pending() && st.joined.size() >= st.wanted)
    st.waiting.deliver(st.joined);
}

void lost(self_ptr self, const std::string& name, const std::string& why) {
  auto& st = self->state;
  auto i = std::find_if(st.joined.begin(), st.joined.end(),
                        [&](const worker_hello& h) { return h.name == name; });
  if (i == st.joined.end() || st.ending)
    return;
  auto control = i->control;
  st.joined.erase(i);
  logger()->error("cluster: worker {} lost: {}", name, why);
  // Told so, a worker that only stalled ends when it wakes instead of
  // applying anything twice.
  self->send(control, end_atom::value, "the driver declared this worker lost: " + why);
  if (st.scheduler)
    self->send(st.scheduler, lost_atom::value, name, why);
}

/// A ping to worker `name` was answered by `who`: another worker answering
/// means the links are confused; the worker named is treated as lost.
void check_identity(self_ptr self, const std::string& name, const std::string& who) {
  if (who != name)
    lost(self, name, "worker " + who + " answered its heartbeat");
}

/// CAF reported the link to worker `h` down. With CAF 0.17 that report has
/// been seen to name the wrong worker of two (right after the other one was
/// killed), so it is only a hint: the worker is lost when it does not
/// answer a ping within twice the heartbeat interval (at most the timeout).
void confirm_loss(self_ptr self, const worker_hello& h, std::string why) {
  auto& st = self->state;
  auto wait = std::min<caf::timespan>(st.cfg.timeout, 2 * st.cfg.heartbeat);
  self->request(h.control, wait, ping_atom::value)
    .then([=, name = h.name](std::string& who) { check_identity(self, name, who); },
          [=, name = h.name](caf::error&) { lost(self, name, why); });
}

void heartbeat(self_ptr self) {
  auto& st = self->state;
  for (auto& h : st.joined)
    self->request(h.control, st.cfg.timeout, ping_atom::value)
      .then([=, name = h.name](std::string& who) { check_identity(self, name, who); },
            [=, name = h.name](caf::error& err) {
              auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          self->state.cfg.timeout).count();
              lost(self, name, "no heartbeat answer within " + std::to_string(ms) + " ms ("
                                 + error_text(err) + ")");
            });
  self->delayed_send(self, st.cfg.heartbeat, tick_atom::value);
}

} // namespace

std::string error_text(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() > 0 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

std::optional<std::string> graph_difference(const std::string& driver, const std::string& worker) {
  auto a = lines(driver);
  auto b = lines(worker);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= a.size())
      return "this worker builds an extra node: '" + b[i] + "'";
    if (i >= b.size())
      return "this worker lacks node " + std::to_string(i) + ": the driver builds '" + a[i] + "'";
    if (a[i] != b[i])
      return "node " + std::to_string(i) + " differs: the driver builds '" + a[i]
             + "', this worker builds '" + b[i] + "'";
  }
  return std::nullopt;
}

caf::behavior cluster_driver(caf::stateful_actor<cluster_driver_state>* self,
                             cluster_driver_config cfg) {
  self->state.cfg = std::move(cfg);
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& h : self->state.joined)
      if (h.control.address() == dm.source) {
        confirm_loss(self, h, "its connection closed (" + caf::to_string(dm.reason) + ")");
        return;
      }
  });
  return {
    [=](join_atom, worker_hello& h) -> caf::result<std::string> {
      auto& st = self->state;
      if (h.context != st.cfg.context)
        return refuse(self, h, "it serves context " + std::to_string(h.context)
                           + " of the program, the driver runs context "
                           + std::to_string(st.cfg.context));
      if (auto diff = graph_difference(st.cfg.fingerprint, h.fingerprint))
        return refuse(self, h, "its graph differs from the driver's: " + *diff);
      auto nonce = make_nonce();
      auto name = h.name;
      st.pending[name] = {std::move(h), nonce};
      return nonce;
    },
    [=](prove_atom, const std::string& name, const std::string& proof) -> caf::result<bool> {
      auto& st = self->state;
      auto i = st.pending.find(name);
      if (i == st.pending.end())
        return caf::make_error(caf::sec::runtime_error, "no join pending for worker " + name);
      auto [h, nonce] = std::move(i->second);
      st.pending.erase(i);
      if (auto why = proof_refusal(st.cfg.secret, nonce, proof, "the driver"))
        return refuse(self, h, *why);
      logger()->info("cluster: worker {} joined ({} cores)", h.name, h.cores);
      self->monitor(h.control);
      st.joined.push_back(std::move(h));
      deliver_if_ready(self);
      if (st.scheduler)  // a worker joining the running cluster gets work
        self->send(st.scheduler, join_atom::value, name);
      return true;
    },
    [=](workers_atom, int32_t n) -> caf::result<std::vector<worker_hello>> {
      auto& st = self->state;
      st.wanted = static_cast<size_t>(n);
      if (st.cfg.refusal_fails && !st.refusals.empty())
        return caf::make_error(caf::sec::runtime_error, st.refusals.front());
      if (st.joined.size() >= st.wanted)
        return st.joined;
      st.waiting = self->make_response_promise();
      return st.waiting;
    },
    [=](start_atom, caf::actor scheduler) {
      self->state.scheduler = std::move(scheduler);
      heartbeat(self);
    },
    [=](tick_atom) { heartbeat(self); },
    [=](ping_atom) { return true; },
    [=](end_atom) {
      auto& st = self->state;
      st.ending = true;
      for (auto& h : st.joined)
        self->send(h.control, end_atom::value);
      for (auto& [name, pending] : st.pending)
        self->send(pending.first.control, end_atom::value,
                   std::string{"the driver ended the context before this worker joined"});
      self->quit();
      return true;
    },
  };
}

} // namespace sluice::detail
