#include "ui/page.hpp"

#include <string>

namespace sluice::detail::ui {

namespace {

// The document: style, sections, and the start of the script (its helpers
// and the tables). Every value from the API reaches the document through
// textContent, never as HTML: receiver names, failure reasons, operator and
// actor names are the application's text.
const char* head_and_tables = R"page(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sluice: streaming</title>
<style>
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th { background: #eee; }
.charts { display: grid; grid-template-columns: 2fr 1fr; gap: 1em; max-width: 1200px; }
.charts > div { height: 200px; }
.charts p { margin: 0; font-size: small; color: #555; }
#error, .section-error { color: #b00; }
.graph { display: flex; align-items: flex-start; gap: 0.5em; flex-wrap: wrap; margin-bottom: 1em; }
.column { display: flex; flex-direction: column; gap: 0.5em; }
.arrow { align-self: center; font-size: x-large; color: #888; }
.stage, .gather { border: 1px solid #3b6ea5; border-radius: 4px; padding: 4px 8px; min-width: 12em; }
.gather { border-color: #a5763b; }
.stage h3, .gather h3 { margin: 0 0 4px 0; font-size: medium; }
.stage ol, .stage ul, .gather ul { margin: 2px 0; padding-left: 1.4em; }
.stage table { margin: 2px 0; font-size: small; }
.state-keys { background: #eef4e8; border: 1px solid #8a5; border-radius: 3px; padding: 0 3px;
              font-size: small; }
.tree, .tree ul { list-style: none; padding-left: 1.4em; border-left: 1px dotted #aaa; }
.tree li { margin: 2px 0; }
.tree .actor-id { font-weight: bold; }
.tree .actor-name, .stale { color: #777; }
.tree .host { color: #555; }
.busy { color: #b60; font-weight: bold; }
.restarted { color: #b00; font-weight: bold; }
</style>
<script src="/static/chart.min.js"></script>
</head><body>
<h1>Streaming: <span id="app"></span></h1>
<p id="error"></p>
<h2>Statistics</h2>
<table id="stats"><tbody></tbody></table>
<h2>Timelines and histograms (retained completed batches)</h2>
<div class="charts">
<div><canvas id="chart-inputRate"></canvas></div>
<div><canvas id="hist-inputRate"></canvas><p id="hist-inputRate-summary"></p></div>
<div><canvas id="chart-schedulingDelay"></canvas></div>
<div><canvas id="hist-schedulingDelay"></canvas><p id="hist-schedulingDelay-summary"></p></div>
<div><canvas id="chart-processingTime"></canvas></div>
<div><canvas id="hist-processingTime"></canvas><p id="hist-processingTime-summary"></p></div>
<div><canvas id="chart-totalDelay"></canvas></div>
<div><canvas id="hist-totalDelay"></canvas><p id="hist-totalDelay-summary"></p></div>
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
<h2>Operator graph (stages as the planner fused them)</h2>
<p id="operators-error" class="section-error"></p>
<div id="graph" class="graph"></div>
<h3>Stateful operators</h3>
<table id="stateful"><thead><tr><th>operator</th><th>name</th><th>state keys</th>
<th>checkpoints</th><th>checkpoint bytes</th><th>last checkpoint</th>
<th>last checkpoint duration (ms)</th></tr></thead><tbody></tbody></table>
<p id="metadata-checkpoints"></p>
<h2>Supervision tree</h2>
<p id="actors-error" class="section-error"></p>
<p id="actors-sampled"></p>
<ul id="actors" class="tree"></ul>
<script>
'use strict';
const api = '/api/v1/applications';
let base = null;

/// Appends a <tr> of text cells (undefined: empty) with `attrs` to `tbody`.
function row(tbody, cells, attrs) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === undefined ? '' : String(c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}

/// A new element with text `text` (textContent) and `attrs`.
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
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
)page";

// The end of the script: one refresh a second. The operator graph and the
// supervision tree refresh after the rest, on their own: a failure there
// (an older server without those endpoints) leaves the rest of the page live.
const char* refresh_and_end = R"page(
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
  if (base) await refreshTopology();
}

refresh();
setInterval(refresh, 1000);
</script>
</body></html>
)page";

} // namespace

const char* streaming_page() {
  static const std::string page = std::string{head_and_tables} + page_parts::charts_script()
                                  + page_parts::topology_script() + refresh_and_end;
  return page.c_str();
}

} // namespace sluice::detail::ui
