// The page's timelines and histograms (part of its script: see page.hpp).
#include "ui/page.hpp"

namespace sluice::detail::ui::page_parts {

const char* charts_script() {
  return R"page(
const charts = {};
const histograms = {};
const series = {
  inputRate: ['input rate (records/s)', b => b.inputSize * 1000 / b.batchDuration],
  schedulingDelay: ['scheduling delay (ms)', b => b.schedulingDelay],
  processingTime: ['processing time (ms)', b => b.processingTime],
  totalDelay: ['total delay (ms)', b => b.totalDelay],
};
const HIST_BINS = 10;

/// How the histograms bin (as Spark's Streaming tab, client side): HIST_BINS
/// equal-width bins from the smallest to the largest value, width
/// (max - min) / HIST_BINS; v falls in bin floor((v - min) / width), the
/// largest value in the last bin (the last bin is closed on both sides, the
/// others on the left only). When every value is the same (or there is one),
/// width is 1 and they all fall in the first bin. The counts add up to the
/// number of values: the test (ui_page_test) bins the REST API's batches the
/// same way, in doubles as JavaScript's numbers, and compares bin by bin.
function histogram(values) {
  const counts = new Array(HIST_BINS).fill(0);
  if (!values.length) return { counts, min: 0, width: 1 };
  let min = values[0], max = values[0];
  for (const v of values) { if (v < min) min = v; if (v > max) max = v; }
  const width = max > min ? (max - min) / HIST_BINS : 1;
  for (const v of values) counts[Math.min(HIST_BINS - 1, Math.floor((v - min) / width))]++;
  return { counts, min, max, width };
}

function fmt(x) { return Number.isInteger(x) ? String(x) : x.toFixed(2); }

function drawHistogram(key, title, values) {
  const canvas = document.getElementById('hist-' + key);
  const h = histogram(values);
  const total = h.counts.reduce((a, b) => a + b, 0);
  // What the test reads from --dump-dom: the bin counts and their total.
  canvas.dataset.bins = h.counts.join(',');
  canvas.dataset.total = String(total);
  document.getElementById('hist-' + key + '-summary').textContent =
    total ? total + ' batches, ' + fmt(h.min) + ' to ' + fmt(h.max) + ' in ' + HIST_BINS + ' bins'
          : 'no completed batches';
  if (typeof Chart === 'undefined') return;
  if (!histograms[key]) {
    histograms[key] = new Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [{ label: title + ': batches', data: [],
                                       backgroundColor: '#7fa3c8', barPercentage: 1,
                                       categoryPercentage: 1 }] },
      options: { animation: false, maintainAspectRatio: false,
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
  // A bin's label is its lower edge (the value axis reads left to right).
  histograms[key].data.labels = h.counts.map((_, i) => total ? fmt(h.min + i * h.width) : '');
  histograms[key].data.datasets[0].data = h.counts;
  histograms[key].update();
  canvas.dataset.drawn = String(histograms[key].data.datasets[0].data.reduce((a, b) => a + b, 0));
}

/// The timeline of each series over the retained completed batches, oldest
/// first, and next to it the histogram of the same values.
function drawCharts(batches) {
  const done = batches.filter(b => b.status === 'COMPLETED').reverse();
  const labels = done.map(b => b.batchTime.substring(11, 19));
  for (const [key, [title, value]] of Object.entries(series)) {
    const canvas = document.getElementById('chart-' + key);
    const data = done.map(value);
    canvas.dataset.points = String(data.length);
    canvas.dataset.last = data.length ? String(data[data.length - 1]) : '';
    drawHistogram(key, title, data.filter(Number.isFinite));
    if (typeof Chart === 'undefined') continue;
    if (!charts[key]) {
      charts[key] = new Chart(canvas, {
        type: 'line',
        data: { labels: [], datasets: [{ label: title, data: [], borderColor: '#3b6ea5',
                                         pointRadius: 0, tension: 0 }] },
        options: { animation: false, maintainAspectRatio: false,
                   scales: { y: { beginAtZero: true } } },
      });
    }
    charts[key].data.labels = labels;
    charts[key].data.datasets[0].data = data;
    charts[key].update();
    canvas.dataset.charted = String(charts[key].data.datasets[0].data.length);
  }
}
)page";
}

} // namespace sluice::detail::ui::page_parts
