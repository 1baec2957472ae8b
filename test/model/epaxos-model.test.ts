// The EPaxos model: the real core (apps/epaxos/replica.ts) explored breadth first within bounds,
// clean without a mutation, and a shortest counterexample for the mutations it can reach.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EPAXOS_MODEL,
  type EpaxosStep,
  epaxosModel,
} from '../../apps/model/epaxos-model.ts';
import { explore, within } from '../../apps/model/explore.ts';
import { readTrace, replayTrace } from '../../apps/model/trace.ts';
import { seededRandom } from '../../transport/faults.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** tsx's loader by path, for a run whose working directory is not the project's. */
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

/** A seeded random run of the model until it breaks an invariant (null if none in `limit` steps). */
function randomViolation(
  model: ReturnType<typeof epaxosModel>,
  seed: number,
  limit: number,
): EpaxosStep[] | null {
  const next = seededRandom(seed);
  let g = model.initial();
  const steps: EpaxosStep[] = [];
  for (let i = 0; i < limit; i++) {
    const succ = model.successors(g);
    if (succ.length === 0) return null;
    const pick = succ[Math.floor(next() * succ.length)]!;
    steps.push(pick.step);
    if (pick.violation !== null) return steps;
    g = pick.next;
  }
  return null;
}

const check = (o: Partial<typeof DEFAULT_EPAXOS_MODEL>) =>
  explore(epaxosModel({ ...DEFAULT_EPAXOS_MODEL, ...o }));

describe('the EPaxos model (npm run check:model -- --protocol epaxos)', () => {
  it(
    'exhausts small clusters with no violation',
    () => {
      const a = check({ replicas: 3, commands: 1, timers: 0, crashes: 1 });
      expect(a.kind).toBe('clean');
      expect(a.states).toBeGreaterThan(1000); // 1,363 here
      const b = check({ replicas: 2, commands: 2, timers: 0, crashes: 0 });
      expect(b.kind).toBe('clean');
      const c = check({ replicas: 2, commands: 1, timers: 1, crashes: 1 });
      expect(c.kind).toBe('clean'); // a recovery (explicit prepare) and a restart included
      expect(c.states).toBeGreaterThan(2000);
    },
    scaledMs(60_000),
  );

  it(
    'finds the shortest counterexample for drop-dependency and execute-before-commit',
    () => {
      const dropped = check({ commands: 2, timers: 0, crashes: 0, mutations: ['drop-dependency'] });
      if (dropped.kind !== 'violation')
        throw new Error(`expected a violation, got ${dropped.kind}`);
      expect(dropped.violation).toMatch(/^order: /);
      expect(dropped.trace).toHaveLength(8);
      const early = check({ commands: 1, timers: 0, mutations: ['execute-before-commit'] });
      if (early.kind !== 'violation') throw new Error(`expected a violation, got ${early.kind}`);
      expect(early.violation).toMatch(/^executed-uncommitted/);
      expect(early.trace).toHaveLength(1);
    },
    scaledMs(60_000),
  );

  it(
    'within the steps of a long counterexample: a shortest one made of them, none without the mutation',
    () => {
      const o = { ...DEFAULT_EPAXOS_MODEL, commands: 2, timers: 0, crashes: 0 };
      const broken = epaxosModel({ ...o, mutations: ['drop-dependency'] });
      // Random runs that break the order (8 steps at the shortest, found above), longer ones.
      const runs: EpaxosStep[][] = [];
      for (let seed = 1; runs.length < 3 && seed < 500; seed++) {
        const run = randomViolation(broken, seed, 60);
        if (run && run.length > 12) runs.push(run);
      }
      expect(runs).toHaveLength(3);
      for (const run of runs) {
        const r = explore(within(broken, run, broken.stepKey));
        if (r.kind !== 'violation') throw new Error(`expected a violation, got ${r.kind}`);
        expect(r.trace.length).toBeGreaterThanOrEqual(8); // never below the whole model's shortest
        expect(r.trace.length).toBeLessThan(run.length);
        const keys = new Set(run.map(broken.stepKey));
        expect(r.trace.every((step) => keys.has(broken.stepKey(step)))).toBe(true);
        // The shorter trace is a real run of the broken core, to a violation.
        const replay = replayTrace({
          format: 'actorcluster-model-trace/1',
          protocol: 'epaxos',
          options: { ...o, mutations: ['drop-dependency'] },
          violation: r.violation,
          steps: r.trace,
        });
        expect(replay.violation).toBe(r.violation);
        // The same steps on the real core: every state they reach is explored, none breaks.
        const real = epaxosModel({ ...o, mutations: [] });
        const clean = explore(within(real, run, real.stepKey));
        expect(clean.kind).toBe('clean');
        expect(clean.states).toBeGreaterThan(1);
      }
      // A shortest counterexample cannot be shortened: within its own steps, the same length.
      const shortest = check({
        commands: 2,
        timers: 0,
        crashes: 0,
        mutations: ['drop-dependency'],
      });
      if (shortest.kind !== 'violation')
        throw new Error(`expected a violation, got ${shortest.kind}`);
      const again = explore(within(broken, shortest.trace, broken.stepKey));
      if (again.kind !== 'violation') throw new Error(`expected a violation, got ${again.kind}`);
      expect(again.trace).toHaveLength(shortest.trace.length);
    },
    scaledMs(120_000),
  );

  it(
    'majority-fast-quorum at 7 replicas: within the scenario, a shortest counterexample of 30 steps',
    () => {
      // The README's figure, checked: the search within the scenario's steps (about 75 s alone
      // on this machine) finds 30 steps, and they are the scenario's own (it is that search's
      // output, so a fixed point).
      const t = readTrace(
        join(ROOT, 'examples', 'model-traces', 'epaxos-majority-fast-quorum.json'),
      );
      if (t.protocol !== 'epaxos') throw new Error(`read back as ${t.protocol}`);
      const model = epaxosModel(t.options);
      const r = explore(within(model, t.steps, model.stepKey));
      if (r.kind !== 'violation') throw new Error(`expected a violation, got ${r.kind}`);
      expect(r.violation).toBe(t.violation);
      expect(r.trace).toHaveLength(30);
      expect(r.trace.map(model.stepKey)).toEqual(t.steps.map(model.stepKey));
    },
    scaledMs(900_000),
  );

  it(
    'the command line: a mutation caught and its trace written, replayed; a Paxos-only flag refused',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'epaxos-model-'));
      const file = join(dir, 'dd.json');
      try {
        const tsx = ['--import', 'tsx', 'scripts/check-model.ts', '--protocol', 'epaxos'];
        const found = spawnSync(
          process.execPath,
          [
            ...tsx,
            '--values',
            '2',
            '--timers',
            '0',
            '--crashes',
            '0',
            '--mutate',
            'drop-dependency',
            '--quiet',
            '--trace-out',
            file,
          ],
          { encoding: 'utf8' },
        );
        expect(found.status).toBe(1);
        expect(found.stdout).toMatch(/VIOLATION \(order: .*\) after 8 steps \(a shortest trace\)/);
        expect(found.stdout).toContain('  1. r1 proposes c1');
        expect(found.stdout).toContain(
          `trace written to ${file} (replay: npm run sim -- --replay ${file})`,
        );
        expect(existsSync(file)).toBe(true);
        // The replay prints the same numbered steps and the same violation, and exits 1 as well.
        const replay = spawnSync(
          process.execPath,
          ['--import', 'tsx', 'scripts/sim.ts', '--replay', file],
          {
            encoding: 'utf8',
          },
        );
        expect(replay.status).toBe(1);
        const steps = (out: string) => out.split('\n').filter((l) => /^ {2}\d\. /.test(l));
        expect(steps(replay.stdout)).toHaveLength(8);
        expect(steps(replay.stdout)).toEqual(steps(found.stdout));
        expect(replay.stdout).toContain(
          `replay of ${file}: epaxos, 3 replicas, 2 commands (mutation drop-dependency), 8 steps`,
        );
        expect(replay.stdout).toMatch(/^VIOLATION \(order: .*\)$/m);
        const wrong = spawnSync(process.execPath, [...tsx, '--impl', 'x.ts'], { encoding: 'utf8' });
        expect(wrong.status).toBe(2);
        expect(wrong.stderr.split('\n')[0]).toBe(
          '--impl is a Paxos option: not with --protocol epaxos',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    scaledMs(60_000),
  );

  it(
    'the command line writes a counterexample to model-trace.json when --trace-out is not given',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'epaxos-model-'));
      try {
        const run = spawnSync(
          process.execPath,
          [
            ...['--import', TSX, join(ROOT, 'scripts', 'check-model.ts'), '--protocol', 'epaxos'],
            ...['--values', '2', '--timers', '0', '--crashes', '0'],
            ...['--mutate', 'drop-dependency', '--quiet'],
          ],
          { encoding: 'utf8', cwd: dir },
        );
        expect(run.stderr).toBe('');
        expect(run.status).toBe(1);
        expect(run.stdout).toContain(
          'trace written to model-trace.json (replay: npm run sim -- --replay model-trace.json)',
        );
        expect(existsSync(join(dir, 'model-trace.json'))).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    scaledMs(60_000),
  );
});
