// The EPaxos model: the real core (apps/epaxos/replica.ts) explored breadth first within bounds,
// clean without a mutation, and a shortest counterexample for the mutations it can reach.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPAXOS_MODEL, epaxosModel } from '../../apps/model/epaxos-model.ts';
import { explore } from '../../apps/model/explore.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** tsx's loader by path, for a run whose working directory is not the project's. */
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

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
