// Benchmark: the inventory service on EPaxos beside the same service on Multi-Paxos, same kind of
// cluster, same run: throughput, client-observed latency and CPU per operation over cluster sizes
// and conflict rates, the EPaxos fast-path share, and the distant-leader scenario (the Multi-Paxos
// leader's node 5 ms away from the others, clients only on the others).

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, type Pid, receive, self, sleep, TIMEOUT } from '../actors/index.ts';
import type { EpaxosStatus } from '../apps/epaxos/server.ts';
import { status } from '../apps/rsm/client.ts';
import type { ReplicaStatus } from '../apps/rsm/core.ts';
import { Faults, Node, spawnOn } from '../transport/index.ts';
import type { EpClientReport, NodeStats } from './bench-support/epaxos-client.ts';
import { type Histogram, merge, percentile, wallMs } from './bench-support/log-fns.ts';
import { clockTicks, cpuTicks } from './bench-support/proc-cpu.ts';
import { stopEverythingOnExit } from './bench-support/teardown.ts';
import { cli } from './support/cli.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { useShortLogs } from './support/short-log.ts';

const PROTOCOLS = ['paxos', 'epaxos'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const NODES_DEFAULT = [3, 5];
const NODES_MAX = 9;
const CONFLICTS_DEFAULT = [0, 2, 25, 100];
/** At these conflict rates EPaxos should at least match Multi-Paxos's throughput. */
const LOW_CONFLICT = 2;
const DISTANT_TARGET = 0.6;

const HELP = `Usage: npm run bench:epaxos -- [options]

The inventory service on EPaxos (leaderless: each replica leads the commands it is given) beside
the same service on Multi-Paxos (the default protocol: one leader orders one log), measured in
the same run on the same kind of cluster: one node process per replica, a fresh cluster per
protocol and size. On every node a client keeps --concurrency operations in flight against its
node's (local) replica; each operation adds 1 to the item 'hot' with the conflict probability,
else to an item no other operation touches (0% conflicts: no two operations interfere).
Measured --duration seconds after a --warmup (2 s more for a fresh cluster's first row), per
row: operations/s, client-observed latency p50/p99 (call until the answer, sent once the
operation executed), CPU time of all the node processes per operation (utime + stime from /proc;
the clients run in those processes too), wire messages sent per operation, and for EPaxos the
share of its commits on the fast path, the mean dependencies per instance and the recoveries
(explicit prepares of instances not committed in time) started.
Then per size and conflict rate the ratios EPaxos / Multi-Paxos, with the target: throughput
>= 1.0x at ${CONFLICTS_DEFAULT.filter((c) => c <= LOW_CONFLICT).join(' and ')}% conflicts.

distant leader (on by default): 3 nodes, 0% conflicts; every link of the Multi-Paxos leader's
node delayed by --distant-ms in both directions, clients only on the other nodes; for EPaxos the
node of the same name is the distant one. Prints p50/p99 and operations/s of both and the ratio
EPaxos p50 / Multi-Paxos p50, target <= ${DISTANT_TARGET}x. It runs at two loads: a light one
(--distant-concurrency), where latency is the protocol's round trips, and --concurrency, where
on a small machine it is mostly queueing behind the CPU (a closed loop: p50 ~ in flight / rate).

Options:
  --nodes LIST        cluster sizes from 3 to ${NODES_MAX}, comma-separated         (default ${NODES_DEFAULT.join(',')})
  --conflicts LIST    conflict rates in %, 0 to 100, comma-separated     (default ${CONFLICTS_DEFAULT.join(',')})
  --concurrency N     operations in flight per node                      (default 100)
  --duration S        seconds measured per row                           (default 5)
  --warmup S          seconds of load before each measured row           (default 1.5)
  --storage S         memory | lmdb (LMDB, every write flushed)          (default memory)
  --distant           run the distant-leader scenario                    (the default)
  --no-distant        skip it
  --distant-ms MS     the distant node's delay, each direction           (default 5)
  --distant-concurrency N
                      its light load, in flight per client node          (default 10)
  --help              this text
Progress goes to stderr, figures to stdout. Figures are printed, never asserted.`;

const args = cli({
  usage: HELP,
  options: {
    nodes: { type: 'string' },
    conflicts: { type: 'string' },
    concurrency: { type: 'string', default: '100' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1.5' },
    storage: { type: 'string', default: 'memory' },
    distant: { type: 'boolean' },
    'no-distant': { type: 'boolean' },
    'distant-ms': { type: 'string', default: '5' },
    'distant-concurrency': { type: 'string', default: '10' },
  },
});
const sizes = list('nodes', NODES_DEFAULT, 3, NODES_MAX, `cluster sizes from 3 to ${NODES_MAX}`);
const conflicts = list('conflicts', CONFLICTS_DEFAULT, 0, 100, 'percentages from 0 to 100');
const concurrency = args.int('concurrency', { min: 1 })!;
const durationMs = args.number('duration', { above: 0 })! * 1000;
const warmupMs = args.number('warmup', { min: 0 })! * 1000;
const storage = args.choice('storage', ['memory', 'lmdb'] as const)!;
if (args.values.distant && args.values['no-distant'])
  args.fail('--distant and --no-distant cannot both be given');
const distant = !args.values['no-distant'];
const distantMs = args.number('distant-ms', { above: 0 })!;
const distantConcurrency = args.int('distant-concurrency', { min: 1 })!;

/** A comma-separated list of integers within [min, max]; `fallback` when the flag is absent. */
function list(
  flag: 'nodes' | 'conflicts',
  fallback: number[],
  min: number,
  max: number,
  what: string,
): number[] {
  const text = args.values[flag];
  if (text === undefined) return fallback;
  const items = text.split(',').map((s) => s.trim());
  const out = items.map(Number);
  if (items.some((s) => s === '') || out.some((n) => !Number.isInteger(n) || n < min || n > max))
    args.fail(`--${flag} must be a comma-separated list of ${what}, got '${text}'`);
  return out;
}

const progress = (t: string) => process.stderr.write(`  ${t}\n`);
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const CLIENT_FNS = `BenchEp=${here('./bench-support/epaxos-client.ts')}`;
const READY_MS = 60_000;
const PROTOCOL_LABEL: Record<Protocol, string> = { paxos: 'Multi-Paxos', epaxos: 'EPaxos' };

// ---- everything this run starts is stopped at the end, also on error or Ctrl-C ---------------
const tmpRoot = mkdtempSync(join(tmpdir(), 'bench-epaxos-'));
const clusters = new Set<LocalCluster>();
stopEverythingOnExit(clusters, tmpRoot);

useShortLogs('error');
const cookie = randomBytes(12).toString('hex');
await Node.start({ name: 'bench', cookie });
const me = self();

// ---- clusters -------------------------------------------------------------------------------

let clusterCount = 0;
/** Per cluster, a stats process on each node (in the order of its names). */
const statsPids = new Map<LocalCluster, Pid[]>();

async function startCluster(size: number, protocol: Protocol): Promise<LocalCluster> {
  const names = Array.from({ length: size }, (_, i) => `p${i + 1}`);
  progress(
    `${PROTOCOL_LABEL[protocol]}: starting ${size} node processes (inventory, ${storage === 'memory' ? 'state in memory' : 'LMDB, flushed'})`,
  );
  const started = performance.now();
  const cluster = await LocalCluster.start({
    names,
    cookie,
    services: ['inventory'],
    storage,
    sync: true,
    dataDir: join(tmpRoot, `cluster-${++clusterCount}`),
    replicaOptions: { protocol },
    load: [CLIENT_FNS],
    logLevel: 'error',
  });
  clusters.add(cluster);
  statsPids.set(
    cluster,
    await Promise.all(names.map((n) => spawnOn(nodeName(cluster, n), 'BenchEp.stats', [n]))),
  );
  await waitFor('the replicas did not become ready', async () => {
    const all = await Promise.all(names.map((n) => replicaStatus(n)));
    return all.every((s) => s?.ready) && (protocol === 'epaxos' || agreed(all));
  });
  progress(`  up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return cluster;
}

async function stopCluster(cluster: LocalCluster): Promise<void> {
  for (const n of cluster.nodes.values()) Node.expectDown(n.name);
  await cluster.stop();
  clusters.delete(cluster);
  statsPids.delete(cluster);
}

const agreed = (all: Array<ReplicaStatus | undefined>) =>
  all.every((s) => s?.leader !== undefined && s.leader === all[0]!.leader) && all[0]!.leader;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} (waited ${READY_MS / 1000} s)`);
    await sleep(50);
  }
}

type EpaxosReplicaStatus = ReplicaStatus & { epaxos?: EpaxosStatus };

const replicaStatus = (name: string) =>
  status('inventory', name, 10_000).then(
    (s) => s as EpaxosReplicaStatus,
    () => undefined,
  );

const nodeName = (cluster: LocalCluster, name: string) => {
  const node = cluster.nodes.get(name);
  if (!node) throw new Error(`node ${name} is not running`);
  return node.name;
};

// ---- CPU time from /proc --------------------------------------------------------------------

const nodeTicks = (cluster: LocalCluster) =>
  [...cluster.nodes.values()].reduce((s, n) => s + cpuTicks(n.osPid), 0);

// ---- one measured row -----------------------------------------------------------------------

interface Row {
  protocol: Protocol;
  nodes: number;
  conflict: number;
  /** The nodes that ran clients. */
  clientNodes: number;
  /** Operations in flight per client node. */
  perNode: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  cpuPerOp: number;
  /** EPaxos: commits led during the window on the fast path, on the slow path. */
  fast: number;
  slow: number;
  /** EPaxos: explicit prepares (recoveries of instances not committed in time) started. */
  recoveries: number;
  /** EPaxos: mean and most dependencies of the instances started during the window. */
  meanDeps: number;
  maxDeps: number;
  /** Wire messages and ws frames all nodes sent per operation (every kind of traffic). */
  msgsPerOp: number;
  framesPerOp: number;
  acked: number;
  hot: number;
  errors: number;
  errorSamples: string[];
}

const commits = (all: Array<EpaxosReplicaStatus | undefined>) =>
  all.reduce(
    (s, st) => ({
      fast: s.fast + (st?.epaxos?.commits.fast ?? Number.NaN),
      slow: s.slow + (st?.epaxos?.commits.slow ?? Number.NaN),
      recoveries: s.recoveries + (st?.epaxos?.recoveries ?? Number.NaN),
    }),
    { fast: 0, slow: 0, recoveries: 0 },
  );

/** The first row of a fresh cluster warms up this much longer (its code is not optimized yet). */
const FIRST_EXTRA_WARMUP_MS = 2000;
const warmedUp = new WeakSet<LocalCluster>();

/**
 * Clients on `clientNames`, `perNode` operations in flight each, for the warm-up, then
 * --duration seconds measured.
 */
async function measure(
  cluster: LocalCluster,
  protocol: Protocol,
  conflict: number,
  clientNames: string[],
  perNode = concurrency,
): Promise<Row> {
  const names = cluster.names;
  const pids = statsPids.get(cluster)!;
  /** The node whose replica's deps are read: the first with clients. */
  const depsAt = protocol === 'epaxos' ? names.indexOf(clientNames[0]!) : -1;
  const readStats = (before?: NodeStats[]) =>
    Promise.all(
      pids.map((pid, i) =>
        call<NodeStats>(pid, i === depsAt ? { since: before?.[i]?.deps?.marks ?? {} } : {}, 30_000),
      ),
    );
  const readStatus = () =>
    protocol === 'epaxos' ? Promise.all(names.map(replicaStatus)) : Promise.resolve([]);
  const startAt = wallMs() + warmupMs + (warmedUp.has(cluster) ? 0 : FIRST_EXTRA_WARMUP_MS);
  warmedUp.add(cluster);
  const endAt = startAt + durationMs;
  for (const n of clientNames) {
    await spawnOn(nodeName(cluster, n), 'BenchEp.client', [
      n,
      perNode,
      conflict / 100,
      startAt,
      endAt,
      me,
      n,
    ]);
  }
  await sleep(Math.max(0, startAt - wallMs()));
  const ticks0 = nodeTicks(cluster);
  const [status0, stats0] = await Promise.all([readStatus(), readStats()]);
  await sleep(Math.max(0, endAt - wallMs()));
  const ticks1 = nodeTicks(cluster);
  const [status1, stats1] = await Promise.all([readStatus(), readStats(stats0)]);
  const reports: EpClientReport[] = [];
  while (reports.length < clientNames.length) {
    const r = await receive<EpClientReport>({ type: 'ep_client_done' }, 120_000);
    if (r === TIMEOUT) throw new Error('the clients did not report within 2 minutes of the end');
    reports.push(r);
  }
  const h: Histogram = {};
  for (const r of reports) merge(h, r.latencies);
  const acked = reports.reduce((s, r) => s + r.acked, 0);
  const c0 = commits(status0);
  const c1 = commits(status1);
  const deps = depsAt >= 0 ? stats1[depsAt]?.deps : undefined;
  const sent = (f: (n: NodeStats) => number) =>
    stats1.reduce((sum, n, i) => sum + f(n) - f(stats0[i]!), 0);
  return {
    protocol,
    nodes: names.length,
    conflict,
    clientNodes: clientNames.length,
    perNode,
    opsPerSec: acked / (durationMs / 1000),
    p50: percentile(h, 50),
    p99: percentile(h, 99),
    cpuPerOp: (((ticks1 - ticks0) / clockTicks) * 1e6) / acked,
    fast: c1.fast - c0.fast,
    slow: c1.slow - c0.slow,
    recoveries: c1.recoveries - c0.recoveries,
    meanDeps: deps && deps.instances > 0 ? deps.deps / deps.instances : Number.NaN,
    maxDeps: deps ? deps.maxDeps : Number.NaN,
    msgsPerOp: sent((n) => n.messagesOut) / acked,
    framesPerOp: sent((n) => n.framesOut) / acked,
    acked,
    hot: reports.reduce((s, r) => s + r.hot, 0),
    errors: reports.reduce((s, r) => s + r.errors, 0),
    errorSamples: [...new Set(reports.flatMap((r) => r.errorSamples))],
  };
}

// ---- formatting -----------------------------------------------------------------------------

const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const ms = (us: number) => fixed(us / 1000, 1);
const share = (r: Row) =>
  r.protocol === 'epaxos' && r.fast + r.slow > 0
    ? `${((100 * r.fast) / (r.fast + r.slow)).toFixed(1)}%`
    : '-';
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? a / b : Number.NaN);

const HEAD = `  ${'protocol'.padEnd(11)} ${'nodes'.padStart(5)} ${'conflict'.padStart(8)} ${'ops/s'.padStart(9)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU us/op'.padStart(9)} ${'msgs/op'.padStart(7)} ${'fast path'.padStart(9)} ${'deps'.padStart(11)} ${'recov'.padStart(6)} ${'errors'.padStart(6)}`;
const line = (r: Row) =>
  `  ${PROTOCOL_LABEL[r.protocol].padEnd(11)} ${String(r.nodes).padStart(5)} ${`${r.conflict}%`.padStart(8)} ${fmtInt(r.opsPerSec).padStart(9)} ${ms(r.p50).padStart(7)} ${ms(r.p99).padStart(7)} ${fmtInt(r.cpuPerOp).padStart(9)} ${fixed(r.msgsPerOp, 2).padStart(7)} ${share(r).padStart(9)} ${(r.protocol === 'epaxos' ? `${fixed(r.meanDeps, 2)} (${fmtInt(r.maxDeps)})` : '-').padStart(11)} ${(r.protocol === 'epaxos' ? fmtInt(r.recoveries) : '-').padStart(6)} ${String(r.errors).padStart(6)}`;
const errorNote = (r: Row) =>
  r.errors > 0
    ? [
        `    ${PROTOCOL_LABEL[r.protocol]} ${r.nodes} nodes ${r.conflict}%: errors ${r.errorSamples.slice(0, 2).join(' | ')}`,
      ]
    : [];

// ---- the runs -------------------------------------------------------------------------------

const startedAt = performance.now();
const rows: Row[] = [];
for (const size of sizes) {
  for (const protocol of PROTOCOLS) {
    const cluster = await startCluster(size, protocol);
    try {
      for (const conflict of conflicts) {
        const r = await measure(cluster, protocol, conflict, cluster.names);
        rows.push(r);
        progress(line(r).trim());
      }
    } finally {
      await stopCluster(cluster);
    }
  }
}

interface DistantResult {
  leader: string;
  /** Per load (operations in flight per client node): the Multi-Paxos row, the EPaxos row. */
  loads: Array<{ perNode: number; paxos: Row; epaxos: Row }>;
  /** The Multi-Paxos leader at the end of its runs (a change would spoil the scenario). */
  leaderAfter: string | undefined;
}

/** The loads of the distant scenario: light (latency), then the main rows' (saturation). */
const distantLoads = [...new Set([distantConcurrency, concurrency])];

async function runDistant(): Promise<DistantResult> {
  const delay = async (cluster: LocalCluster, far: string) => {
    const farNode = nodeName(cluster, far);
    const peers = [...cluster.names.filter((n) => n !== far).map((n) => nodeName(cluster, n))];
    peers.push(Node.self());
    for (const p of peers) await Faults.delay(farNode, p, { delayMs: distantMs });
  };
  /** Each load's row on a 3-node cluster of `protocol` whose node `far` is delayed. */
  const run = async (cluster: LocalCluster, protocol: Protocol, far: string) => {
    progress(`distant: delaying every link of ${far} by ${distantMs} ms each way`);
    await delay(cluster, far);
    const out: Row[] = [];
    for (const perNode of distantLoads) {
      const r = await measure(
        cluster,
        protocol,
        0,
        cluster.names.filter((n) => n !== far),
        perNode,
      );
      progress(`distant, ${perNode} in flight per client node: ${line(r).trim()}`);
      out.push(r);
    }
    return out;
  };
  let leader: string;
  let paxos: Row[];
  let leaderAfter: string | undefined;
  {
    const cluster = await startCluster(3, 'paxos');
    try {
      leader = await waitFor('the replicas did not agree on a leader', async () =>
        agreed(await Promise.all(cluster.names.map(replicaStatus))),
      );
      progress(`distant: the Multi-Paxos leader is ${leader}`);
      paxos = await run(cluster, 'paxos', leader);
      leaderAfter = (await replicaStatus(cluster.names.find((n) => n !== leader)!))?.leader;
    } finally {
      await stopCluster(cluster);
    }
  }
  const cluster = await startCluster(3, 'epaxos');
  try {
    const epaxos = await run(cluster, 'epaxos', leader);
    return {
      leader,
      loads: distantLoads.map((perNode, i) => ({ perNode, paxos: paxos[i]!, epaxos: epaxos[i]! })),
      leaderAfter,
    };
  } finally {
    await stopCluster(cluster);
  }
}

const far = distant ? await runDistant() : undefined;
const wallS = (performance.now() - startedAt) / 1000;

// ---- the report -----------------------------------------------------------------------------

const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
console.log(
  `bench:epaxos   node ${process.version}   ${new Date().toISOString()}   load average ${load} (${cpus().length} CPUs)`,
);
console.log(
  `inventory service, ${storage === 'memory' ? 'state in memory' : 'LMDB, every write flushed'}; one node process per replica, a fresh cluster per protocol and size; ${concurrency} operations in flight per node at its local replica; ${durationMs / 1000} s measured after a ${warmupMs / 1000} s warm-up per row`,
);
console.log(
  `operation: add 1 to 'hot' with the conflict probability, else to an item of its own; CPU: all node processes (clients included) per operation; msgs: wire messages all nodes sent per operation; fast path: EPaxos commits led on the fast path / all led; deps: mean (max) dependencies per EPaxos instance started in the window, as the first client node's replica holds them; recov: EPaxos recoveries (explicit prepares) started in the window, all replicas`,
);
console.log('');
console.log(HEAD);
for (const r of rows) console.log(line(r));
for (const r of rows) for (const e of errorNote(r)) console.log(e);
console.log('');
console.log('EPaxos / Multi-Paxos');
for (const size of sizes) {
  for (const conflict of conflicts) {
    const p = rows.find(
      (r) => r.protocol === 'paxos' && r.nodes === size && r.conflict === conflict,
    );
    const e = rows.find(
      (r) => r.protocol === 'epaxos' && r.nodes === size && r.conflict === conflict,
    );
    if (!p || !e) continue;
    const t = ratio(e.opsPerSec, p.opsPerSec);
    const target =
      conflict <= LOW_CONFLICT
        ? `   target >= 1.0x: ${Number.isFinite(t) && t >= 1 ? 'met' : 'NOT met'}`
        : '';
    console.log(
      `  ${size} nodes ${`${conflict}%`.padStart(4)} conflicts: throughput ${fixed(t, 2)}x${target}   p50 ${fixed(ratio(e.p50, p.p50), 2)}x   p99 ${fixed(ratio(e.p99, p.p99), 2)}x   CPU/op ${fixed(ratio(e.cpuPerOp, p.cpuPerOp), 2)}x`,
    );
  }
}
if (far) {
  console.log('');
  console.log(
    `distant leader: 3 nodes, 0% conflicts, every link of ${far.leader} (the Multi-Paxos leader; for EPaxos the node of that name) delayed ${distantMs} ms each way, clients only on the other 2 nodes`,
  );
  console.log(`${HEAD}   in flight per client node`);
  for (const { perNode, paxos, epaxos } of far.loads)
    for (const r of [paxos, epaxos]) console.log(`${line(r)}   ${perNode}`);
  for (const { paxos, epaxos } of far.loads)
    for (const r of [paxos, epaxos]) for (const x of errorNote(r)) console.log(x);
  for (const { perNode, paxos: p, epaxos: e } of far.loads) {
    const r = ratio(e.p50, p.p50);
    console.log(
      `  ${String(perNode).padStart(3)} in flight per client node: EPaxos p50 / Multi-Paxos p50 ${fixed(r, 2)}x   target <= ${DISTANT_TARGET}x: ${Number.isFinite(r) && r <= DISTANT_TARGET ? 'met' : 'NOT met'}   (throughput ${fixed(ratio(e.opsPerSec, p.opsPerSec), 2)}x, p99 ${fixed(ratio(e.p99, p.p99), 2)}x)`,
    );
  }
  if (far.leaderAfter !== far.leader)
    console.log(
      `  note: the Multi-Paxos leader moved from ${far.leader} to ${far.leaderAfter ?? 'unknown'} during its runs`,
    );
}
console.log('');
console.log(`wall time ${wallS.toFixed(0)} s`);
await Node.stop();
process.exit(0);
