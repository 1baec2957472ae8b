// `npm run course` / `npm run course:dist`: the coursework's Paxos test harness, local (all
// participants in this process) or distributed (each participant in its own node process),
// grading this project's Paxos or any module given with --impl.
import { randomBytes } from 'node:crypto';
import { relative, resolve } from 'node:path';
import { logger } from '../actors/index.ts';
import { CASES } from '../apps/course/cases.ts';
import { type Mode, type RunResult, runCase } from '../apps/course/coordinator.ts';
import { DEFAULT_IMPL, ImplError, loadImpl } from '../apps/course/impl.ts';
import { Node } from '../transport/index.ts';
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
  },
});
const mode: Mode = args.choice('mode', ['local', 'dist'] as const) ?? 'local';
const wanted = args.intList('cases', { min: 1, max: CASES.length });
const runsOption = args.int('runs', { min: 1 });
const baseSeed = args.int('seed', { min: 0 }) ?? randomBytes(3).readUIntBE(0, 3);
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

console.log(`course harness, ${mode} mode, impl ${implShown}, base seed ${baseSeed}`);
const results: RunResult[] = [];
for (const def of cases) {
  const runs = runsOption ?? (mode === 'dist' && def.id === 1 ? 1 : 10);
  for (let run = 1; run <= runs; run++) {
    const seed = baseSeed + def.id * 1000 + run;
    const r = await runCase(def, mode, { seed, run, cookie, impl });
    results.push(r);
    const warn = r.warnings.length ? ` (${r.warnings.join(', ')})` : '';
    const detail = r.verdict === 'PASS' ? `value ${String(r.value)}` : r.reason;
    console.log(
      `case ${def.id} run ${String(run).padStart(2)} [${r.participants}]: ${r.verdict}${warn} ${detail}, ${r.durationMs.toFixed(0)} ms, seed ${seed}`,
    );
    if (r.verdict === 'FAIL')
      for (const f of r.results) console.log(`    ${JSON.stringify({ ...f, pid: String(f.pid) })}`);
  }
}

console.log('\nsummary');
console.log(
  `${'case'.padEnd(52)}${'nodes'.padStart(6)}${'runs'.padStart(6)}${'pass'.padStart(6)}${'fail'.padStart(6)}${'warn'.padStart(6)}${'ms/run'.padStart(8)}`,
);
for (const def of cases) {
  const rs = results.filter((r) => r.caseId === def.id);
  const pass = rs.filter((r) => r.verdict === 'PASS').length;
  const warned = rs.filter((r) => r.warnings.length > 0).length;
  const avg = rs.reduce((a, r) => a + r.durationMs, 0) / Math.max(1, rs.length);
  console.log(
    `${`${def.id}. ${def.title}`.padEnd(52)}${String(rs[0]?.participants ?? '').padStart(6)}${String(rs.length).padStart(6)}${String(pass).padStart(6)}${String(rs.length - pass).padStart(6)}${String(warned).padStart(6)}${avg.toFixed(0).padStart(8)}`,
  );
}
const failed = results.filter((r) => r.verdict === 'FAIL').length;
console.log(`\n${results.length - failed} passed, ${failed} failed`);
if (mode === 'dist') await Node.stop();
process.exit(failed === 0 ? 0 : 1);
