// `npm run course` / `npm run course:dist`: the coursework's Paxos test harness, local (all
// participants in this process) or distributed (each participant in its own node process),
// grading this project's Paxos or any module given with --impl.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { relative, resolve } from 'node:path';
import { logger } from '../actors/index.ts';
import { CASES } from '../apps/course/cases.ts';
import {
  launchRunNodes,
  type Mode,
  type Phases,
  type RunResult,
  runCase,
} from '../apps/course/coordinator.ts';
import { DEFAULT_IMPL, ImplError, loadImpl } from '../apps/course/impl.ts';
import { type LaunchedNode, Node } from '../transport/index.ts';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run course [-- options]      (local: every participant in this process)
       npm run course:dist [-- options] (distributed: every participant in its own node process)

Runs the coursework's test cases against a Paxos implementation and prints a PASS/FAIL line per
run and a summary table. As in the coursework, case 1 runs once and the others ten times in the
distributed suite; the local suite runs each local case (1-7) ten times.

Options:
  --impl PATH         the module to grade (default: this project's Paxos, apps/paxos/index.ts).
                      It must export start(name, participants, upper), propose(pid, value) and
                      start_ballot(pid) (or startBallot), written on actors/index.ts: as
                      top-level exports, on its default export, or on an export named Paxos.
                      Template: examples/student-paxos/paxos.ts
  --mode local|dist   (set by the npm script)
  --cases 1,4,6       only these cases (1-9; 8 and 9 run only in dist mode)
  --runs N            runs per case (default: coursework's: 10, and 1 for case 1 in dist mode)
  --seed N            base seed (default: random); a run's seed is printed with it
  --ahead N           dist mode: launch the node processes of up to N next runs while a run
                      runs (default 1; 0: each run launches its own when it starts). Every run
                      still gets fresh node processes, used by that run only.
  --help              this text

Exit code: 0 if every run passed, 1 if any failed, 2 for a usage error or an unusable --impl.
Logs: warnings and errors only (LOG_LEVEL overrides).`;

const args = cli({
  usage: HELP,
  options: {
    impl: { type: 'string' },
    mode: { type: 'string', default: 'local' },
    cases: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    ahead: { type: 'string' },
  },
});
const mode: Mode = args.choice('mode', ['local', 'dist'] as const) ?? 'local';
const wanted = args.intList('cases', { min: 1, max: CASES.length });
const runsOption = args.int('runs', { min: 1 });
const baseSeed = args.int('seed', { min: 0 }) ?? randomBytes(3).readUIntBE(0, 3);
const ahead = args.int('ahead', { min: 0, max: 10 }) ?? 1;
const cases = CASES.filter(
  (c) => (mode === 'local' ? c.local : c.dist) !== null && (!wanted || wanted.includes(c.id)),
);
const localOnly = wanted?.filter((id) => CASES.find((c) => c.id === id)?.[mode] === null);
if (localOnly?.length)
  args.fail(
    `--cases: case ${localOnly.join(', ')} runs only in ${mode === 'local' ? 'dist' : 'local'} mode`,
  );

// The implementation: checked here, before anything starts; an unusable one is exit 2.
const implArg = args.values.impl;
if (implArg === '') args.fail('--impl needs a path');
const impl = implArg === undefined ? DEFAULT_IMPL : resolve(implArg);
const implShown = implArg ?? relative(process.cwd(), DEFAULT_IMPL);
try {
  await loadImpl(impl, `--impl ${implShown}`);
} catch (err) {
  if (!(err instanceof ImplError)) throw err;
  console.error(err.message);
  process.exit(2);
}

// The harness's output is its PASS/FAIL lines: node ups and planned node downs are info.
if (!process.env.LOG_LEVEL) logger().level = 'warn';
const cookie = randomBytes(12).toString('hex');
if (mode === 'dist') await Node.start({ name: 'coord', cookie });

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `course harness, ${mode} mode, impl ${implShown}, base seed ${baseSeed} (load average ${load()})`,
);
const plan = cases.flatMap((def) =>
  Array.from({ length: runsOption ?? (mode === 'dist' && def.id === 1 ? 1 : 10) }, (_, k) => ({
    def,
    run: k + 1,
  })),
);

// Dist mode: run i's node processes, launched in order, each run's launch once the previous
// run's nodes are up; up to `ahead` runs' worth while a run runs. launchMs[i]: how long run i's
// launch took (from its start, not from when the run asked for it).
const launches: Array<Promise<LaunchedNode[]>> = [];
const launchMs: number[] = [];
const launchFor = (i: number): Promise<LaunchedNode[]> => {
  while (launches.length <= i) {
    const k = launches.length;
    const previous = launches[k - 1] ?? Promise.resolve([]);
    const next = previous
      .catch(() => [])
      .then(() => {
        const t0 = performance.now();
        return launchRunNodes(plan[k]!.def.dist!, { cookie, impl }).finally(() => {
          launchMs[k] = performance.now() - t0;
        });
      });
    next.catch(() => undefined); // the run that uses it reports its failure
    launches.push(next);
  }
  return launches[i]!;
};

const caseWallMs = new Map<number, number>();
const results: RunResult[] = [];
for (const [i, { def, run }] of plan.entries()) {
  const seed = baseSeed + def.id * 1000 + run;
  let nodes: Promise<LaunchedNode[]> | undefined;
  if (mode === 'dist') {
    nodes = launchFor(i);
    if (ahead > 0) launchFor(Math.min(plan.length - 1, i + ahead));
  }
  const t0 = performance.now();
  const r = await runCase(def, mode, { seed, run, cookie, impl, nodes });
  caseWallMs.set(def.id, (caseWallMs.get(def.id) ?? 0) + performance.now() - t0);
  results.push(r);
  const warn = r.warnings.length ? ` (${r.warnings.join(', ')})` : '';
  const detail = r.verdict === 'PASS' ? `value ${String(r.value)}` : r.reason;
  console.log(
    `case ${def.id} run ${String(run).padStart(2)} [${r.participants}]: ${r.verdict}${warn} ${detail}, ${r.durationMs.toFixed(0)} ms, seed ${seed}`,
  );
  if (r.verdict === 'FAIL')
    for (const f of r.results) console.log(`    ${JSON.stringify({ ...f, pid: String(f.pid) })}`);
}
// From this process's start (performance.now()'s origin): start-up and the compile included.
const wallMs = performance.now();

// ms/run: a run's own time (waiting for its nodes, setup, Paxos run, finish, teardown); the
// phase columns split it. launched: how long launching one run's nodes took, mostly while an
// earlier run ran (dist mode). wall s: the case's runs, end to end.
const phaseNames: Array<keyof Phases> = ['launch', 'setup', 'run', 'finish', 'teardown'];
console.log('\nsummary (times in ms per run unless said)');
console.log(
  `${'case'.padEnd(50)}${'nodes'.padStart(6)}${'runs'.padStart(5)}${'pass'.padStart(5)}${'fail'.padStart(5)}${'warn'.padStart(5)}${'ms/run'.padStart(7)}${phaseNames.map((p) => p.padStart(9)).join('')}${'launched'.padStart(9)}${'wall s'.padStart(7)}`,
);
const average = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
for (const def of cases) {
  const indices = plan.flatMap((p, i) => (p.def === def ? [i] : []));
  const rs = results.filter((r) => r.caseId === def.id);
  const pass = rs.filter((r) => r.verdict === 'PASS').length;
  const warned = rs.filter((r) => r.warnings.length > 0).length;
  const phases = phaseNames.map((p) => average(rs.map((r) => r.phases[p])));
  const launched =
    mode === 'dist' ? average(indices.flatMap((i) => launchMs[i] ?? [])).toFixed(0) : '-';
  console.log(
    `${`${def.id}. ${def.title}`.padEnd(50)}${String(rs[0]?.participants ?? '').padStart(6)}${String(rs.length).padStart(5)}${String(pass).padStart(5)}${String(rs.length - pass).padStart(5)}${String(warned).padStart(5)}${average(
      rs.map((r) => r.durationMs),
    )
      .toFixed(0)
      .padStart(
        7,
      )}${phases.map((ms) => ms.toFixed(0).padStart(9)).join('')}${launched.padStart(9)}${((caseWallMs.get(def.id) ?? 0) / 1000).toFixed(1).padStart(7)}`,
  );
}
const failed = results.filter((r) => r.verdict === 'FAIL').length;
console.log(`\n${results.length - failed} passed, ${failed} failed`);
console.log(
  `total wall time ${(wallMs / 1000).toFixed(1)} s for ${results.length} runs (${mode} mode${mode === 'dist' ? `, ${ahead} run${ahead === 1 ? '' : 's'} launched ahead` : ''}; load average ${load()})`,
);
if (mode === 'dist') await Node.stop();
process.exit(failed === 0 ? 0 : 1);
