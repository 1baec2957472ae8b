// `npm run fuzz`: a bounded, seeded fuzz run against a real node process. Throws garbage, forged
// handshakes and abusive connections at a target node's port and checks it keeps serving with
// its state intact. The work is in scripts/support/fuzz-core.ts (the test runs it too).
import { randomInt } from 'node:crypto';
import { logger, setLogger } from '../actors/index.ts';
import type { LaunchedNode } from '../transport/index.ts';
import { cli } from './support/cli.ts';
import {
  CASE_DESCRIPTIONS,
  CASE_KINDS,
  type CaseKind,
  CHURN_MAX,
  formatProgress,
  formatReport,
  runFuzz,
} from './support/fuzz-core.ts';

const HELP = `Usage: npm run fuzz -- [options]

Launches a target node (a child process with a random cookie), makes this process the node
'fuzzer', connects to the target and puts state on it (a store process registered locally and
globally, holding a value). Then throws at the target's port, from raw ws clients and raw TCP
sockets on 127.0.0.1, cases of these kinds (case i is generated from the seed and i alone):

${CASE_KINDS.map((k) => `  ${k.padEnd(18)} ${CASE_DESCRIPTIONS[k]}`).join('\n')}

Every --check-every seconds and at the end it checks the target: ping, a round trip to the
store, the stored value, the local and global names, no forged message delivered, a remote
spawn, and the target process alive. A progress line goes to stderr every second; the summary
goes to stdout. Exits 1 on any failure (0 otherwise, 130 if interrupted).

Options:
  --duration S       fuzz for S seconds (default 10)
  --cases N          run exactly N cases instead (each kind once first, then at random)
  --seed N           seed of the run (default: random, printed); same seed, same cases
  --concurrency N    cases in flight at once (default 4; a churn case opens up to ${CHURN_MAX})
  --kinds K,K        only these kinds (default all)
  --check-every S    check the target every S seconds while fuzzing (default 2)
  --target-log-level L   LOG_LEVEL of the target node (default warn)
  --help             this text

Environment: LOG_LEVEL of this process (default error).`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const args = cli({
  usage: HELP,
  options: {
    duration: { type: 'string' },
    cases: { type: 'string' },
    seed: { type: 'string' },
    concurrency: { type: 'string' },
    kinds: { type: 'string' },
    'check-every': { type: 'string' },
    'target-log-level': { type: 'string' },
  },
});
const duration = args.number('duration', { above: 0 }) ?? 10;
const cases = args.int('cases', { min: 1 });
const concurrency = args.int('concurrency', { min: 1 }) ?? 4;
const checkEvery = args.number('check-every', { above: 0 }) ?? 2;
const seed = args.int('seed', { min: 0, max: 2 ** 32 - 1 }) ?? randomInt(1, 2 ** 31);
let kinds: CaseKind[] | undefined;
if (args.values.kinds !== undefined) {
  const given = args.values.kinds.split(',').map((k) => k.trim());
  const unknown = given.filter((k) => !(CASE_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0)
    args.fail(
      `--kinds: unknown kind(s) ${unknown.join(', ')}; the kinds: ${CASE_KINDS.join(', ')}`,
    );
  kinds = given as CaseKind[];
}
const targetLogLevel = args.choice('target-log-level', LOG_LEVELS);

setLogger(logger().child({}, { level: process.env.LOG_LEVEL ?? 'error' }));

const controller = new AbortController();
let target: LaunchedNode | null = null;
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts === 1) {
    console.error('interrupted: stopping (Ctrl-C again to quit at once)');
    controller.abort();
    return;
  }
  target?.kill('SIGKILL');
  process.exit(130);
});

console.error(
  `fuzz: seed ${seed} (replay with --seed ${seed}); ${
    cases !== undefined ? `${cases} cases` : `${duration} s`
  }, concurrency ${concurrency}`,
);
const report = await runFuzz({
  seed,
  durationMs: duration * 1000,
  cases,
  concurrency,
  checkEveryMs: checkEvery * 1000,
  kinds,
  targetLogLevel,
  signal: controller.signal,
  onTarget: (t) => {
    target = t;
  },
  onProgress: (p) => console.error(formatProgress(p)),
});
console.log(formatReport(report));
process.exit(report.failures.length > 0 ? 1 : report.interrupted ? 130 : 0);
