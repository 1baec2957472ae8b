// `npm run course` / `npm run course:dist`: the coursework's Paxos test harness, local (all
// participants in this process) or distributed (each participant in its own node process).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CASES } from '../test/course/cases.ts';
import { type Mode, type RunResult, runCase } from '../test/course/coordinator.ts';
import { Node } from '../transport/index.ts';

const HELP = `Usage: npm run course [-- options]      (local: every participant in this process)
       npm run course:dist [-- options] (distributed: every participant in its own node process)

Runs the coursework's test cases against this project's Paxos and prints a PASS/FAIL line per
run and a summary table. As in the coursework, case 1 runs once and the others ten times in the
distributed suite; the local suite runs each local case ten times.

Options:
  --mode local|dist   (set by the npm script)
  --cases 1,4,6       only these cases
  --runs N            runs per case (default: coursework's: 10, and 1 for case 1 in dist mode)
  --seed N            base seed (default: random); a run's seed is printed with it
  --help              this text`;

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'local' },
    cases: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const mode = values.mode as Mode;
if (mode !== 'local' && mode !== 'dist') {
  console.error(`--mode must be local or dist, got '${values.mode}'`);
  process.exit(2);
}
const wanted = values.cases ? values.cases.split(',').map(Number) : null;
if (wanted?.some((id) => !CASES.some((c) => c.id === id))) {
  console.error(`--cases: known cases are ${CASES.map((c) => c.id).join(', ')}`);
  process.exit(2);
}
const runsOption = values.runs === undefined ? undefined : Number(values.runs);
if (runsOption !== undefined && !(Number.isInteger(runsOption) && runsOption > 0)) {
  console.error('--runs must be a positive integer');
  process.exit(2);
}
const baseSeed = values.seed === undefined ? randomBytes(3).readUIntBE(0, 3) : Number(values.seed);

const cases = CASES.filter(
  (c) => (mode === 'local' ? c.local : c.dist) !== null && (!wanted || wanted.includes(c.id)),
);
const cookie = randomBytes(12).toString('hex');
if (mode === 'dist') await Node.start({ name: 'coord', cookie });

console.log(`course harness, ${mode} mode, base seed ${baseSeed}`);
const results: RunResult[] = [];
for (const def of cases) {
  const runs = runsOption ?? (mode === 'dist' && def.id === 1 ? 1 : 10);
  for (let run = 1; run <= runs; run++) {
    const seed = baseSeed + def.id * 1000 + run;
    const r = await runCase(def, mode, { seed, run, cookie });
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
