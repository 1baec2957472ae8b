// `npm run test:soak`: the whole suite N times in a row while K busy-loop processes hold the
// CPU, to shake out tests that pass only on an idle machine. Exit 0 only if every run was green.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TIMEOUT_SCALE, TIMEOUT_SCALE_ENV } from '../transport/timeouts.ts';
import { cli } from './support/cli.ts';
import { countReport, type Totals, totalsLine, type VitestReport } from './support/test-totals.ts';

const USAGE = `Usage: npm run test:soak -- [options] [vitest filters...]

Runs the whole test suite (vitest run) --runs times in a row while --load busy-loop processes
hold the CPU, and prints for each run: green or red, tests passed/failed/skipped, the failed
files, the duration, and every failing test by name (file > describe > test). A test file that
fails in beforeAll, or fails to load, counts as failed. Ends with one summary line (and the
tests that failed in some runs only: the flaky ones); exits 0 only if every run was green.
Filters after the options are passed to vitest (e.g. test/actors to soak one folder).

Generous waits in the suite scale with ${TIMEOUT_SCALE_ENV} (default 1): set it for a
slow machine, not to hide a flaky test.

Options:
  --runs N     runs of the suite, one after the other (default 3)
  --load K     busy-loop processes running meanwhile (default 2; 0 for none)
  --help       this text`;

const args = cli({
  usage: USAGE,
  options: {
    runs: { type: 'string', default: '3' },
    load: { type: 'string', default: '2' },
  },
  allowPositionals: true,
});
const runs = args.int('runs', { min: 1 })!;
const load = args.int('load', { min: 0 })!;
const filters = args.positionals;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
/** A busy loop that also ends if its parent is gone (checked every ~10^8 turns, < 1 s). */
const BUSY_LOOP =
  'const p = process.ppid; for (let i = 1; ; i++) if (i % 1e8 === 0 && process.ppid !== p) process.exit(0);';

// ---- the processes this script starts, all ended on every way out --------------------------

const hogs: ChildProcess[] = [];
let suite: ChildProcess | null = null;

function endChildren(): void {
  if (suite?.pid !== undefined && suite.exitCode === null && suite.signalCode === null) {
    try {
      process.kill(-suite.pid, 'SIGKILL'); // vitest and its workers: their own process group
    } catch {
      // already gone
    }
  }
  for (const hog of hogs) if (hog.exitCode === null && hog.signalCode === null) hog.kill('SIGKILL');
}

process.on('exit', endChildren);
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    console.error(`\nsoak: ${signal}: stopping the suite and the ${hogs.length} busy loops`);
    endChildren();
    process.exit(code);
  });
}
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err) => {
    console.error('soak: crashed:', err);
    endChildren();
    process.exit(1);
  });
}

// ---- one run -----------------------------------------------------------------------------

interface RunResult {
  green: boolean;
  totals: Totals;
  failedFiles: string[];
  durationMs: number;
  /** The failing tests by name alone (the same rules as the totals), to count across runs. */
  failingNames: string[];
  /** Why the run is red beyond its failed tests (vitest's exit code, no report). */
  problem?: string;
}

function relative(file: string): string {
  return file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
}

/** `file > describe > test` of every failure countReport counts (messages left out). */
function failingNames(report: VitestReport): string[] {
  const names: string[] = [];
  for (const file of report.testResults) {
    const rel = relative(file.name);
    const fileFailed = file.status === 'failed';
    const anyFailed = file.assertionResults.some((a) => a.status === 'failed');
    for (const a of file.assertionResults) {
      const hookSkipped = fileFailed && !anyFailed && a.status !== 'passed';
      if (a.status === 'failed' || hookSkipped)
        names.push([rel, ...a.ancestorTitles, a.title].join(' > '));
    }
    if (fileFailed && file.assertionResults.length === 0) names.push(rel);
  }
  return names;
}

async function runSuite(reportFile: string): Promise<RunResult> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      VITEST,
      'run',
      '--reporter=dot',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
      ...filters,
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], detached: true },
  );
  suite = child;
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  suite = null;
  const durationMs = performance.now() - started;
  /** A run whose report could not be read: red, with why. */
  const unread = (problem: string): RunResult => ({
    green: false,
    totals: { passed: 0, failed: 0, skipped: 0, failures: [] },
    failedFiles: [],
    failingNames: [],
    durationMs,
    problem,
  });
  if (!existsSync(reportFile)) return unread(`vitest exited with code ${code} and wrote no report`);
  let report: VitestReport;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestReport;
  } catch (err) {
    return unread(`unreadable report: ${(err as Error).message}`);
  }
  const totals = countReport(report, ROOT.replace(/\/$/, ''));
  const failedFiles = report.testResults
    .filter((f) => f.status === 'failed')
    .map((f) => relative(f.name));
  const problem =
    code !== 0 && totals.failed === 0
      ? `vitest exited with code ${code} though no test failed (an unhandled error?)`
      : undefined;
  return {
    green: code === 0 && totals.failed === 0,
    totals,
    failedFiles,
    failingNames: failingNames(report),
    durationMs,
    problem,
  };
}

// ---- the soak ------------------------------------------------------------------------------

for (let i = 0; i < load; i++) {
  hogs.push(spawn(process.execPath, ['-e', BUSY_LOOP], { stdio: 'ignore' }));
}
console.log(
  `soak: ${runs} run(s) of the suite${filters.length ? ` (${filters.join(' ')})` : ''} with ${load} busy loop(s) on ${availableParallelism()} cores, ${TIMEOUT_SCALE_ENV}=${TIMEOUT_SCALE}`,
);

const dir = mkdtempSync(join(tmpdir(), 'soak-'));
const results: RunResult[] = [];
/** How many runs each failing test failed in. */
const failedIn = new Map<string, number>();
try {
  for (let run = 1; run <= runs; run++) {
    console.log(`\n== run ${run}/${runs}`);
    const r = await runSuite(join(dir, `run-${run}.json`));
    results.push(r);
    const seconds = (r.durationMs / 1000).toFixed(1);
    console.log(
      `\nrun ${run}/${runs}: ${r.green ? 'green' : 'RED'}: ${totalsLine(r.totals)}; ${r.failedFiles.length} failed file(s)${r.failedFiles.length ? ` (${r.failedFiles.join(', ')})` : ''}; ${seconds} s`,
    );
    if (r.problem) console.log(`  ${r.problem}`);
    for (const f of r.totals.failures) console.log(`  FAILED ${f}`);
    for (const name of new Set(r.failingNames)) failedIn.set(name, (failedIn.get(name) ?? 0) + 1);
  }
} finally {
  endChildren();
  rmSync(dir, { recursive: true, force: true });
}

const green = results.filter((r) => r.green).length;
if (failedIn.size > 0) {
  console.log('\ntests that failed, by the number of runs they failed in:');
  for (const [name, count] of [...failedIn].sort((a, b) => b[1] - a[1]))
    console.log(`  ${count}/${runs} ${name}`);
}
const totalS = (results.reduce((sum, r) => sum + r.durationMs, 0) / 1000).toFixed(0);
console.log(
  `\nsoak: ${green} of ${runs} run(s) green with ${load} busy loop(s), ${failedIn.size} test(s) failed at least once, ${totalS} s: ${green === runs ? 'OK' : 'FAILED'}`,
);
process.exit(green === runs ? 0 : 1);
