// actor_probe: the live view of the engine's actors (issue 13's supervision
// tree). Every sluice actor answers `(introspect_atom) ->
// std::vector<actor_report>` with its own report, taken between two of its
// messages, and a parent actor (the executor) adds its children's. Nothing
// of it runs unless someone asks: the actor_sampler asks once per interval.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "sluice/messages.hpp"

namespace sluice::detail {

/// `self`'s report: its name as kind and the messages waiting in its queues
/// (those CAF has taken from its inbox: see actor_probe.cpp).
/// The id and parent are left for whoever asked (report_with_children, the
/// sampler).
actor_report self_report(caf::scheduled_actor* self);

/// An actor to ask, the id its report gets and its parent's id (empty: the
/// one asking).
struct probe_target {
  std::string id;
  caf::actor handle;
  std::string parent;
};

/// How long an actor that reports children (the executor, the job
/// scheduler) waits for them; the sampler gives it at least twice that.
constexpr std::chrono::milliseconds child_probe_timeout{250};

/// Answers an introspect request: `self`'s own report under `id`, then
/// every child's reports, each child's own report named by its id here and
/// parented to `id`. A child that fails or does not answer within `timeout`
/// is left out (it may be busy with a long batch, or gone).
caf::result<std::vector<actor_report>>
report_with_children(caf::event_based_actor* self, std::string id,
                     std::vector<probe_target> children,
                     std::chrono::milliseconds timeout = child_probe_timeout);

/// Every `interval` asks each target for its reports (each gets `interval`,
/// at least 500 ms, to answer; the next round starts `interval` after every
/// target answered or timed out) and passes them, in target order, to `on_sample` with the time the
/// round ended (us since the epoch). The targets' own reports get their id
/// here and their parent ("context" when the target names none). Runs until it is sent an exit.
caf::behavior actor_sampler(caf::event_based_actor* self, std::vector<probe_target> targets,
                            std::chrono::milliseconds interval,
                            std::function<void(std::vector<actor_report>, int64_t)> on_sample);

} // namespace sluice::detail
