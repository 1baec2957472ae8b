// `npm run check:history -- FILE`: checks a recorded history (JSON Lines, as `npm run chaos`
// writes it) for linearizability against the inventory model.
import { readHistory } from '../apps/check/history.ts';
import { checkLinearizable } from '../apps/check/linearizability.ts';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run check:history -- FILE [--timeout-ms N]

Reads a history of inventory operations (one JSON entry per line: id, client, input, call,
ret, output) and checks that it is linearizable against the inventory model. Prints OK, or the
longest linearizable prefix and the operations that cannot follow it; exits 0 if linearizable,
1 if not, 3 if the check timed out, 2 for a bad file or arguments.

Options:
  --timeout-ms N   give up after N ms (default 120000)
  --help           this text`;

const args = cli({
  usage: HELP,
  allowPositionals: true,
  options: { 'timeout-ms': { type: 'string', default: '120000' } },
});
const timeoutMs = args.number('timeout-ms', { above: 0 })!;
const { positionals } = args;
if (positionals.length === 0) args.fail('missing the history FILE');
if (positionals.length > 1) args.fail(`expected one history FILE, got ${positionals.length}`);
let history: ReturnType<typeof readHistory>;
try {
  history = readHistory(positionals[0]!);
} catch (err) {
  console.error(`cannot read ${positionals[0]}: ${(err as Error).message}`);
  process.exit(2);
}
const started = performance.now();
const verdict = checkLinearizable(history, { timeoutMs });
const ms = Math.round(performance.now() - started);
if (verdict.ok === true) {
  console.log(`linearizable: ${history.length} operations checked in ${ms} ms: OK`);
  process.exit(0);
}
if (verdict.ok === 'unknown') {
  console.log(`unknown: the check timed out after ${ms} ms`);
  process.exit(3);
}
console.log(`NOT linearizable (${history.length} operations, ${ms} ms): ${verdict.reason}`);
process.exit(1);
