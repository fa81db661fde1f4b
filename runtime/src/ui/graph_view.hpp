// graph_view_of: what the web UI shows of the planner's stages and gathers.
#pragma once

#include "sluice/plan.hpp"
#include "ui/statistics.hpp"

namespace sluice::detail::ui {

/// The plan's stages (with their fused nodes, slots, inputs and consumers)
/// and gathers, by id.
graph_view graph_view_of(const plan& p);

} // namespace sluice::detail::ui
