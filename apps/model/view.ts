// A counterexample drawn as a message sequence diagram: one lane per participant, one row per
// step (a message delivered, duplicated or lost; a ballot started, a command proposed, a timer
// fired; a crash), the broken invariant under the last row. The drawing knows lanes and rows
// only: each protocol's steps become rows here (paxosViewSteps, epaxosViewSteps; traceView picks
// by the trace file's protocol). A self-contained HTML page (inline SVG, no script), written
// next to the trace file and served on 127.0.0.1 by `--view`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EpaxosStep, formatEpaxosMsg } from './epaxos-model.ts';
import { formatMsg, type PaxosStep } from './paxos-model.ts';
import type { TraceFile } from './trace.ts';

/** One row of the diagram. */
export type ViewStep =
  /** A message from one lane to another: delivered, delivered once more, or lost on the way. */
  | { kind: 'deliver' | 'duplicate' | 'drop'; from: string; to: string; label: string }
  /** Something that happens at one participant (a ballot started, a crash and restart). */
  | { kind: 'local'; node: string; label: string };

export interface TraceView {
  title: string;
  /** The lanes, left to right (participants with no step still get one). */
  lanes: string[];
  steps: ViewStep[];
  /** The invariant the last step broke, or null for a clean run. */
  violation: string | null;
}

/** The model checker's Paxos steps as rows. */
export function paxosViewSteps(steps: readonly PaxosStep[]): ViewStep[] {
  return steps.map((s): ViewStep => {
    switch (s.kind) {
      case 'start':
        return {
          kind: 'local',
          node: s.node,
          label: s.value === null ? 'starts a ballot' : `starts a ballot, proposing ${s.value}`,
        };
      case 'crash':
        return { kind: 'local', node: s.node, label: 'crashes, restarts from its disk' };
      default:
        return { kind: s.kind, from: s.from, to: s.to, label: formatMsg(s.msg) };
    }
  });
}

/** The EPaxos model's steps as rows (apps/model/epaxos-model.ts). */
export function epaxosViewSteps(steps: readonly EpaxosStep[]): ViewStep[] {
  return steps.map((s): ViewStep => {
    switch (s.kind) {
      case 'propose':
        return { kind: 'local', node: s.node, label: `proposes ${s.cmd}` };
      case 'timer':
        return {
          kind: 'local',
          node: s.node,
          label: `timer ${s.inst} ${s.ballot === null ? '(recover)' : `(ballot ${s.ballot})`} fires`,
        };
      case 'crash':
        return { kind: 'local', node: s.node, label: 'crashes, restarts from its disk' };
      default:
        return { kind: 'deliver', from: s.from, to: s.to, label: formatEpaxosMsg(s.msg) };
    }
  });
}

/** A trace file's diagram: its protocol's lanes (p1.. or r1..) and rows. */
export function traceView(t: TraceFile, title: string, violation: string | null): TraceView {
  if (t.protocol === 'epaxos')
    return {
      title,
      lanes: Array.from({ length: t.options.replicas }, (_, i) => `r${i + 1}`),
      steps: epaxosViewSteps(t.steps),
      violation,
    };
  return {
    title,
    lanes: Array.from({ length: t.options.participants }, (_, i) => `p${i + 1}`),
    steps: paxosViewSteps(t.steps),
    violation,
  };
}

const LANE_W = 190;
const ROW_H = 34;
const TOP = 56;
const LEFT = 40;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page: a heading, the diagram (inline SVG), and the steps as a numbered list. */
export function traceHtml(view: TraceView): string {
  const lanes = [...view.lanes];
  for (const s of view.steps)
    for (const n of s.kind === 'local' ? [s.node] : [s.from, s.to])
      if (!lanes.includes(n)) lanes.push(n);
  const x = (lane: string) => LEFT + lanes.indexOf(lane) * LANE_W + LANE_W / 2;
  const width = LEFT * 2 + lanes.length * LANE_W;
  const bottom = TOP + view.steps.length * ROW_H + 20;
  const height = bottom + (view.violation === null ? 10 : 50);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="12">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1f2937"/></marker></defs>',
  );
  for (const lane of lanes) {
    out.push(
      `<text x="${x(lane)}" y="${TOP - 24}" text-anchor="middle" font-weight="bold" font-size="14">${esc(lane)}</text>`,
      `<line class="lane" x1="${x(lane)}" y1="${TOP - 14}" x2="${x(lane)}" y2="${bottom}" stroke="#9ca3af" stroke-dasharray="4 3"/>`,
    );
  }
  view.steps.forEach((s, i) => {
    const y = TOP + i * ROW_H + ROW_H / 2;
    out.push(`<text x="6" y="${y + 4}" fill="#6b7280">${i + 1}</text>`);
    if (s.kind === 'local') {
      const cx = x(s.node);
      out.push(
        `<rect class="local" x="${cx - LANE_W / 2 + 6}" y="${y - 11}" width="${LANE_W - 12}" height="22" rx="4" fill="#e0e7ff" stroke="#6366f1"/>`,
        `<text x="${cx}" y="${y + 4}" text-anchor="middle">${esc(s.label)}</text>`,
      );
      return;
    }
    const x1 = x(s.from);
    const x2 = x(s.to);
    const lost = s.kind === 'drop';
    // A message to oneself: a short loop on the lane.
    const path =
      x1 === x2
        ? `M${x1},${y - 8} h28 v16 h-26`
        : `M${x1},${y} L${lost ? (x1 + x2) / 2 : x2 + (x2 > x1 ? -2 : 2)},${y}`;
    out.push(
      `<path class="${s.kind}" d="${path}" fill="none" stroke="${lost ? '#dc2626' : '#1f2937'}" stroke-width="1.5"${lost ? ' stroke-dasharray="5 4"' : ' marker-end="url(#arrow)"'}/>`,
    );
    if (lost)
      out.push(
        `<text x="${(x1 + x2) / 2}" y="${y + 5}" text-anchor="middle" fill="#dc2626" font-size="15">✗</text>`,
      );
    const note = s.kind === 'duplicate' ? ' (again)' : lost ? ' (lost)' : '';
    out.push(
      `<text x="${x1 === x2 ? x1 + 34 : (x1 + x2) / 2}" y="${y - 5}" text-anchor="${x1 === x2 ? 'start' : 'middle'}" fill="${lost ? '#dc2626' : '#111827'}">${esc(s.label + note)}</text>`,
    );
  });
  if (view.violation !== null)
    out.push(
      `<rect x="${LEFT}" y="${bottom + 8}" width="${width - LEFT * 2}" height="30" rx="4" fill="#fee2e2" stroke="#dc2626"/>`,
      `<text class="violation" x="${LEFT + 10}" y="${bottom + 27}" fill="#991b1b" font-weight="bold">${esc(`VIOLATION: ${view.violation}`)}</text>`,
    );
  out.push('</svg>');
  const words = view.steps.map((s) =>
    s.kind === 'local'
      ? `${s.node} ${s.label}`
      : s.kind === 'drop'
        ? `${s.from} → ${s.to}: ${s.label} is lost`
        : `${s.to} receives ${s.label} from ${s.from}${s.kind === 'duplicate' ? ' (a duplicate)' : ''}`,
  );
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(view.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#111827}h1{font-size:18px}
ol{font-family:monospace;font-size:13px}.bad{color:#991b1b;font-weight:bold}</style></head>
<body><h1>${esc(view.title)}</h1>
${view.violation === null ? '<p>No invariant broken.</p>' : `<p class="bad">${esc(view.violation)}</p>`}
${out.join('\n')}
<ol>${words.map((w) => `<li>${esc(w)}</li>`).join('')}</ol>
</body></html>
`;
}

/** Serves the page on 127.0.0.1 (a free port); `close` stops it. */
export async function serveView(
  html: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
