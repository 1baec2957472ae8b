// `npm run sim`: the deterministic simulation of the replicated inventory (apps/sim). One seed
// prints its metrics; --seeds N sweeps N seeds with a progress bar. On a violation it prints
// the seed, the violated invariant and the trace of the instance concerned, and exits 1.
import {
  DEFAULT_SIM,
  emptyMetrics,
  type SimMetrics,
  type SimOptions,
  simulate,
} from '../apps/sim/simulator.ts';
import { cli } from './support/cli.ts';

const D = DEFAULT_SIM;
const HELP = `Usage: npm run sim -- [options]

Simulates N inventory replicas (the Paxos core and the inventory state machine) and clients in
one process, in virtual time, with a seeded scheduler: message delay (exponential), loss,
duplication and reordering, partitions that heal, and crashes with restarts from durable state,
during --fault-ms; then faults stop. Checked at every step: agreement per instance, validity
(only submitted operations are decided), identical logs at every replica, stock never
negative, every replica computing the same result for an operation, no acknowledged operation
lost; and liveness: every operation acknowledged within --liveness-ms after faults stop.
Same seed, same run: the digest printed is equal for equal seeds and options.

Options:
  --seed N          the seed (default 1); with --seeds, the first of the sweep
  --seeds N         sweep N seeds (seed, seed+1, ...) with a progress bar
  --nodes N         replicas (default ${D.nodes})
  --ops N           client operations (default ${D.ops})
  --clients N       concurrent clients (default ${D.clients})
  --delay-ms X      mean message delay, virtual ms (default ${D.delayMs})
  --loss P          message loss probability during faults (default ${D.lossP})
  --dup P           message duplication probability during faults (default ${D.dupP})
  --fault-ms N      how long faults go on, virtual ms (default ${D.faultMs})
  --no-partitions   no partitions
  --no-crashes      no crashes
  --liveness-ms N   bound for liveness after faults stop, virtual ms (default ${D.livenessMs})
  --batch N         most operations per instance (default ${D.batchMax})
  --bug B           run a deliberately broken variant to watch a violation being caught:
                    amnesia (a crash loses the disk; try --nodes 3) or apply-accepted
  --help            this text`;

const args = cli({
  usage: HELP,
  options: {
    seed: { type: 'string', default: '1' },
    seeds: { type: 'string' },
    nodes: { type: 'string', default: String(D.nodes) },
    ops: { type: 'string', default: String(D.ops) },
    clients: { type: 'string', default: String(D.clients) },
    'delay-ms': { type: 'string', default: String(D.delayMs) },
    loss: { type: 'string', default: String(D.lossP) },
    dup: { type: 'string', default: String(D.dupP) },
    'fault-ms': { type: 'string', default: String(D.faultMs) },
    'no-partitions': { type: 'boolean', default: false },
    'no-crashes': { type: 'boolean', default: false },
    'liveness-ms': { type: 'string', default: String(D.livenessMs) },
    batch: { type: 'string', default: String(D.batchMax) },
    bug: { type: 'string' },
  },
});
const { values } = args;

const base: Omit<SimOptions, 'seed'> = {
  nodes: args.int('nodes', { min: 1, max: 15 })!,
  ops: args.int('ops', { min: 1 })!,
  clients: args.int('clients', { min: 1 })!,
  delayMs: args.number('delay-ms', { min: 0 })!,
  lossP: args.number('loss', { min: 0, max: 0.9 })!,
  dupP: args.number('dup', { min: 0, max: 0.9 })!,
  faultMs: args.int('fault-ms', { min: 0 })!,
  partitions: !values['no-partitions'],
  crashes: !values['no-crashes'],
  livenessMs: args.int('liveness-ms', { min: 1 })!,
  batchMax: args.int('batch', { min: 1 })!,
  bug: args.choice('bug', ['amnesia', 'apply-accepted'] as const),
};
const first = args.int('seed', { min: 0, max: 2 ** 32 - 1 })!;
const count = args.int('seeds', { min: 1 });

function describe(o: Omit<SimOptions, 'seed'>): string {
  return `nodes=${o.nodes} ops=${o.ops} clients=${o.clients} delay=exp(${o.delayMs} ms) loss=${o.lossP} dup=${o.dupP} faults for ${o.faultMs} ms (${[o.partitions && 'partitions', o.crashes && 'crashes'].filter(Boolean).join(', ') || 'no partitions or crashes'})${o.bug ? ` BUG=${o.bug}` : ''}`;
}

function printMetrics(m: SimMetrics, perDecision = m.decisions || 1): void {
  console.log(
    `virtual time ${(m.virtualMs / 1000).toFixed(2)} s, ${m.events} events
operations: ${m.submitted} submitted, ${m.acknowledged} acknowledged, ${m.retries} client retries; latency p50 ${m.opLatencyP50} ms, p99 ${m.opLatencyP99} ms (virtual)
decisions: ${m.decisions} instances (${m.noops} no-ops), ${(m.messages / perDecision).toFixed(1)} messages and ${(m.ballots / perDecision).toFixed(2)} ballots per decision, latency p50 ${m.decisionLatencyP50} ms, p99 ${m.decisionLatencyP99} ms (virtual)
faults: ${m.dropped} messages dropped, ${m.duplicated} duplicated, ${m.partitions} partitions, ${m.crashes} crashes and restarts; all acknowledged ${m.settleMs} ms (virtual) after faults stopped`,
  );
}

function report(seed: number, r: ReturnType<typeof simulate>): void {
  const v = r.violation!;
  console.log(`VIOLATION (${v.kind}) with seed ${seed}: ${v.message}`);
  console.log(`replay: npm run sim -- --seed ${seed} ${argsFor(base)}`);
  console.log(
    `trace${v.inst === undefined || Number.isNaN(v.inst) ? ' (last events)' : ` of instance ${v.inst}`}:`,
  );
  for (const line of v.trace) console.log(`  ${line}`);
}

function argsFor(o: Omit<SimOptions, 'seed'>): string {
  const parts = [
    `--nodes ${o.nodes}`,
    `--ops ${o.ops}`,
    `--clients ${o.clients}`,
    `--delay-ms ${o.delayMs}`,
    `--loss ${o.lossP}`,
    `--dup ${o.dupP}`,
    `--fault-ms ${o.faultMs}`,
    `--liveness-ms ${o.livenessMs}`,
    `--batch ${o.batchMax}`,
  ];
  if (!o.partitions) parts.push('--no-partitions');
  if (!o.crashes) parts.push('--no-crashes');
  if (o.bug) parts.push(`--bug ${o.bug}`);
  return parts.join(' ');
}

if (count === undefined) {
  const r = simulate({ ...base, seed: first });
  console.log(`sim seed=${first} ${describe(base)}`);
  printMetrics(r.metrics);
  if (!r.ok) {
    report(first, r);
    process.exit(1);
  }
  console.log(
    'invariants: agreement, validity, identical logs, stock >= 0, same results, no acknowledged operation lost, liveness: OK',
  );
  console.log(`digest ${r.digest}`);
  process.exit(0);
}

const total = emptyMetrics();
const started = Date.now();
const tty = process.stderr.isTTY;
let lastDraw = 0;
const draw = (done: number) => {
  const width = 30;
  const filled = Math.round((done / count) * width);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${count} seeds, ${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (tty) process.stderr.write(`\r${line}`);
  else if (Date.now() - lastDraw > 2000 || done === count) {
    process.stderr.write(`${line}\n`);
    lastDraw = Date.now();
  }
};
console.log(`sim sweep: seeds ${first}..${first + count - 1}, ${describe(base)}`);
for (let i = 0; i < count; i++) {
  const seed = first + i;
  const r = simulate({ ...base, seed });
  const m = r.metrics;
  for (const k of Object.keys(total) as Array<keyof SimMetrics>) {
    if (k.endsWith('P50') || k.endsWith('P99') || k === 'settleMs')
      total[k] = Math.max(total[k], m[k]);
    else total[k] += m[k];
  }
  draw(i + 1);
  if (!r.ok) {
    if (tty) process.stderr.write('\n');
    report(seed, r);
    process.exit(1);
  }
}
if (tty) process.stderr.write('\n');
console.log(
  `${count} seeds, 0 violations, ${((Date.now() - started) / 1000).toFixed(1)} s. Totals (latency and settle figures: the worst seed's):`,
);
printMetrics(total);
process.exit(0);
