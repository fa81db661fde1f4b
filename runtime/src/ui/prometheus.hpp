// /metrics: the statistics in the Prometheus text exposition format 0.0.4.
#pragma once

#include <string>

#include "ui/rest_api.hpp"
#include "ui/statistics.hpp"

namespace sluice::detail::ui {

/// Every metric is named sluice_streaming_*; delays are histograms in
/// seconds over every completed batch (not only the retained ones).
std::string prometheus_text(const statistics_snapshot& s, const app_info& app);

} // namespace sluice::detail::ui
