// The live cluster view's page (served by dashboard-server.ts): one HTML document with inline
// CSS and vanilla JS, no framework, nothing fetched but /api/state (polled every 500 ms) and the
// actions. Each section is rendered to a string and the DOM is touched only when it changed.
// Stable data-testid attributes: node-p1, link-p1-p2 (data-state up|down|partitioned),
// kill-node-p1, start-node-p1, partition-p1-p2, heal-p1-p2, replica-inventory-p1 (data-state
// up|absent, data-pid), replica-state-inventory-p1, restart-inventory-p1, proc-<pid>,
// kill-<pid>, paxos-row, paxos-decided, seq-diagram, seq-msg (data-type, data-proto paxos|epaxos),
// add-form, action-log; with EPaxos replicas: epaxos-card, epaxos-row (data-inst,
// data-partition, data-path), epaxos-deps, epaxos-path (data-path fast|slow|learned),
// epaxos-counts-<partition>-<replica>.
//
// The script is plain ES2017 inside a template literal: no backticks, no dollar-brace and no
// backslashes in it.

const STYLE = `
:root {
  --up: #2f9e5b; --part: #d64545; --down: #9aa0a6; --ink: #1f2328; --muted: #6b7280;
  --line: #e5e7eb; --bg: #f4f5f7; --card: #fff; --accent: #3b6fd8;
  --prepare: #3b6fd8; --promise: #0f9aa8; --accept: #d9822b; --accepted: #a16207;
  --nack: #d64545; --decided: #2f9e5b; --chosen: #2f9e5b;
  --preaccept: #7c3aed; --preaccept_ok: #0f9aa8; --accept_ok: #a16207; --commit: #2f9e5b;
  --prepare_ok: #0e7490; --ask: #6b7280;
}
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 18px; padding: 9px 18px; background: #1f2937;
  color: #fff; position: sticky; top: 0; z-index: 5; }
header h1 { font-size: 15px; margin: 0; font-weight: 600; white-space: nowrap; }
header h1 span { font-weight: 400; color: #aab4c3; }
#summary { flex: 1; color: #e5e7eb; }
#summary b { color: #fff; }
#last-action { font-size: 12px; max-width: 38%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#last-action .ok { color: #86efac; }
#last-action .err { color: #fca5a5; }
#last-action .run { color: #fcd34d; }
.conn { padding: 1px 9px; border-radius: 10px; font-size: 12px; background: var(--up); }
.conn.bad { background: var(--part); }
main { display: grid; gap: 14px; padding: 14px 18px;
  grid-template-columns: minmax(360px, 5fr) minmax(0, 7fr);
  grid-template-areas: 'graph replicas' 'paxos seq' 'trees trees'; }
/* EPaxos replicas: their card takes the Paxos card's place, or a row of its own beside it */
main.ep-only { grid-template-areas: 'graph replicas' 'epaxos seq' 'trees trees'; }
main.ep-both { grid-template-areas: 'graph replicas' 'paxos seq' 'epaxos epaxos' 'trees trees'; }
main.ep-only #paxos-card { display: none; }
main:not(.ep-only):not(.ep-both) #epaxos-card { display: none; }
@media (max-width: 1050px) {
  main { grid-template-columns: 1fr; grid-template-areas: 'graph' 'replicas' 'paxos' 'seq' 'trees'; }
  main.ep-only { grid-template-areas: 'graph' 'replicas' 'epaxos' 'seq' 'trees'; }
  main.ep-both { grid-template-areas: 'graph' 'replicas' 'paxos' 'epaxos' 'seq' 'trees'; }
}
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 11px 14px 13px; min-width: 0; }
.card h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
  margin: 0 0 8px; font-weight: 650; display: flex; align-items: center; gap: 10px; }
.card h2 .right { margin-left: auto; text-transform: none; letter-spacing: 0; font-weight: 400; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 7px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 11.5px; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; padding: 6px 0; }
button { font: inherit; font-size: 12px; padding: 1px 8px; border-radius: 5px; cursor: pointer;
  border: 1px solid #cfd4dc; background: #fff; color: var(--ink); white-space: nowrap; }
button:hover:not(:disabled) { background: #eef2f8; }
button:disabled { opacity: .45; cursor: default; }
button.danger { color: #b42318; border-color: #f0b7b1; }
button.danger:hover:not(:disabled) { background: #fef1f0; }
button.go { color: #17733f; border-color: #a3d9b8; }
button.go:hover:not(:disabled) { background: #ecf8f1; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px;
  line-height: 17px; background: #eef0f3; color: #374151; white-space: nowrap; }
.s-up { background: #e3f4ea; color: #17733f; }
.s-down, .s-absent { background: #eef0f3; color: #6b7280; }
.s-partitioned { background: #fde8e8; color: #b42318; }
.s-busy { background: #fff4de; color: #8a5300; }
/* graph */
#graph svg { display: block; margin: 0 auto; max-width: 400px; width: 100%; height: auto; }
.link { stroke-linecap: round; }
.link.up { stroke: var(--up); stroke-width: 4; }
.link.partitioned { stroke: var(--part); stroke-width: 4; stroke-dasharray: 9 6; }
.link.down { stroke: var(--down); stroke-width: 3; stroke-dasharray: 2 6; }
.link.aux { stroke: #c7ced8; stroke-width: 1.5; stroke-dasharray: 3 4; }
.node circle { stroke-width: 2.5; }
.node.up circle { fill: #e7f6ed; stroke: var(--up); }
.node.down circle { fill: #f3f4f6; stroke: var(--down); stroke-dasharray: 5 4; }
.node.self circle { fill: #eef2ff; stroke: #6366f1; stroke-width: 1.5; }
.node text { text-anchor: middle; font-size: 15px; font-weight: 650; fill: var(--ink); }
.node.down text { fill: var(--muted); }
.node text.sub { font-size: 10.5px; font-weight: 400; fill: var(--muted); }
.node.self text { font-size: 11px; fill: #4f46e5; }
.cut circle { fill: #fff; stroke: var(--part); stroke-width: 2; }
.cut text { fill: var(--part); font-size: 13px; font-weight: 700; text-anchor: middle; }
.controls { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 18px; margin-top: 8px; }
.controls .row { display: flex; align-items: center; gap: 7px; padding: 2px 0; }
.controls .row .grow { flex: 1; }
.controls h3 { font-size: 11.5px; color: var(--muted); margin: 4px 0 2px; font-weight: 600; }
/* replicas */
.addform { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 10px;
  padding: 8px 10px; background: #f7f9fc; border: 1px solid var(--line); border-radius: 6px; }
.addform input, .addform select { font: inherit; padding: 2px 5px; border: 1px solid #cfd4dc;
  border-radius: 4px; background: #fff; }
.addform button { background: var(--accent); color: #fff; border-color: var(--accent); padding: 2px 12px; }
.addform button:hover:not(:disabled) { background: #2f5cc0; }
#add-result { color: var(--muted); }
.stock { display: flex; flex-wrap: wrap; gap: 3px; }
.stock span { background: #f1f5f9; border-radius: 4px; padding: 0 5px; font-size: 12px; }
.stock b { font-weight: 600; }
tr.absent td { color: var(--muted); }
.leader { color: #6d28d9; font-weight: 600; }
/* paxos */
.chips { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 8px; }
.chip { font-size: 11.5px; border: 1px solid var(--line); border-radius: 10px; padding: 0 8px; }
.decided { color: #17733f; }
.who span { font-size: 11px; margin-right: 4px; }
.who .yes { color: #17733f; }
.who .no { color: var(--muted); }
td.val { max-width: 260px; overflow-wrap: anywhere; }
/* epaxos */
.path { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px; line-height: 17px; font-weight: 600; }
.path.fast { background: #e3f4ea; color: #17733f; }
.path.slow { background: #fff1dc; color: #b45309; }
.path.learned { background: #eef0f3; color: #6b7280; font-weight: 400; }
td.deps { max-width: 170px; overflow-wrap: anywhere; }
td.cmd { max-width: 240px; overflow-wrap: anywhere; }
.cmd .id { color: var(--muted); font-size: 11px; }
.keys span { background: #f1f5f9; border-radius: 4px; padding: 0 4px; font-size: 11.5px; margin-right: 3px; }
.ep-part { font-size: 12px; font-weight: 600; margin: 8px 0 3px; }
.svc { font-size: 11px; color: var(--muted); }
/* sequence diagram */
#seq-wrap { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
#seq-wrap svg { display: block; }
.seq-head { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); z-index: 1; }
.legend { display: flex; gap: 8px; flex-wrap: wrap; font-size: 11px; }
.legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 3px; }
select.small { font: inherit; font-size: 12px; padding: 0 4px; }
/* trees */
#trees { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 10px; }
.tree { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; min-width: 0; overflow: hidden; }
.tree h3 { margin: 0 0 4px; font-size: 13px; display: flex; align-items: center; gap: 8px; }
.tree h3 .mono { font-weight: 400; color: var(--muted); font-size: 11px; }
.proc { display: flex; align-items: center; gap: 6px; padding: 1px 3px; border-radius: 4px; white-space: nowrap; min-width: 0; }
.proc > * { flex: none; }
.proc:hover { background: #f5f7fa; }
.proc .g { font-family: ui-monospace, Menlo, Consolas, monospace; color: #b6bdc8; white-space: pre; font-size: 12px; }
.proc .pid { color: var(--muted); }
.proc .proc-lbl { font-weight: 500; overflow: hidden; text-overflow: ellipsis; flex: 0 1 auto; min-width: 40px; }
.proc .proc-nm { color: var(--muted); font-size: 11.5px; overflow: hidden; text-overflow: ellipsis; flex: 1 1 0; min-width: 0; }
.proc button { padding: 0 6px; font-size: 11px; line-height: 16px; }
.proc.k-replica .proc-lbl { color: #1d4ed8; }
.proc.k-paxos .proc-lbl { color: #6d28d9; }
.proc.k-supervisor .proc-lbl { color: #b45309; }
.proc.k-epaxos .proc-lbl { color: #7c3aed; }
.proc.k-runtime .proc-lbl { color: var(--muted); font-weight: 400; }
.k-badge-replica { background: #e0eaff; color: #1d4ed8; }
.k-badge-paxos { background: #efe7ff; color: #6d28d9; }
.k-badge-supervisor { background: #fff1dc; color: #b45309; }
.k-badge-epaxos { background: #f1e9ff; color: #7c3aed; }
.dot { width: 7px; height: 7px; border-radius: 50%; display: inline-block; background: #b8c2d0; flex: none; }
.dot.running { background: var(--up); }
.dot.suspended { background: #e0a800; }
.q { font-size: 10.5px; color: #b45309; }
label.opt { font-size: 12px; text-transform: none; letter-spacing: 0; font-weight: 400; color: var(--ink); }
/* log */
#log { font-size: 12px; }
#log div { padding: 1px 0; }
#log .t { color: var(--muted); margin-right: 8px; }
#log .ok { color: #17733f; }
#log .err { color: #b42318; }
#log .run { color: #8a5300; }
`;

const BODY = `
<header>
  <h1>actorcluster <span>live cluster view</span></h1>
  <div id="summary" data-testid="summary">connecting…</div>
  <div id="last-action" data-testid="last-action"></div>
  <div id="conn" class="conn" data-testid="conn">live</div>
</header>
<main id="main">
  <section class="card" style="grid-area: graph">
    <h2>Nodes and links <span class="right legend"><span><i style="background: var(--up)"></i>up</span><span><i style="background: var(--part)"></i>partitioned</span><span><i style="background: var(--down)"></i>down</span></span></h2>
    <div id="graph" data-testid="graph"></div>
    <div id="controls" class="controls"></div>
  </section>
  <section class="card" style="grid-area: replicas">
    <h2>Replicas</h2>
    <div id="replicas"></div>
    <form id="add-form" class="addform" data-testid="add-form" autocomplete="off">
      <b>Add inventory</b> at
      <select name="replica" data-testid="add-replica"></select>
      item <input name="item" value="apple" size="10" maxlength="64" required data-testid="add-item">
      qty <input name="qty" type="number" value="5" min="1" max="1000000" style="width: 72px" required data-testid="add-qty">
      <button type="submit" data-testid="add-submit">add</button>
      <span id="add-result" data-testid="add-result"></span>
    </form>
    <h2 style="margin-top: 14px">Actions</h2>
    <div id="log" data-testid="action-log"><div class="muted">Buttons act at once: kill a process, kill (SIGKILL) or start a node, restart a replica, partition or heal a link. Add inventory and watch the Paxos instance it takes.</div></div>
  </section>
  <section class="card" id="paxos-card" style="grid-area: paxos">
    <h2>Paxos instances <span class="right muted" id="paxos-note"></span></h2>
    <div id="paxos"></div>
  </section>
  <section class="card" id="epaxos-card" style="grid-area: epaxos" data-testid="epaxos-card">
    <h2>EPaxos instances <span class="right legend" id="epaxos-note"></span></h2>
    <div id="epaxos"></div>
  </section>
  <section class="card" style="grid-area: seq">
    <h2><span id="seq-title">Paxos messages</span> <span class="right"><label class="opt">service
      <select id="seq-service" class="small" data-testid="seq-service">
        <option value="all">all</option><option value="inventory">inventory</option><option value="seats">seats</option>
      </select></label></span></h2>
    <div id="seq-legend" class="legend" style="margin-bottom: 6px"></div>
    <div id="seq-wrap"><div id="seq"></div></div>
  </section>
  <section class="card" style="grid-area: trees">
    <h2>Supervision trees <span class="right"><label class="opt"><input type="checkbox" id="show-all" data-testid="show-all"> show runtime processes (top-level, observer, the dashboard node)</label></span></h2>
    <div id="trees"></div>
  </section>
</main>
`;

const SCRIPT = `
(function () {
  'use strict';
  var SEQ_MAX = 40;
  var TYPES = ['prepare', 'promise', 'accept', 'accepted', 'nack', 'decided', 'chosen',
    'preaccept', 'preaccept_ok', 'accept_ok', 'commit', 'prepare_ok', 'ask'];
  var EPAXOS_SHOWN = 12;
  var RUNTIME = { 'top-level': 1, observer: 1, dashboard: 1, 'Dashboard.reportObserver': 1 };
  var state = null;
  var lastOk = 0;
  var html = {};
  var pending = {};
  var log = [];
  var polling = false;
  var again = false;

  function $(id) { return document.getElementById(id); }
  function esc(v) {
    return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function set(id, text) {
    if (html[id] === text) return false;
    html[id] = text;
    $(id).innerHTML = text;
    return true;
  }
  function short(full) { var s = String(full); var i = s.indexOf('@'); return i < 0 ? s : s.slice(0, i); }
  function hostPort(full) { var s = String(full); var i = s.indexOf('@'); return i < 0 ? '' : s.slice(i + 1); }
  function port(full) { var s = String(full); var i = s.lastIndexOf(':'); return i < 0 ? '' : s.slice(i + 1); }
  function svcOf(participant) { var s = String(participant); var i = s.indexOf(':'); return i < 0 ? '' : s.slice(0, i); }
  function partShort(participant) {
    var s = String(participant);
    var i = s.indexOf(':');
    if (i >= 0) s = s.slice(i + 1);
    var j = s.indexOf('/');
    return j < 0 ? s : s.slice(0, j);
  }
  function lifeName(participant) { return svcOf(participant) + ':' + partShort(participant); }
  function ballotShort(b) {
    if (!b) return '';
    var s = String(b);
    var i = s.indexOf('.');
    return i < 0 ? s : s.slice(0, i + 1) + partShort(s.slice(i + 1));
  }
  function opText(op) {
    if (!op || typeof op !== 'object') return String(op);
    var parts = [op.kind || '?'];
    Object.keys(op).forEach(function (k) {
      if (k === 'kind' || k === 'reqId') return;
      var v = op[k];
      if (k === 'lines' && Array.isArray(v)) {
        parts.push(v.map(function (l) { return (l && l.item) + ' ' + (l && l.qty); }).join(', '));
      } else parts.push(typeof v === 'object' ? JSON.stringify(v) : String(v));
    });
    return parts.join(' ');
  }
  function valueText(raw) {
    if (raw == null) return '';
    try {
      var v = JSON.parse(raw);
      if (v && Array.isArray(v.ops)) return v.ops.length === 0 ? 'no-op' : v.ops.map(opText).join('; ');
      return typeof v === 'string' ? v : JSON.stringify(v);
    } catch (e) {
      return String(raw);
    }
  }
  function clock(t) {
    var d = new Date(t);
    function p(n, w) { var s = String(n); while (s.length < w) s = '0' + s; return s; }
    return p(d.getHours(), 2) + ':' + p(d.getMinutes(), 2) + ':' + p(d.getSeconds(), 2);
  }
  function since(ms) { return ms < 1000 ? '+' + ms + 'ms' : '+' + (ms / 1000).toFixed(2) + 's'; }
  function attrs(o) {
    return Object.keys(o).map(function (k) { return ' ' + k + '="' + esc(o[k]) + '"'; }).join('');
  }
  function actKey(path, body) { return path + ' ' + JSON.stringify(body); }
  function button(path, body, label, cls, testid, title, disabled) {
    var busy = !!pending[actKey(path, body)];
    return '<button type="button"' + attrs({
      class: cls || '', 'data-act': path, 'data-body': JSON.stringify(body),
      'data-label': title || label, 'data-testid': testid, title: title || label,
    }) + (busy || disabled ? ' disabled' : '') + '>' + esc(busy ? label + '…' : label) + '</button>';
  }

  // ---- the model: what the snapshots say ----
  function model(s) {
    var m = { self: short(s.self), snaps: {}, names: [], full: {}, services: [], busy: {} };
    s.nodes.forEach(function (n) { m.snaps[short(n.node)] = n; });
    if (s.cluster) {
      m.names = s.cluster.names.slice();
      m.services = s.cluster.services.slice();
      m.busy = s.cluster.busy || {};
      m.names.forEach(function (n) { m.full[n] = s.cluster.nodes[n] || (m.snaps[n] && m.snaps[n].node) || null; });
    } else {
      m.names = Object.keys(m.snaps).filter(function (n) { return n !== m.self; }).sort();
      m.names.forEach(function (n) { m.full[n] = m.snaps[n].node; });
    }
    m.up = function (n) { return !!m.snaps[n] && (!s.cluster || !!s.cluster.nodes[n]); };
    m.replicas = [];
    m.paxos = [];
    m.epaxos = [];
    m.events = [];
    s.nodes.forEach(function (n) {
      (n.probes || []).forEach(function (p) {
        var d = p.data || {};
        if (p.kind === 'replica') m.replicas.push({ node: n.node, owner: p.owner, d: d });
        if (p.kind === 'paxos') m.paxos.push({ node: n.node, owner: p.owner, d: d });
        if (p.kind === 'epaxos' && d.partitionId) m.epaxos.push({ node: n.node, owner: p.owner, d: d });
      });
      (n.paxos || []).forEach(function (e) { m.events.push(e); });
      // EPaxos messages are recorded where they are sent: lifelines are partition:replica
      (n.epaxos || []).forEach(function (e) {
        m.events.push({ proto: 'epaxos', node: e.node, t: e.t, seq: e.seq, type: e.type, inst: e.inst,
          ballot: e.ballot, participant: e.partition + ':' + e.to, from: e.partition + ':' + e.from,
          cmd: e.cmd, instSeq: e.instSeq, deps: e.deps, depsCount: e.depsCount });
      });
    });
    // A service replica on EPaxos shows through its EPaxos replica's probe.
    m.epaxos.forEach(function (r) {
      var d = r.d;
      var has = m.replicas.some(function (x) { return x.d.service === d.partitionId && x.d.name === d.replica; });
      if (has) return;
      var i = d.instances || {};
      m.replicas.push({ node: r.node, owner: r.owner, d: {
        service: d.partitionId, name: d.replica, protocol: 'epaxos', applied: i.executed,
        waiting: (i.committed || 0) - (i.executed || 0), leader: null, pending: d.waiting,
        inflight: i.leading, ready: true, state: d.machine } });
    });
    m.replicas.forEach(function (r) { if (m.services.indexOf(r.d.service) < 0) m.services.push(r.d.service); });
    m.events.sort(function (a, b) {
      return a.t - b.t || (a.node < b.node ? -1 : a.node > b.node ? 1 : a.seq - b.seq);
    });
    return m;
  }
  function faultBetween(m, a, b) {
    var sa = m.snaps[a];
    var fb = m.full[b];
    var f = sa && fb && sa.faults ? sa.faults[fb] : null;
    return !!(f && f.partitioned);
  }
  function linkState(m, a, b) {
    if (!m.up(a) || !m.up(b)) return 'down';
    if (faultBetween(m, a, b) || faultBetween(m, b, a)) return 'partitioned';
    var sa = m.snaps[a];
    var sb = m.snaps[b];
    if (sa.peers.indexOf(m.full[b]) >= 0 || sb.peers.indexOf(m.full[a]) >= 0) return 'up';
    return 'down';
  }
  function pairs(names) {
    var out = [];
    for (var i = 0; i < names.length; i++) for (var j = i + 1; j < names.length; j++) out.push([names[i], names[j]]);
    return out;
  }

  function protoWord(m) {
    if (m.epaxos.length === 0) return 'Paxos';
    return m.paxos.length === 0 ? 'EPaxos' : 'Paxos and EPaxos';
  }

  // ---- sections ----
  function renderSummary(m) {
    var up = m.names.filter(m.up).length;
    var parts = pairs(m.names).filter(function (p) { return linkState(m, p[0], p[1]) === 'partitioned'; }).length;
    var leaders = {};
    m.replicas.forEach(function (r) { if (r.d.leader) leaders[r.d.service] = r.d.leader; });
    var text = '<b>' + up + '/' + m.names.length + '</b> nodes up · <b>' + parts + '</b> link' + (parts === 1 ? '' : 's') + ' partitioned';
    Object.keys(leaders).sort().forEach(function (svc) { text += ' · ' + esc(svc) + ' leader <b>' + esc(leaders[svc]) + '</b>'; });
    text += ' · <span class="muted">' + esc(m.events.length) + ' recent ' + protoWord(m) + ' messages</span>';
    set('summary', text);
  }

  function renderGraph(m) {
    var W = 380, H = 270, cx = W / 2, cy = H / 2 + 4, R = 100;
    var pos = {};
    var n = m.names.length;
    m.names.forEach(function (name, i) {
      var a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      pos[name] = [cx + (n === 1 ? 0 : R * Math.cos(a)), cy + (n === 1 ? 0 : R * Math.sin(a))];
    });
    var out = '<svg viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="nodes and links">';
    // the dashboard's own node in the middle, thin links to every node
    m.names.forEach(function (name) {
      var p = pos[name];
      var st = m.up(name) && m.snaps[m.self] && m.snaps[m.self].peers.indexOf(m.full[name]) >= 0 ? 'up' : 'down';
      out += '<line class="link aux"' + attrs({ 'data-testid': 'link-' + m.self + '-' + name, 'data-state': st,
        x1: cx, y1: cy, x2: p[0].toFixed(1), y2: p[1].toFixed(1) }) + '/>';
    });
    pairs(m.names).forEach(function (pr) {
      var a = pos[pr[0]], b = pos[pr[1]];
      var st = linkState(m, pr[0], pr[1]);
      out += '<line' + attrs({ class: 'link ' + st, 'data-testid': 'link-' + pr[0] + '-' + pr[1], 'data-state': st,
        x1: a[0].toFixed(1), y1: a[1].toFixed(1), x2: b[0].toFixed(1), y2: b[1].toFixed(1) }) +
        '><title>' + esc(pr[0] + ' ↔ ' + pr[1] + ': ' + st) + '</title></line>';
      if (st === 'partitioned') {
        var mx = ((a[0] + b[0]) / 2).toFixed(1), my = ((a[1] + b[1]) / 2).toFixed(1);
        out += '<g class="cut"><circle cx="' + mx + '" cy="' + my + '" r="9"/><text x="' + mx + '" y="' + (Number(my) + 4.5) + '">✕</text></g>';
      }
    });
    out += '<g class="node self"' + attrs({ 'data-testid': 'node-' + m.self, 'data-state': 'up' }) + '><circle cx="' + cx + '" cy="' + cy + '" r="17"/>' +
      '<text x="' + cx + '" y="' + (cy + 4) + '">' + esc(m.self) + '</text><title>' + esc('this dashboard: ' + (state && state.self)) + '</title></g>';
    m.names.forEach(function (name) {
      var p = pos[name];
      var up = m.up(name);
      var busy = m.busy[name];
      var sub = busy ? busy + '…' : up ? ':' + port(m.full[name]) : 'down';
      out += '<g' + attrs({ class: 'node ' + (up ? 'up' : 'down'), 'data-testid': 'node-' + name, 'data-state': up ? 'up' : 'down' }) + '>' +
        '<circle cx="' + p[0].toFixed(1) + '" cy="' + p[1].toFixed(1) + '" r="27"/>' +
        '<text x="' + p[0].toFixed(1) + '" y="' + (p[1] + 1).toFixed(1) + '">' + esc(name) + '</text>' +
        '<text class="sub" x="' + p[0].toFixed(1) + '" y="' + (p[1] + 14).toFixed(1) + '">' + esc(sub) + '</text>' +
        '<title>' + esc((m.full[name] || name) + (up ? ' (up)' : ' (down)')) + '</title></g>';
    });
    out += '</svg>';
    set('graph', out);

    var nodes = '<div><h3>Nodes</h3>';
    m.names.forEach(function (name) {
      var up = m.up(name);
      var busy = m.busy[name];
      var st = busy ? 'busy' : up ? 'up' : 'down';
      nodes += '<div class="row"><b>' + esc(name) + '</b><span class="badge s-' + st + '">' + esc(busy ? busy : st) + '</span>' +
        '<span class="grow mono muted">' + esc(up ? hostPort(m.full[name]) : '') + '</span>' +
        (state.cluster
          ? up
            ? button('kill-node', { name: name }, 'kill node', 'danger', 'kill-node-' + name, 'SIGKILL node ' + name, !!busy)
            : button('start-node', { name: name }, 'start node', 'go', 'start-node-' + name, 'start node ' + name, !!busy)
          : '') + '</div>';
    });
    nodes += '</div><div><h3>Links</h3>';
    pairs(m.names).forEach(function (pr) {
      var st = linkState(m, pr[0], pr[1]);
      var can = m.up(pr[0]) && m.up(pr[1]);
      var body = { a: pr[0], b: pr[1] };
      nodes += '<div class="row"><b>' + esc(pr[0] + ' ↔ ' + pr[1]) + '</b><span class="badge s-' + st + '">' + st + '</span><span class="grow"></span>' +
        (st === 'partitioned'
          ? button('heal', body, 'heal', 'go', 'heal-' + pr[0] + '-' + pr[1], 'heal ' + pr[0] + ' ↔ ' + pr[1])
          : button('partition', body, 'partition', 'danger', 'partition-' + pr[0] + '-' + pr[1], 'partition ' + pr[0] + ' ↔ ' + pr[1], !can)) + '</div>';
    });
    nodes += '</div>';
    set('controls', nodes);
  }

  function stockHtml(obj) {
    if (!obj || typeof obj !== 'object') return '<span class="muted">–</span>';
    var keys = Object.keys(obj).sort();
    if (keys.length === 0) return '<span class="muted">empty</span>';
    var shown = keys.slice(0, 10).map(function (k) {
      var v = obj[k];
      return '<span>' + esc(k) + ' <b>' + esc(typeof v === 'object' ? JSON.stringify(v) : v) + '</b></span>';
    });
    if (keys.length > 10) shown.push('<span class="muted">+' + (keys.length - 10) + ' more</span>');
    return '<div class="stock">' + shown.join('') + '</div>';
  }

  function renderReplicas(m) {
    var rows = [];
    var names = m.names.slice();
    m.replicas.forEach(function (r) { if (names.indexOf(r.d.name) < 0) names.push(r.d.name); });
    m.services.forEach(function (svc) {
      names.forEach(function (name) {
        var r = m.replicas.filter(function (x) { return x.d.service === svc && x.d.name === name; })[0];
        var id = svc + '-' + name;
        var nodeUp = m.up(name);
        var action = state.cluster && m.names.indexOf(name) >= 0
          ? button('restart-replica', { service: svc, name: name }, r ? 'restart' : 'start', r ? '' : 'go', 'restart-' + id,
              (r ? 'kill and restart ' : 'start ') + svc + ':' + name, !nodeUp || !!m.busy[name])
          : '';
        if (!r) {
          rows.push('<tr class="absent"' + attrs({ 'data-testid': 'replica-' + id, 'data-state': 'absent', 'data-pid': '' }) + '>' +
            '<td><b>' + esc(name) + '</b> <span class="svc">' + esc(svc) + '</span></td><td colspan="5">' +
            (nodeUp ? 'absent (its node is up)' : 'absent (node down)') + '</td>' +
            '<td data-testid="replica-state-' + esc(id) + '"></td><td>' + action + '</td></tr>');
          return;
        }
        var d = r.d;
        rows.push('<tr' + attrs({ 'data-testid': 'replica-' + id, 'data-state': 'up', 'data-pid': r.owner }) + '>' +
          '<td><b>' + esc(name) + '</b> <span class="svc">' + esc(svc) + '</span></td>' +
          '<td class="mono muted">' + esc(r.owner) + '</td>' +
          '<td class="num">' + esc(d.applied) + (d.waiting ? ' <span class="muted">+' + esc(d.waiting) + '</span>' : '') + '</td>' +
          '<td>' + (d.protocol === 'epaxos' ? '<span class="muted" title="EPaxos: every replica leads its own commands">none (EPaxos)</span>'
            : d.leader === name ? '<span class="leader">' + esc(d.leader) + '</span>' : esc(d.leader || '–')) + '</td>' +
          '<td class="num">' + esc(d.pending) + ' / ' + esc(d.inflight) + '</td>' +
          '<td>' + (d.ready ? '<span class="badge s-up">ready</span>' : '<span class="badge s-busy">catching up</span>') + '</td>' +
          '<td data-testid="replica-state-' + esc(id) + '">' + stockHtml(d.state) + '</td><td>' + action + '</td></tr>');
      });
    });
    set('replicas', rows.length === 0 ? '<div class="empty">no replicas</div>'
      : '<table><thead><tr><th>replica</th><th>pid</th><th class="num">applied</th><th>leader</th>' +
        '<th class="num" title="requests waiting for their instance / instances proposed, undecided">pending / in flight</th><th></th><th>state</th><th></th></tr></thead><tbody>' +
        rows.join('') + '</tbody></table>');

    var select = document.querySelector('#add-form select');
    var opts = m.names.map(function (n) { return '<option>' + esc(n) + '</option>'; }).join('');
    if (html.addOptions !== opts) {
      var keep = select.value;
      html.addOptions = opts;
      select.innerHTML = opts;
      if (keep && m.names.indexOf(keep) >= 0) select.value = keep;
    }
  }

  function renderPaxos(m) {
    var chips = m.paxos.slice().sort(function (a, b) { return a.d.name < b.d.name ? -1 : 1; }).map(function (p) {
      return '<span class="chip">' + esc(lifeName(p.d.name)) + ' · decided <b>' + esc(p.d.decided) + '</b>' +
        (p.d.floor ? ' · floor ' + esc(p.d.floor) : '') + '</span>';
    });
    var byKey = {};
    m.paxos.forEach(function (p) {
      var svc = svcOf(p.d.name);
      (p.d.instances || []).forEach(function (i) {
        var k = svc + '|' + i.inst;
        var row = byKey[k] || (byKey[k] = { svc: svc, inst: i.inst, ballots: [], decided: null, who: {} });
        (i.ballots || []).forEach(function (b) { if (row.ballots.indexOf(b) < 0) row.ballots.push(b); });
        if (i.decided != null && row.decided == null) row.decided = i.decided;
        row.who[partShort(p.d.name)] = i.decided != null;
      });
    });
    var perSvc = {};
    Object.keys(byKey).forEach(function (k) { var r = byKey[k]; (perSvc[r.svc] = perSvc[r.svc] || []).push(r); });
    var rows = [];
    Object.keys(perSvc).sort().forEach(function (svc) {
      perSvc[svc].sort(function (a, b) { return b.inst - a.inst; }).slice(0, 10).forEach(function (r) {
        var who = Object.keys(r.who).sort().map(function (p) {
          return '<span class="' + (r.who[p] ? 'yes' : 'no') + '" title="' + esc(p + (r.who[p] ? ' decided' : ' saw it, undecided')) + '">' + esc(p) + (r.who[p] ? '✓' : '…') + '</span>';
        }).join('');
        rows.push('<tr' + attrs({ 'data-testid': 'paxos-row', 'data-service': r.svc, 'data-inst': r.inst }) + '>' +
          '<td>' + esc(r.svc) + '</td><td class="num">' + esc(r.inst) + '</td>' +
          '<td class="mono">' + esc(r.ballots.map(ballotShort).join(', ') || '–') + '</td>' +
          '<td class="val' + (r.decided != null ? ' decided' : '') + '" data-testid="paxos-decided" title="' + esc(r.decided || '') + '">' +
          esc(r.decided != null ? valueText(r.decided) : 'undecided') + '</td>' +
          '<td class="who">' + who + '</td></tr>');
      });
    });
    set('paxos-note', m.paxos.length + ' participants');
    set('paxos', '<div class="chips">' + chips.join('') + '</div>' + (rows.length === 0
      ? '<div class="empty">no instances yet: add inventory to make a decision</div>'
      : '<table><thead><tr><th>service</th><th class="num">inst</th><th>ballots</th><th>decided value</th><th>participants</th></tr></thead><tbody>' +
        rows.join('') + '</tbody></table>'));
  }

  function opShort(op) {
    try { return opText(JSON.parse(op)); } catch (e) { return String(op == null ? '' : op); }
  }

  function renderEpaxos(m) {
    var main = $('main');
    var cls = m.epaxos.length === 0 ? '' : m.paxos.length === 0 ? 'ep-only' : 'ep-both';
    if (main.className !== cls) main.className = cls;
    if (m.epaxos.length === 0) return;
    var reps = m.epaxos.slice().sort(function (a, b) {
      var ka = a.d.partitionId + ':' + a.d.replica, kb = b.d.partitionId + ':' + b.d.replica;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    var chips = reps.map(function (r) {
      var c = r.d.commits || {};
      return '<span class="chip"' + attrs({ 'data-testid': 'epaxos-counts-' + r.d.partitionId + '-' + r.d.replica,
        title: 'commits led here on the fast path, on the slow path (Accept), learned from others; recoveries started here' }) + '>' +
        esc(r.d.partitionId + ':' + r.d.replica) + ' · <span class="decided">fast <b>' + esc(c.fast || 0) + '</b></span>' +
        ' · slow <b>' + esc(c.slow || 0) + '</b> · learned <b>' + esc(c.learned || 0) + '</b>' +
        ' · recoveries <b>' + esc(r.d.recoveries || 0) + '</b></span>';
    });
    // the instances across replicas, one row per instance key; the path is the leader's
    var byKey = {};
    reps.forEach(function (r) {
      var part = r.d.partitionId;
      (r.d.recent || []).forEach(function (c) {
        var k = part + '|' + c.inst;
        var row = byKey[k] || (byKey[k] = { part: part, inst: c.inst, c: c, path: 'learned', at: c.at, seen: {} });
        if (c.path !== 'learned') { row.path = c.path; row.by = r.d.replica; }
        if (c.at < row.at) row.at = c.at;
        row.seen[r.d.replica] = c.path;
      });
    });
    var perPart = {};
    Object.keys(byKey).forEach(function (k) { var r = byKey[k]; (perPart[r.part] = perPart[r.part] || []).push(r); });
    var out = '<div class="chips">' + chips.join('') + '</div>';
    var parts = Object.keys(perPart).sort();
    if (parts.length === 0) out += '<div class="empty">no instances yet: add inventory to see one committed</div>';
    parts.forEach(function (part) {
      var rows = perPart[part].sort(function (a, b) { return b.at - a.at || (a.inst < b.inst ? 1 : -1); }).slice(0, EPAXOS_SHOWN);
      out += '<div class="ep-part">' + esc(part) + ' <span class="muted" style="font-weight: 400">(latest ' + rows.length + ')</span></div>';
      out += '<table><thead><tr><th>instance</th><th>command</th><th class="num">seq</th><th>deps</th><th>path</th><th title="the replicas that saw it committed (hover: the path each took)">replicas</th></tr></thead><tbody>';
      rows.forEach(function (r) {
        var c = r.c;
        var deps = c.deps || [];
        var seen = Object.keys(r.seen).sort().map(function (p) {
          return '<span class="yes" title="' + esc(p + ': ' + r.seen[p]) + '">' + esc(p) + '✓</span>';
        }).join('');
        out += '<tr' + attrs({ 'data-testid': 'epaxos-row', 'data-partition': part, 'data-inst': r.inst, 'data-path': r.path }) + '>' +
          '<td class="mono">' + esc(r.inst) + '</td>' +
          '<td class="cmd" title="' + esc(c.op) + '"><div>' + esc(opShort(c.op)) + '</div><div class="keys">' +
            (c.keys || []).map(function (k) { return '<span>' + esc(k) + '</span>'; }).join('') +
            '<span class="id mono" style="background: none">' + esc(c.id) + '</span></div></td>' +
          '<td class="num">' + esc(c.seq) + '</td>' +
          '<td class="deps mono" data-testid="epaxos-deps"' + attrs({ 'data-deps': deps.join(' ') }) + '>' +
            (deps.length ? esc(deps.join(', ')) : '<span class="muted">none</span>') + '</td>' +
          '<td data-testid="epaxos-path"' + attrs({ 'data-path': r.path, title: r.by ? 'committed by ' + r.by + ' on the ' + r.path + ' path'
            : 'learned: the leader did not report it' }) + '><span class="path ' + esc(r.path) + '">' + esc(r.path) + '</span></td>' +
          '<td class="who">' + seen + '</td></tr>';
      });
      out += '</tbody></table>';
    });
    set('epaxos-note', '<span><span class="path fast">fast</span> fast quorum, no Accept</span>' +
      '<span><span class="path slow">slow</span> Accept round</span><span>' + esc(reps.length) + ' replicas</span>');
    set('epaxos', out);
  }

  function renderSeq(m) {
    var svc = $('seq-service').value;
    var events = m.events.filter(function (e) { return svc === 'all' || svcOf(e.participant) === svc; }).slice(-SEQ_MAX);
    var lanes = [];
    function lane(p) { var n = lifeName(p); if (lanes.indexOf(n) < 0) lanes.push(n); }
    m.paxos.forEach(function (p) {
      if (svc !== 'all' && svcOf(p.d.name) !== svc) return;
      if (svc === 'all' && events.length > 0 && !events.some(function (e) { return svcOf(e.participant) === svcOf(p.d.name); })) return;
      lane(p.d.name);
    });
    m.epaxos.forEach(function (r) {
      var part = r.d.partitionId;
      if (svc !== 'all' && part !== svc) return;
      if (svc === 'all' && events.length > 0 && !events.some(function (e) { return svcOf(e.participant) === part; })) return;
      lane(part + ':' + r.d.replica);
    });
    events.forEach(function (e) { lane(e.participant); lane(e.from); });
    lanes.sort();
    var L = 64, CW = 128, HEAD = 34, TOP = 4, RH = 19;
    var W = Math.max(L + lanes.length * CW + 10, 360), H = TOP + Math.max(events.length, 1) * RH + 10;
    var x = function (p) { return L + lanes.indexOf(lifeName(p)) * CW + CW / 2; };
    // the lifelines' names stay in view (sticky) while the messages scroll under them
    var head = '<div class="seq-head"><svg width="' + W + '" height="' + HEAD + '" viewBox="0 0 ' + W + ' ' + HEAD + '" font-size="10.5">';
    lanes.forEach(function (n, i) {
      var lx = L + i * CW + CW / 2;
      head += '<text x="' + lx + '" y="14" text-anchor="middle" font-weight="600" font-size="11.5" fill="#1f2328">' + esc(n.slice(n.indexOf(':') + 1)) + '</text>';
      head += '<text x="' + lx + '" y="27" text-anchor="middle" fill="#6b7280">' + esc(n.slice(0, n.indexOf(':'))) + '</text>';
    });
    head += '</svg></div>';
    var out = head + '<svg data-testid="seq-diagram" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '" font-size="10.5">';
    out += '<defs>' + TYPES.map(function (t) {
      return '<marker id="ah-' + t + '" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
        '<path d="M0,0 L10,5 L0,10 z" fill="var(--' + t + ')"/></marker>';
    }).join('') + '</defs>';
    lanes.forEach(function (n, i) {
      var lx = L + i * CW + CW / 2;
      out += '<line x1="' + lx + '" y1="0" x2="' + lx + '" y2="' + H + '" stroke="#cfd5de" stroke-dasharray="4 3"/>';
    });
    if (events.length === 0) out += '<text x="' + L + '" y="' + (TOP + 14) + '" fill="#6b7280" font-style="italic">no ' + protoWord(m) + ' messages yet</text>';
    var t0 = events.length ? events[0].t : 0;
    events.forEach(function (e, i) {
      var y = TOP + i * RH + 12;
      var x1 = x(e.from), x2 = x(e.participant);
      var color = 'var(--' + (TYPES.indexOf(e.type) >= 0 ? e.type : 'prepare') + ')';
      var ep = e.proto === 'epaxos';
      var label = ep
        ? e.type + ' ' + e.inst + (e.ballot && e.ballot.indexOf('0.') !== 0 ? ' b' + e.ballot : '') + (e.instSeq != null ? ' seq ' + e.instSeq : '')
        : e.type + ' #' + e.inst + (e.ballot ? ' b' + ballotShort(e.ballot) : '');
      var title = lifeName(e.from) + ' → ' + lifeName(e.participant) + ': ' + e.type + ' inst ' + e.inst +
        (e.ballot ? ' ballot ' + e.ballot : '') + (e.value ? ' value ' + valueText(e.value) : '') +
        (e.cmd ? ' command ' + e.cmd : '') + (e.instSeq != null ? ' seq ' + e.instSeq : '') +
        (e.deps ? ' deps [' + e.deps.join(', ') + (e.depsCount > e.deps.length ? ', +' + (e.depsCount - e.deps.length) : '') + ']' : '') +
        ' (' + (ep ? 'sent at ' : 'at ') + short(e.node) + ', ' + clock(e.t) + ')';
      out += '<g' + attrs({ 'data-testid': 'seq-msg', 'data-type': e.type, 'data-inst': e.inst, 'data-proto': ep ? 'epaxos' : 'paxos' }) + '><title>' + esc(title) + '</title>';
      out += '<text x="4" y="' + (y + 3) + '" fill="#9aa0a6">' + since(e.t - t0) + '</text>';
      if (x1 === x2) {
        out += '<path d="M' + x1 + ',' + (y - 4) + ' h16 v8 h-14" fill="none" stroke="' + color + '" stroke-width="1.5" marker-end="url(#ah-' + e.type + ')"/>';
        out += '<text x="' + (x1 + 20) + '" y="' + (y + 3) + '" fill="' + color + '">' + esc(label) + '</text>';
      } else {
        var dir = x2 > x1 ? 1 : -1;
        out += '<line x1="' + x1 + '" y1="' + y + '" x2="' + (x2 - dir * 2) + '" y2="' + y + '" stroke="' + color + '" stroke-width="1.5" marker-end="url(#ah-' + e.type + ')"/>';
        out += '<text x="' + ((x1 + x2) / 2) + '" y="' + (y - 3) + '" text-anchor="middle" fill="' + color + '">' + esc(label) + '</text>';
      }
      out += '</g>';
    });
    out += '</svg>';
    var wrap = $('seq-wrap');
    var atBottom = wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 24;
    if (set('seq', out) && atBottom) wrap.scrollTop = wrap.scrollHeight;
  }

  function kindOf(p, owners) {
    var o = owners[p.pid];
    if (o === 'replica' || p.label.indexOf('Services.') === 0) return 'replica';
    if (o === 'paxos' || p.label === 'Paxos') return 'paxos';
    if (o === 'epaxos' || p.label.indexOf('EPaxos ') === 0) return 'epaxos';
    if (p.label === 'Supervisor') return 'supervisor';
    if (RUNTIME[p.label]) return 'runtime';
    return 'worker';
  }

  function renderTrees(m) {
    var showAll = $('show-all').checked;
    var names = m.names.slice();
    if (showAll && m.snaps[m.self]) names.push(m.self);
    var cards = names.map(function (name) {
      var snap = m.snaps[name];
      var isSelf = name === m.self;
      var head = '<h3>' + esc(name) + ' <span class="mono">' + esc(m.full[name] ? hostPort(m.full[name]) : isSelf && snap ? hostPort(snap.node) : '') + '</span>';
      if (!snap) return '<div class="tree" data-testid="tree-' + esc(name) + '">' + head + '<span class="badge s-down">down</span></h3><div class="empty">node down</div></div>';
      var owners = {};
      var probeName = {};
      (snap.probes || []).forEach(function (p) {
        owners[p.owner] = p.kind;
        if (p.data && p.data.name) probeName[p.owner] = p.kind === 'replica' ? p.data.service + ':' + p.data.name : p.data.name;
        if (p.kind === 'epaxos' && p.data && p.data.partitionId) probeName[p.owner] = p.data.partitionId + ':' + p.data.replica;
      });
      var byPid = {};
      snap.processes.forEach(function (p) { byPid[p.pid] = p; });
      var kids = {};
      var roots = [];
      snap.processes.forEach(function (p) {
        if (p.parent && byPid[p.parent]) (kids[p.parent] = kids[p.parent] || []).push(p);
        else roots.push(p);
      });
      var rows = [];
      var hidden = 0;
      function visible(list) {
        var out = [];
        list.sort(function (a, b) { return a.id - b.id; }).forEach(function (p) {
          if (!showAll && kindOf(p, owners) === 'runtime') {
            hidden++;
            out = out.concat(visible(kids[p.pid] || []));
          } else out.push(p);
        });
        return out;
      }
      function walk(list, prefix) {
        list.forEach(function (p, i) {
          var last = i === list.length - 1;
          var k = kindOf(p, owners);
          var glyph = prefix === null ? '' : prefix + (last ? '└─ ' : '├─ ');
          var badge = k === 'replica' || k === 'paxos' || k === 'epaxos' || k === 'supervisor' ? '<span class="badge k-badge-' + k + '">' + k + '</span>' : '';
          var nm = probeName[p.pid] || p.name || '';
          if (nm && p.label.indexOf(nm) >= 0) nm = '';
          rows.push('<div class="proc k-' + k + '"' + attrs({ 'data-testid': 'proc-' + p.pid, 'data-kind': k }) + '>' +
            '<span class="g">' + esc(glyph) + '</span><span class="dot ' + esc(p.status) + '" title="' + esc(p.status) + '"></span>' +
            '<span class="mono pid">' + esc(p.pid) + '</span><span class="proc-lbl" title="' + esc(p.label) + '">' + esc(p.label) + '</span>' + badge +
            '<span class="proc-nm" title="' + esc(nm) + '">' + esc(nm) + '</span>' +
            (p.queue > 0 ? '<span class="q">q ' + esc(p.queue) + '</span>' : '') +
            (isSelf ? '' : button('kill-process', { node: snap.node, id: p.id, creation: p.creation }, 'kill', 'danger', 'kill-' + p.pid, 'kill ' + p.pid + ' ' + p.label)) +
            '</div>');
          walk(visible(kids[p.pid] || []), (prefix === null ? '' : prefix + (last ? '   ' : '│  ')));
        });
      }
      var top = visible(roots);
      top.forEach(function (p) { walk([p], null); });
      return '<div class="tree" data-testid="tree-' + esc(name) + '">' + head + '<span class="badge s-up">' + snap.processes.length + ' processes</span>' +
        (hidden ? '<span class="muted" style="font-weight: 400; font-size: 11px">' + hidden + ' runtime hidden</span>' : '') + '</h3>' +
        (rows.length ? rows.join('') : '<div class="empty">no processes</div>') + '</div>';
    });
    set('trees', cards.join(''));
  }

  function renderLog() {
    set('log', log.length === 0 ? html.log0 : log.map(function (e) {
      return '<div><span class="t">' + esc(clock(e.t)) + '</span><span class="' + e.cls + '">' + esc(e.text) + '</span></div>';
    }).join(''));
    var e = log[0];
    set('last-action', e ? '<span class="' + e.cls + '" title="' + esc(e.text) + '">' + esc(e.text) + '</span>' : '');
  }

  function render() {
    if (!state) return;
    var m = model(state);
    renderSummary(m);
    renderGraph(m);
    renderReplicas(m);
    renderPaxos(m);
    renderEpaxos(m);
    set('seq-title', protoWord(m) + ' messages');
    renderSeq(m);
    renderTrees(m);
    renderLog();
  }

  function poll() {
    if (polling) { again = true; return; }
    polling = true;
    fetch('/api/state', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) {
        state = s;
        lastOk = Date.now();
        $('conn').className = 'conn';
        $('conn').textContent = 'live';
        render();
      })
      .catch(function () {
        $('conn').className = 'conn bad';
        $('conn').textContent = 'no answer';
      })
      .then(function () {
        polling = false;
        if (again) { again = false; poll(); }
      });
  }

  function act(path, body, label) {
    var key = actKey(path, body);
    if (pending[key]) return Promise.resolve(null);
    pending[key] = true;
    var entry = { t: Date.now(), text: label + '…', cls: 'run' };
    log.unshift(entry);
    if (log.length > 8) log.pop();
    render();
    renderLog();
    return fetch('/api/' + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); })
      .catch(function (e) { return { ok: false, error: String(e) }; })
      .then(function (j) {
        delete pending[key];
        entry.cls = j.ok ? 'ok' : 'err';
        entry.text = label + (j.ok ? ': done' : ': ' + j.error);
        render();
        renderLog();
        poll();
        return j;
      });
  }

  html.log0 = $('log').innerHTML;
  document.addEventListener('click', function (ev) {
    var b = ev.target && ev.target.closest ? ev.target.closest('button[data-act]') : null;
    if (!b || b.disabled) return;
    var body;
    try { body = JSON.parse(b.getAttribute('data-body') || '{}'); } catch (e) { return; }
    act(b.getAttribute('data-act'), body, b.getAttribute('data-label') || b.getAttribute('data-act'));
  });
  $('add-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var f = ev.target;
    var body = { replica: f.replica.value, item: f.item.value.trim(), qty: Number(f.qty.value) };
    $('add-result').textContent = 'proposing…';
    act('inventory/add', body, 'add ' + body.qty + ' ' + body.item + ' at ' + body.replica).then(function (j) {
      if (!j) return;
      $('add-result').textContent = j.ok ? 'decided: ' + JSON.stringify(j.result && j.result.stock) : 'refused: ' + j.error;
    });
  });
  $('show-all').addEventListener('change', render);
  $('seq-service').addEventListener('change', render);
  setInterval(poll, 500);
  setInterval(function () {
    if (lastOk && Date.now() - lastOk > 3000) { $('conn').className = 'conn bad'; $('conn').textContent = 'no answer'; }
  }, 1000);
  poll();
})();
`;

/** The whole page. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>actorcluster: live cluster view</title>
<style>${STYLE}</style>
</head>
<body>
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
