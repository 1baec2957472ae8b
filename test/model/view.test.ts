// The counterexample as a message sequence diagram: a real shortest trace (a mutation caught by
// the model checker) drawn as lanes and arrows, and served on loopback.
import { describe, expect, it } from 'vitest';
import { explore } from '../../apps/model/explore.ts';
import { DEFAULT_PAXOS_MODEL, paxosModel } from '../../apps/model/paxos-model.ts';
import { paxosViewSteps, serveView, traceHtml } from '../../apps/model/view.ts';
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
