// The counterexample as a message sequence diagram: a real shortest trace (a mutation caught by
// the model checker) drawn as lanes and arrows, and served on loopback.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPAXOS_MODEL, epaxosModel } from '../../apps/model/epaxos-model.ts';
import { explore } from '../../apps/model/explore.ts';
import { DEFAULT_PAXOS_MODEL, paxosModel } from '../../apps/model/paxos-model.ts';
import { readTrace } from '../../apps/model/trace.ts';
import {
  epaxosViewSteps,
  paxosViewSteps,
  serveView,
  traceHtml,
  traceView,
} from '../../apps/model/view.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { waitUntil } from '../helpers.ts';

describe('model trace view', () => {
  it(
    'draws a shortest counterexample: one lane per participant, one row per step, the violation',
    async () => {
      // Two participants, two ballots: found in a few seconds (README: 14 steps).
      const model = paxosModel({
        ...DEFAULT_PAXOS_MODEL,
        participants: 2,
        ballots: 2,
        crashes: 0,
        mutations: ['accept-below-promise'],
      });
      const r = explore(model);
      if (r.kind !== 'violation') throw new Error(`expected a violation, got ${r.kind}`);
      const steps = paxosViewSteps(r.trace);
      expect(steps.length).toBe(r.trace.length);
      const html = traceHtml({
        title: 'accept-below-promise',
        lanes: model.names,
        steps,
        violation: r.violation,
      });
      for (const lane of model.names) expect(html).toContain(`>${lane}</text>`);
      expect(html.match(/class="lane"/g)).toHaveLength(model.names.length);
      // An arrow per delivered message, a box per ballot started.
      const delivered = r.trace.filter((s) => s.kind === 'deliver').length;
      const started = r.trace.filter((s) => s.kind === 'start').length;
      expect(delivered).toBeGreaterThan(0);
      expect(html.match(/class="deliver"/g) ?? []).toHaveLength(delivered);
      expect(html.match(/class="local"/g) ?? []).toHaveLength(started);
      expect(html).toContain('class="violation"');
      expect(html.match(/<li>/g)).toHaveLength(steps.length);
      // Served as it is, on loopback.
      const served = await serveView(html);
      try {
        expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
        const res = await fetch(served.url);
        expect(res.headers.get('content-type')).toContain('text/html');
        expect(await res.text()).toBe(html);
      } finally {
        await served.close();
      }
    },
    scaledMs(60_000),
  );

  it(
    'draws an EPaxos counterexample: a lane per replica, a box per proposal, an arrow per message',
    () => {
      // drop-dependency, 3 replicas, 2 commands: 8 steps (README).
      const model = epaxosModel({
        ...DEFAULT_EPAXOS_MODEL,
        commands: 2,
        timers: 0,
        crashes: 0,
        mutations: ['drop-dependency'],
      });
      const r = explore(model);
      if (r.kind !== 'violation') throw new Error(`expected a violation, got ${r.kind}`);
      const steps = epaxosViewSteps(r.trace);
      expect(steps).toHaveLength(8);
      const html = traceHtml({
        title: 'drop-dependency',
        lanes: model.names,
        steps,
        violation: r.violation,
      });
      for (const lane of ['r1', 'r2', 'r3']) expect(html).toContain(`>${lane}</text>`);
      expect(html.match(/class="lane"/g)).toHaveLength(3);
      const proposed = r.trace.filter((s) => s.kind === 'propose').length;
      const delivered = r.trace.filter((s) => s.kind === 'deliver').length;
      expect(proposed).toBe(2);
      expect(html.match(/class="local"/g) ?? []).toHaveLength(proposed);
      expect(html.match(/class="deliver"/g) ?? []).toHaveLength(delivered);
      expect(html).toContain('>proposes c1</text>');
      // An arrow's label is the message as check:model prints it.
      expect(html).toContain('>preaccept r1.0 ballot 0.r1 seq=0 deps=[]</text>');
      expect(html).toContain('<li>r2 receives commit r1.0 seq=0 deps=[] from r1</li>');
      expect(html).toContain(`VIOLATION: ${r.violation}`);
      // A timer and a crash are boxes on their replica's lane.
      const more = epaxosViewSteps([
        { kind: 'timer', node: 'r2', inst: 'r1.0', ballot: null },
        { kind: 'timer', node: 'r3', inst: 'r1.0', ballot: '1.r3' },
        { kind: 'crash', node: 'r1' },
      ]);
      expect(more).toEqual([
        { kind: 'local', node: 'r2', label: 'timer r1.0 (recover) fires' },
        { kind: 'local', node: 'r3', label: 'timer r1.0 (ballot 1.r3) fires' },
        { kind: 'local', node: 'r1', label: 'crashes, restarts from its disk' },
      ]);
    },
    scaledMs(60_000),
  );

  it("traceView picks lanes and rows by the trace file's protocol", () => {
    const fixtures = fileURLToPath(new URL('../fixtures/model/', import.meta.url));
    const e = traceView(readTrace(`${fixtures}epaxos-drop-dependency.json`), 'e', 'broken');
    expect(e.lanes).toEqual(['r1', 'r2', 'r3']);
    expect(e.steps[0]).toEqual({ kind: 'local', node: 'r1', label: 'proposes c1' });
    expect(e.steps).toHaveLength(8);
    const p = traceView(readTrace(`${fixtures}paxos-forget-accepted-on-promise.json`), 'p', null);
    expect(p.lanes).toEqual(['p1', 'p2']);
    expect(p.steps.every((s) => s.kind === 'local' || s.from.startsWith('p'))).toBe(true);
  });

  it('a lost message is a dashed red arrow; text is escaped', () => {
    const html = traceHtml({
      title: '<script>',
      lanes: ['p1', 'p2'],
      steps: [
        { kind: 'drop', from: 'p1', to: 'p2', label: 'prepare(1.p1)' },
        { kind: 'duplicate', from: 'p2', to: 'p1', label: 'promise(1.p1, accepted "<b>")' },
        { kind: 'local', node: 'p3', label: 'crashes, restarts from its disk' },
      ],
      violation: null,
    });
    expect(html).toContain('class="drop"');
    expect(html).toContain('stroke-dasharray="5 4"');
    expect(html).toContain('(lost)');
    expect(html).toContain('(again)');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('"<b>"');
    expect(html).toContain('>p3</text>'); // a lane added for a participant named only in a step
    expect(html).toContain('No invariant broken.');
  });
});

describe('npm run sim -- --replay FILE --view', () => {
  it(
    'replays the trace, writes FILE.html and serves it on 127.0.0.1 until stopped',
    async () => {
      const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const { spawn, spawnSync } = await import('node:child_process');
      const dir = mkdtempSync(join(tmpdir(), 'model-view-'));
      const file = join(dir, 'trace.json');
      try {
        const found = spawnSync(
          process.execPath,
          [
            ...['--import', 'tsx', 'scripts/check-model.ts'],
            ...['--participants', '2', '--ballots', '2', '--crashes', '0', '--quiet'],
            ...['--mutate', 'forget-accepted-on-promise', '--trace-out', file],
          ],
          { encoding: 'utf8' },
        );
        expect(found.status).toBe(1);
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'scripts/sim.ts', '--replay', file, '--view'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        try {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
          });
          await waitUntil(() => /served on (http:\S+)/.test(out), 'the URL printed');
          expect(out).toMatch(/VIOLATION \(agreement/);
          const url = /served on (http:\S+)/.exec(out)![1]!;
          expect(url.startsWith('http://127.0.0.1:')).toBe(true);
          const page = await (await fetch(url)).text();
          expect(page).toBe(readFileSync(`${file}.html`, 'utf8'));
          expect(page).toContain('class="violation"');
        } finally {
          child.kill('SIGTERM');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    scaledMs(60_000),
  );
});

describe('npm run sim -- --replay FILE --view, an EPaxos trace', () => {
  it(
    'replays it and serves its diagram: one lane per replica',
    async () => {
      const { copyFileSync, mkdtempSync, readFileSync, rmSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const { spawn } = await import('node:child_process');
      const dir = mkdtempSync(join(tmpdir(), 'model-view-epaxos-'));
      const file = join(dir, 'trace.json');
      copyFileSync(
        fileURLToPath(new URL('../fixtures/model/epaxos-drop-dependency.json', import.meta.url)),
        file,
      );
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'scripts/sim.ts', '--replay', file, '--view'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      try {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        await waitUntil(() => /served on (http:\S+)/.test(out), 'the URL printed');
        expect(out).toContain(
          `replay of ${file}: epaxos, 3 replicas, 2 commands (mutation drop-dependency), 8 steps`,
        );
        expect(out).toMatch(/^VIOLATION \(order: /m);
        const url = /served on (http:\S+)/.exec(out)![1]!;
        const page = await (await fetch(url)).text();
        expect(page).toBe(readFileSync(`${file}.html`, 'utf8'));
        expect(page).toContain(`<title>${file}: epaxos, 3 replicas, 2 commands`);
        expect(page.match(/class="lane"/g)).toHaveLength(3);
        expect(page.match(/class="deliver"/g)).toHaveLength(6);
        expect(page).toContain('>r3</text>');
        expect(page).toContain('class="violation"');
      } finally {
        child.kill('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
      }
    },
    scaledMs(60_000),
  );
});
