// The streaming page: one HTML document whose script polls the REST API and
// draws Chart.js timelines (Debian's libjs-chart.js, served at /static/).
#pragma once

namespace sluice::detail::ui {

/// The page served at "/"; it works without internet access.
const char* streaming_page();

/// Where Debian's libjs-chart.js installs Chart.js 3.9 (served as
/// /static/chart.min.js; without it the page shows its tables only).
inline constexpr const char* chart_js_path = "/usr/share/javascript/chart.js/chart.min.js";

} // namespace sluice::detail::ui
