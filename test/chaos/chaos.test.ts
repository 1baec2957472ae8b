// The chaos run, short: real node processes under kills, partitions and pauses, every
// operation recorded and the history checked for linearizability.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TSX = ['--import', 'tsx'];

describe('npm run chaos (short)', () => {
  it('faults of every kind, every operation recorded, linearizable, 0 violations', () => {
    const out = join(dir, 'history.jsonl');
    const run = spawnSync(
      process.execPath,
      [...TSX, 'scripts/chaos.ts', '--duration', '10', '--seed', '11', '--out', out],
      { encoding: 'utf8', timeout: 110_000, env: { ...process.env, LOG_LEVEL: 'error' } },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/operations: \d+ ok/);
    expect(run.stdout).toMatch(/faults injected: \d+ kills, \d+ partitions, \d+ pauses/);
    expect(run.stdout).toContain('linearizability: OK');
    expect(run.stdout).toContain('violations: 0');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    // The saved history checks again on its own, and a tampered one is rejected.
    const again = spawnSync(process.execPath, [...TSX, 'scripts/check-history.ts', out], {
      encoding: 'utf8',
    });
    expect(again.stdout).toContain('OK');
    const final = JSON.parse(lines.at(-1)!) as { output: { stock: Record<string, number> } };
    final.output.stock.apple = (final.output.stock.apple ?? 0) + 1;
    const bad = join(dir, 'tampered.jsonl');
    writeFileSync(bad, [...lines.slice(0, -1), JSON.stringify(final)].join('\n'));
    const rejected = spawnSync(process.execPath, [...TSX, 'scripts/check-history.ts', bad], {
      encoding: 'utf8',
    });
    expect(rejected.status).toBe(1);
    expect(rejected.stdout).toContain('NOT linearizable');
  }, 120_000);
});
