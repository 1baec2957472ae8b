// The fuzzer (scripts/fuzz.ts) in a short seeded run against a real node process: the target
// survives every kind of case with its state intact. And its --help.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CASE_KINDS, formatReport, runFuzz } from '../../scripts/support/fuzz-core.ts';
import type { LaunchedNode } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const targets: LaunchedNode[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const t of targets) t.kill('SIGKILL');
  await Promise.all(targets.map((t) => t.exited));
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

describe('fuzz', () => {
  it(
    'a short seeded run: no failures, the target alive with its state intact, every kind run',
    async () => {
      const report = await runFuzz({
        seed: 20_251_123,
        cases: CASE_KINDS.length * 5,
        concurrency: 4,
        checkEveryMs: 1000,
        onTarget: (t) => targets.push(t),
      });
      const summary = formatReport(report);
      expect(report.failures, summary).toEqual([]);
      expect(report.targetAlive, summary).toBe(true);
      expect(report.stateIntact, summary).toBe(true);
      expect(report.cases, summary).toBe(CASE_KINDS.length * 5);
      for (const kind of CASE_KINDS) {
        expect(report.completed[kind], `${kind} never ran to its end\n${summary}`).toBeGreaterThan(
          0,
        );
      }
      expect(report.refused, summary).toBeGreaterThan(0);
      expect(report.checks, summary).toBeGreaterThanOrEqual(2); // before and after fuzzing
      expect(summary).toContain('0 failures');
    },
    scaledMs(60_000),
  );

  it(
    '--help prints the usage',
    async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/fuzz.ts', '--help'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, out).toBe(0);
      expect(out.startsWith('Usage: npm run fuzz -- [options]'), out).toBe(true);
      for (const kind of CASE_KINDS) expect(out).toContain(kind);
      expect(out).toMatch(/--seed N/);
    },
    scaledMs(60_000),
  );
});
