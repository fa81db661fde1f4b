#include "ui/page.hpp"

namespace sluice::detail::ui {

// Every value from the API reaches the document through textContent, never
// as HTML: receiver names and failure reasons are the application's text.
const char* streaming_page() {
  return R"page(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sluice: streaming</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th { background: #eee; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; max-width: 1200px; }
.charts div { height: 220px; }
#error { color: #b00; }
</style>
<script src="/static/chart.min.js"></script>
</head><body>
<h1>Streaming: <span id="app"></span></h1>
<p id="error"></p>
<h2>Statistics</h2>
<table id="stats"><tbody></tbody></table>
<h2>Timelines (retained completed batches)</h2>
<div class="charts">
<div><canvas id="chart-inputRate"></canvas></div>
<div><canvas id="chart-schedulingDelay"></canvas></div>
<div><canvas id="chart-processingTime"></canvas></div>
<div><canvas id="chart-totalDelay"></canvas></div>
</div>
<h2>Receivers</h2>
<table id="receivers"><thead><tr><th>stream</th><th>name</th><th>active</th><th>restarts</th>
<th>errors</th><th>last error</th><th>last error time</th><th>records</th>
<th>avg rate (records/s)</th></tr></thead><tbody></tbody></table>
<h2>Executors</h2>
<table id="executors"><thead><tr><th>id</th><th>host:port</th><th>active</th><th>cores</th>
<th>added</th><th>removed</th><th>why removed</th></tr></thead><tbody></tbody></table>
<h2>Batches</h2>
<table id="batches"><thead><tr><th>batch time</th><th>status</th><th>input records</th>
<th>scheduling delay (ms)</th><th>processing time (ms)</th><th>total delay (ms)</th>
<th>output ops (done/total)</th><th>failure</th></tr></thead><tbody></tbody></table>
<script>
'use strict';
const api = '/api/v1/applications';
let base = null;
const charts = {};
const series = {
  inputRate: ['input rate (records/s)', b => b.inputSize * 1000 / b.batchDuration],
  schedulingDelay: ['scheduling delay (ms)', b => b.schedulingDelay],
  processingTime: ['processing time (ms)', b => b.processingTime],
  totalDelay: ['total delay (ms)', b => b.totalDelay],
};

function row(tbody, cells, attrs) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === undefined ? '' : String(c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function drawStats(stats) {
  const tbody = document.querySelector('#stats tbody');
  tbody.replaceChildren();
  for (const [k, v] of Object.entries(stats)) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.id = 'stat-' + k;
    td.textContent = typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v);
    tr.append(th, td);
    tbody.appendChild(tr);
  }
}

function drawCharts(batches) {
  const done = batches.filter(b => b.status === 'COMPLETED').reverse();
  const labels = done.map(b => b.batchTime.substring(11, 19));
  for (const [key, [title, value]] of Object.entries(series)) {
    const canvas = document.getElementById('chart-' + key);
    const data = done.map(value);
    canvas.dataset.points = String(data.length);
    canvas.dataset.last = data.length ? String(data[data.length - 1]) : '';
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

function drawReceivers(receivers) {
  const tbody = document.querySelector('#receivers tbody');
  tbody.replaceChildren();
  for (const r of receivers)
    row(tbody, [r.streamId, r.streamName, r.isActive, r.restarts, r.numErrors,
                r.lastErrorMessage, r.lastErrorTime, r.numRecords,
                r.avgEventRate === undefined ? '' : r.avgEventRate.toFixed(2)],
        { 'data-stream': r.streamId });
}

function drawExecutors(executors) {
  const tbody = document.querySelector('#executors tbody');
  tbody.replaceChildren();
  for (const e of executors)
    row(tbody, [e.id, e.hostPort, e.isActive, e.totalCores, e.addTime, e.removeTime,
                e.removeReason], { 'data-executor': e.id });
}

function drawBatches(batches) {
  const tbody = document.querySelector('#batches tbody');
  tbody.replaceChildren();
  for (const b of batches)
    row(tbody, [b.batchTime, b.status, b.inputSize, b.schedulingDelay, b.processingTime,
                b.totalDelay, b.numCompletedOutputOps + '/' + b.numTotalOutputOps,
                b.firstFailureReason], { 'data-batch': b.batchId });
}

async function json(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

async function refresh() {
  try {
    if (!base) {
      const apps = await json(api);
      base = api + '/' + encodeURIComponent(apps[0].id);
      document.getElementById('app').textContent = apps[0].name + ' (' + apps[0].id + ')';
    }
    const [stats, batches, receivers, executors] = await Promise.all(
      ['/streaming/statistics', '/streaming/batches', '/streaming/receivers', '/executors']
        .map(p => json(base + p)));
    drawStats(stats);
    drawCharts(batches);
    drawReceivers(receivers);
    drawExecutors(executors);
    drawBatches(batches);
    document.getElementById('error').textContent = '';
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (e) {
    document.getElementById('error').textContent = 'cannot refresh: ' + e.message;
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body></html>
)page";
}

} // namespace sluice::detail::ui
