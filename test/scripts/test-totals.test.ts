// The totals CI and the soak print: a real vitest run over files that fail in each way
// (a failing beforeAll, a failing test, a file that cannot load), counted by test-totals.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { countReport, totalsLine, type VitestReport } from '../../scripts/support/test-totals.ts';

const dir = mkdtempSync(join(tmpdir(), 'totals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a test skipped by a failing hook and a file that fails to load count as failed', () => {
  const out = join(dir, 'report.json');
  const run = spawnSync(
    process.execPath,
    [
      'node_modules/vitest/vitest.mjs',
      'run',
      '--root',
      'test/fixtures/totals',
      '--reporter=json',
      `--outputFile.json=${out}`,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(run.status, run.stderr).toBe(1);
  const totals = countReport(JSON.parse(readFileSync(out, 'utf8')) as VitestReport);
  expect(totalsLine(totals)).toBe('2 passed, 4 failed, 1 skipped');
  expect(totals.failures.map((f) => f.split(':')[0]).sort()).toEqual([
    'test/fixtures/totals/hook-fails.fixture.ts > needs a browser > clicks a button',
    'test/fixtures/totals/hook-fails.fixture.ts > needs a browser > draws the page',
    'test/fixtures/totals/load-fails.fixture.ts',
    'test/fixtures/totals/mixed.fixture.ts > fails',
  ]);
}, 150_000);
