// The streaming page: one HTML document whose script polls the REST API and
// draws Chart.js timelines and histograms (Debian's libjs-chart.js, served
// at /static/), the tables, the operator graph and the supervision tree.
#pragma once

namespace sluice::detail::ui {

/// The page served at "/"; it works without internet access. Built once
/// (thread-safe) from the parts below; the pointer lives for the process.
const char* streaming_page();

/// Where Debian's libjs-chart.js installs Chart.js 3.9 (served as
/// /static/chart.min.js; without it the page shows its tables only).
inline constexpr const char* chart_js_path = "/usr/share/javascript/chart.js/chart.min.js";

/// The parts of the page's one <script>, concatenated in this order by
/// streaming_page() (page.cpp): its helpers (row(), json(), `base`, the
/// tables) come first, so the parts may call them; refresh() is started last.
/// Every API value reaches the document through textContent, never as HTML.
namespace page_parts {

/// page_charts.cpp: drawCharts(batches): the four timelines and their
/// histograms over the retained completed batches.
const char* charts_script();

/// page_topology.cpp: refreshTopology(): the operator graph (from
/// .../streaming/operators) and the supervision tree (.../streaming/actors),
/// each section reporting its own failures, never the page's #error.
const char* topology_script();

} // namespace page_parts

} // namespace sluice::detail::ui
