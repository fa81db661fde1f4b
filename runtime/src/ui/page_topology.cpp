// The page's operator graph and supervision tree (part of its script: see
// page.hpp), from .../streaming/operators and .../streaming/actors.
#include "ui/page.hpp"

namespace sluice::detail::ui::page_parts {

const char* topology_script() {
  return R"page(
/// The operator graph: .../streaming/operators is
///   {stages: [{id, slots, input, nodes: [{id, name}], consumers: [{kind, target}],
///              hosts: [host of slot 0, ...]}],
///    gathers: [{id, node: {id, name}, stage, gathers: [gather id, ...], host}],
///    stateful: [{operatorId, name, stateKeys (absent before the first actor
///                sample), checkpoints, checkpointBytes, lastCheckpointTime,
///                lastCheckpointDurationMs}],
///    metadataCheckpoints (absent before the first): {checkpoints, checkpointBytes,
///                lastCheckpointTime, lastCheckpointDurationMs}}
/// (a consumer's target is a stage id for forward and shuffle, a gather id
/// for gather; a gather's stage is the stage it scatters into, or -1; its
/// gathers are those it sends its result to itself, without a stage).
/// Drawn as columns left to right: a stage's or gather's column is the
/// longest chain of stages and gathers feeding it.
function drawOperators(g) {
  const stages = g.stages || [], gathers = g.gathers || [], stateful = g.stateful || [];
  const keys = new Map(stateful.map(s => [s.operatorId, s.stateKeys]));
  const units = [...stages.map(s => ['s:' + s.id, stageCard(s, keys)]),
                 ...gathers.map(x => ['g:' + x.id, gatherCard(x)])];
  const edges = [];
  for (const s of stages)
    for (const c of s.consumers || [])
      edges.push(['s:' + s.id, (c.kind === 'gather' ? 'g:' : 's:') + c.target]);
  for (const x of gathers) {
    if (x.stage >= 0) edges.push(['g:' + x.id, 's:' + x.stage]);
    for (const to of x.gathers || []) edges.push(['g:' + x.id, 'g:' + to]);
  }
  const depth = new Map(units.map(([k]) => [k, 0]));
  // At most one pass per unit: a longest path has fewer edges than there
  // are units, and a cycle (which the planner never makes) cannot loop.
  for (let pass = 0; pass < units.length; ++pass)
    for (const [from, to] of edges)
      if (depth.has(from) && depth.has(to) && depth.get(to) <= depth.get(from))
        depth.set(to, depth.get(from) + 1);
  const columns = [];
  for (const [k, card] of units) (columns[depth.get(k)] = columns[depth.get(k)] || []).push(card);
  const graph = document.getElementById('graph');
  graph.replaceChildren();
  columns.forEach((cards, i) => {
    if (i) graph.appendChild(el('div', '\u2192', { class: 'arrow' }));
    const column = el('div', undefined, { class: 'column' });
    column.append(...(cards || []));
    graph.appendChild(column);
  });
  const tbody = document.querySelector('#stateful tbody');
  tbody.replaceChildren();
  for (const s of stateful)
    row(tbody, [s.operatorId, s.name, s.stateKeys, s.checkpoints, s.checkpointBytes,
                s.lastCheckpointTime, s.lastCheckpointDurationMs], { 'data-operator': s.operatorId });
  const m = g.metadataCheckpoints;
  document.getElementById('metadata-checkpoints').textContent = m
    ? 'metadata checkpoints: ' + m.checkpoints + ', ' + m.checkpointBytes + ' bytes, the last at '
        + m.lastCheckpointTime + ' (' + m.lastCheckpointDurationMs + ' ms)'
    : '';
}

/// A node's <li>: its name, and a stateful operator's state key count.
function nodeItem(n, keys) {
  const li = el('li', undefined, { 'data-node': n.id });
  li.appendChild(el('span', n.name, { class: 'node-name' }));
  if (keys && keys.get(n.id) !== undefined) {
    li.append(' ');
    li.appendChild(el('span', keys.get(n.id) + ' state keys',
                      { class: 'state-keys', 'data-state-keys': keys.get(n.id) }));
  }
  return li;
}

function stageCard(s, keys) {
  const card = el('div', undefined, { class: 'stage', 'data-stage': s.id });
  card.appendChild(el('h3', 'stage ' + s.id));
  card.appendChild(el('div', s.slots + ' slots, input by ' + s.input));
  const nodes = el('ol', undefined, { class: 'nodes' });
  for (const n of s.nodes || []) nodes.appendChild(nodeItem(n, keys));
  card.appendChild(nodes);
  const slots = el('table', undefined, { class: 'slots' });
  (s.hosts || []).forEach((h, i) => row(slots, ['slot ' + i, h], { 'data-slot': i }));
  card.appendChild(slots);
  const out = el('ul', undefined, { class: 'consumers' });
  for (const c of s.consumers || [])
    out.appendChild(el('li', '\u2192 ' + (c.kind === 'gather' ? 'gather ' + c.target
                                                             : c.kind + ' to stage ' + c.target),
                       { 'data-consumer': c.kind + ':' + c.target }));
  card.appendChild(out);
  return card;
}

function gatherCard(g) {
  const card = el('div', undefined, { class: 'gather', 'data-gather': g.id });
  card.appendChild(el('h3', 'gather ' + g.id));
  const nodes = el('ul', undefined, { class: 'nodes' });
  if (g.node) nodes.appendChild(nodeItem(g.node));
  card.appendChild(nodes);
  const to = g.stage >= 0 ? ', \u2192 stage ' + g.stage
           : (g.gathers || []).length ? ', \u2192 gather ' + g.gathers.join(', ') : '';
  card.appendChild(el('div', 'on ' + g.host + to, { class: 'host' }));
  return card;
}

/// The supervision tree: .../streaming/actors is {sampledAt (absent before
/// the first sample), actors: [{id, parent, name (the actor's kind), host,
/// mailbox, restarts, stateKeys, answered, walBytes (receivers' block
/// managers only)}]}, a flat list whose `parent` is another entry's id or
/// "context" for the context's own children. Nested <ul>s under #actors;
/// an entry whose parent is not listed (or that sits in a cycle) is shown at
/// the top, so that every listed actor appears once.
function drawActors(a) {
  document.getElementById('actors-sampled').textContent =
    a.sampledAt ? 'sampled at ' + a.sampledAt : 'not sampled yet';
  const actors = a.actors || [];
  const ids = new Set(actors.map(x => x.id));
  const children = new Map();
  for (const x of actors) {
    const p = ids.has(x.parent) && x.parent !== x.id ? x.parent : 'context';
    if (!children.has(p)) children.set(p, []);
    children.get(p).push(x);
  }
  const placed = new Set();
  const item = x => {
    placed.add(x.id);
    const li = el('li', undefined, { 'data-actor': x.id, 'data-mailbox': x.mailbox,
                                     'data-restarts': x.restarts });
    li.append(el('span', x.id, { class: 'actor-id' }), ' (',
              el('span', x.name, { class: 'actor-name' }), ') ',
              el('span', '@ ' + x.host, { class: 'host' }), ', mailbox ',
              el('span', x.mailbox, { class: x.mailbox > 0 ? 'mailbox busy' : 'mailbox' }),
              ', restarts ',
              el('span', x.restarts, { class: x.restarts > 0 ? 'restarts restarted' : 'restarts' }));
    if (x.stateKeys) li.append(', state keys ', el('span', x.stateKeys, { class: 'state-keys' }));
    if (x.walBytes !== undefined) li.append(', WAL bytes ', el('span', x.walBytes, { class: 'wal' }));
    if (x.answered === false)
      li.append(' ', el('span', '(no answer to the last sample: its last report)',
                        { class: 'stale' }));
    const sub = el('ul');
    for (const c of children.get(x.id) || []) if (!placed.has(c.id)) sub.appendChild(item(c));
    if (sub.childElementCount) li.appendChild(sub);
    return li;
  };
  const root = document.getElementById('actors');
  root.replaceChildren();
  for (const x of children.get('context') || []) if (!placed.has(x.id)) root.appendChild(item(x));
  for (const x of actors) if (!placed.has(x.id)) root.appendChild(item(x));
}

/// Each section on its own: its failure shows in the section, the rest of
/// the page (and the other section) stays live.
async function refreshTopology() {
  for (const [path, draw, error] of [['/streaming/operators', drawOperators, 'operators-error'],
                                     ['/streaming/actors', drawActors, 'actors-error']]) {
    try {
      draw(await json(base + path));
      document.getElementById(error).textContent = '';
    } catch (e) {
      document.getElementById(error).textContent = 'cannot show: ' + e.message;
    }
  }
  document.body.dataset.topologyRefreshed =
    String(Number(document.body.dataset.topologyRefreshed || 0) + 1);
}
)page";
}

} // namespace sluice::detail::ui::page_parts
