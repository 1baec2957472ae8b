// Benchmark: replicated inventory throughput and latency, 3 replicas in 3 node processes with
// concurrent clients on every node, durability off (memory) and on (LMDB, synced), beside the
// same cluster with batching and pipelining off (one operation per Paxos instance), same run.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { receive, self, TIMEOUT } from '../actors/index.ts';
import { status } from '../apps/rsm/client.ts';
import type { ReplicaOptions } from '../apps/rsm/replica.ts';
import { Node, spawnOn } from '../transport/index.ts';
import type { ClientReport } from './bench-support/inventory-fns.ts';
import { cli } from './support/cli.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { useShortLogs } from './support/short-log.ts';

const HELP = `Usage: npm run bench:inventory -- [options]

Starts 3 node processes, each running an inventory replica, and on every node a client process
that keeps --concurrency operations in flight against its local replica (40% add, 30% remove,
20% get, 10% two-line order, on 8 hot items), --ops operations per node. Measured for:
  durability off   Paxos state and snapshots in memory
  durability on    LMDB, every acceptor write synced before the reply that depends on it
each with batching and pipelining (up to 256 operations per instance, 64 instances in flight)
and, as the baseline of the same run, without (1 operation per instance, 1 in flight; it runs
--ops/10 operations). Prints operations/s, latency p50/p99 and the ratio to the baseline.
The targets (issue 14): >= 50,000 operations/s with durability off, >= 20,000 with every
write flushed, p99 <= 50 ms; each printed with its ratio.

Options:
  --ops N           operations per node in the timed run (default 20000)
  --concurrency N   operations in flight per node (default 200)
  --durability M    off | on | both (default both)
  --baseline B      yes | no: also measure the 1-operation-per-instance baseline (default yes)
  --cpu-prof DIR    profile every node process (node --cpu-prof), profiles written to DIR
  --help            this text`;

const args = cli({
  usage: HELP,
  options: {
    ops: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '200' },
    durability: { type: 'string', default: 'both' },
    baseline: { type: 'string', default: 'yes' },
    'cpu-prof': { type: 'string' },
  },
});
const ops = args.int('ops', { min: 1 })!;
const concurrency = args.int('concurrency', { min: 1 })!;
const durability = args.choice('durability', ['off', 'on', 'both'] as const)!;
const baseline = args.choice('baseline', ['yes', 'no'] as const) === 'yes';
const profDir = args.values['cpu-prof'];
// Profiles are written when a node exits cleanly (the cluster's stop sends SIGTERM).
const execArgv = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : undefined;
const progress = (t: string) => process.stderr.write(`  ${t}\n`);
const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const cookie = randomBytes(12).toString('hex');
useShortLogs('error');
await Node.start({ name: 'bench', cookie });
const FNS = `BenchInv=${fileURLToPath(new URL('./bench-support/inventory-fns.ts', import.meta.url))}`;

interface Figures {
  opsPerSec: number;
  /** CPU time per operation (all operations of the run) of each node process, microseconds. */
  cpuPerOp: number[];
  /** Paxos instances decided during the run (log positions, no-op fillers included). */
  instances: number;
  /** Frames and messages each node sent to the others, per operation. */
  framesPerOp: number[];
  msgsPerOp: number[];
  p50: number;
  p99: number;
  errors: number;
  ops: number;
}

/** Runs `perNode` operations from a client on every node; the wall time spans all clients. */
async function drive(cluster: LocalCluster, perNode: number): Promise<Figures> {
  const me = self();
  const appliedBefore = (await status('inventory', cluster.names[0])).applied;
  for (const name of cluster.names) {
    const node = cluster.nodes.get(name)!.name;
    await spawnOn(node, 'BenchInv.client', [name, perNode, concurrency, me, name]);
  }
  const reports: ClientReport[] = [];
  const samples = new Set<string>();
  while (reports.length < cluster.names.length) {
    const r = await receive<ClientReport>({ type: 'client_done' }, 600_000);
    if (r === TIMEOUT) throw new Error('clients did not finish within 10 minutes');
    reports.push(r);
    for (const e of r.errorSamples) samples.add(e);
  }
  if (samples.size > 0) progress(`errors seen: ${[...samples].join(' | ')}`);
  const start = Math.min(...reports.map((r) => r.startedAt));
  const end = Math.max(...reports.map((r) => r.endedAt));
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const total = reports.reduce((n, r) => n + r.ops, 0);
  const byNode = cluster.names.map((n) => reports.find((r) => r.node === n)!);
  const instances = (await status('inventory', cluster.names[0])).applied - appliedBefore;
  return {
    opsPerSec: Math.round(total / ((end - start) / 1000)),
    cpuPerOp: byNode.map((r) => Math.round(r.cpuUs / total)),
    instances,
    framesPerOp: byNode.map((r) => r.framesOut / total),
    msgsPerOp: byNode.map((r) => r.msgsOut / total),
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    errors: reports.reduce((n, r) => n + r.errors, 0),
    ops: total,
  };
}

async function measure(durable: boolean, replicaOptions: ReplicaOptions, perNode: number) {
  const cluster = await LocalCluster.start({
    cookie,
    services: ['inventory'],
    storage: durable ? 'lmdb' : 'memory',
    sync: true,
    replicaOptions,
    load: [FNS],
    execArgv,
  });
  try {
    await drive(cluster, Math.max(200, Math.round(perNode / 10))); // warm-up, not timed
    return await drive(cluster, perNode);
  } finally {
    await cluster.stop();
  }
}

const nodeLabel = (i: number) => ['p1', 'p2', 'p3'][i];
const modes = durability === 'both' ? [false, true] : [durability === 'on'];
const rows: string[] = [];
const fmt = (f: Figures) =>
  `${String(f.opsPerSec).padStart(7)} ops/s   p50 ${String(f.p50).padStart(7)} us   p99 ${String(f.p99).padStart(8)} us   errors ${f.errors}/${f.ops}`;
const targets: string[] = [];
/** One target line: throughput against `opsTarget`, p99 against 50 ms, with ratios. */
const target = (label: string, f: { opsPerSec: number; p99: number }, opsTarget: number) =>
  `target, ${label}: >= ${opsTarget.toLocaleString('en-US')} ops/s: ${(f.opsPerSec / opsTarget).toFixed(2)}x (${f.opsPerSec >= opsTarget ? 'met' : 'NOT met'}); p99 <= 50 ms: ${(f.p99 / 1000).toFixed(1)} ms (${f.p99 <= 50_000 ? 'met' : 'NOT met'})`;
for (const durable of modes) {
  const label = durable ? 'durability on (LMDB, synced)' : 'durability off (memory)';
  let base: Figures | undefined;
  if (baseline) {
    progress(`${label}: baseline, 1 operation per instance ...`);
    base = await measure(durable, { batchMax: 1, window: 1 }, Math.max(100, Math.round(ops / 10)));
  }
  progress(`${label}: batched and pipelined ...`);
  const batched = await measure(durable, {}, ops);
  targets.push(
    durable ? target('durability on', batched, 20_000) : target('durability off', batched, 50_000),
  );
  rows.push(
    `${label}`,
    `  batched + pipelined  ${fmt(batched)}`,
    `  node CPU per op      ${batched.cpuPerOp.map((us, i) => `${nodeLabel(i)} ${us} us`).join(', ')} (the leader first)`,
    `  Paxos instances      ${batched.instances} (${(batched.ops / batched.instances).toFixed(1)} operations per instance)`,
    `  sent per op          ${batched.framesPerOp.map((f, i) => `${nodeLabel(i)} ${f.toFixed(2)} frames ${batched.msgsPerOp[i]!.toFixed(2)} msgs`).join(', ')}`,
  );
  if (base) {
    rows.push(
      `  1 op per instance    ${fmt(base)}`,
      `  ratio                ${(batched.opsPerSec / base.opsPerSec).toFixed(1)}x the baseline's throughput`,
    );
  }
}

console.log(
  `bench:inventory: 3 replicas in 3 node processes, ${concurrency} operations in flight per node, ${ops} per node`,
);
for (const r of rows) console.log(r);
for (const t of targets) console.log(t);
await Node.stop();
process.exit(0);
