// Benchmark: Paxos decision latency and throughput, across node processes and in one process,
// beside a bare two-round quorum exchange over ws measured in the same run (the floor); then
// Multi-Paxos as the replicated services use it (apps/rsm): committed values/s of a replicated
// log, the interruption when its leader's node is killed, and the cost curve over cluster sizes.

import { type ChildProcess, spawn as spawnChild } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pack, unpackMultiple } from 'msgpackr';
import { WebSocket } from 'ws';
import {
  call,
  flush,
  Global,
  type Pid,
  receive,
  self,
  send,
  sleep,
  TIMEOUT,
} from '../actors/index.ts';
import { Paxos } from '../apps/paxos/index.ts';
import { configureStorage } from '../apps/paxos/storage.ts';
import { status } from '../apps/rsm/client.ts';
import { REPLICA_DEFAULTS } from '../apps/rsm/core.ts';
import type { ReplicaOptions } from '../apps/rsm/replica.ts';
import { launchNode, Node, spawnOn } from '../transport/index.ts';
import {
  type AfterReport,
  type Histogram,
  LOG_SERVICE,
  merge,
  type NodeStats,
  percentile,
  type StopReport,
  type WindowReport,
  wallMs,
} from './bench-support/log-fns.ts';
import { clockTicks, cpuTicks } from './bench-support/proc-cpu.ts';
import { stopEverythingOnExit } from './bench-support/teardown.ts';
import { cli } from './support/cli.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { useShortLogs } from './support/short-log.ts';

const SECTIONS = ['single', 'throughput', 'failure', 'scale'] as const;
type Section = (typeof SECTIONS)[number];
const SCALE_DEFAULT = [3, 5, 7, 11];
const SIZE_MAX = 15;
const CLIENTS_DEFAULT = 1000;
const KILLS_DEFAULT = 20;

const HELP = `Usage: npm run bench:paxos -- [options]

Measures on this machine, in one run, the sections chosen with --only (default: single and
throughput; failure as well when --kills is given, scale when --scale is given):

single       single-decree Paxos (apps/paxos), state in memory:
  across processes  3 participants in 3 node processes: from propose until all three upper
                    processes are told the decision, one instance at a time (p50/p99)
  floor             a bare two-round quorum exchange over ws from one process to two others
                    (two rounds, each waiting for both replies), measured in the same run
  one process       the same single-decree loop with all 3 participants in this process
  throughput        multi-instance decisions/s with --inflight proposals in flight (3 nodes)
  The in-process figure is printed beside the Elixir coursework's Paxos on one BEAM node
  (about 15 us p50 there).

Multi-Paxos sections: a replicated log of client values (apps/rsm: the leader replica batches
up to batchMax values per Paxos instance, window instances in flight) with a minimal machine
(append a number, answer its position), one replica per node process. --clients callers, spread
evenly over the nodes, each keep one call in flight at their own node's replica (callers run in
the node processes). Measured --duration seconds after a 2 s warm-up, for each --storage:
memory (Paxos state in memory) and lmdb (LMDB, every write flushed to disk before the reply
that depends on it; in a temp dir removed at the end).
throughput   3 node processes: committed (acknowledged) values/s, latency p50/p99 per value,
             beside the targets >= 100,000/s in memory and >= 30,000/s flushed; values per
             Paxos instance, and the longest pause some node's callers saw no acknowledgement
failure      the log under steady load; SIGKILL the leader's node process (the replica the
             others forward to), then the time from the kill until a value submitted after it
             is acknowledged at a surviving replica (an upper bound of the interruption: it
             includes that value's own commit), and until the first acknowledgement of any
             value (a lower bound: it may have been decided before the kill); restart the
             node (same name; lmdb: same data, memory: fresh), wait until its replica has
             caught up; --kills times; p50/p90/max. The kill closes the node's sockets, so
             the others see it down at once (a lost machine takes the heartbeat timeout).
scale        for each cluster size in --scale: values/s, p50/p99, wire messages, ws frames and
             bytes sent by all nodes per Paxos instance (decision) and per value, and CPU time
             of all node processes and this one per committed value (from /proc), one row
             per size

Options:
  --only LIST       sections to run, comma-separated: ${SECTIONS.join(', ')}
  --decisions N     single: single-decree decisions per measurement  (default 2000)
  --instances N     single: instances for its throughput run         (default 5000)
  --inflight N      single: proposals in flight                      (default 100)
  --storage S       Multi-Paxos sections: memory | lmdb | both       (default both)
  --clients N       Multi-Paxos sections: callers in all             (default ${CLIENTS_DEFAULT})
  --duration S      throughput, scale: seconds measured per figure   (default 5)
  --window N        replica option window: instances in flight       (default ${REPLICA_DEFAULTS.window})
  --batch-max N     replica option batchMax: values per instance     (default ${REPLICA_DEFAULTS.batchMax})
  --kills N         failure: leader kills (default ${KILLS_DEFAULT}); giving it selects failure
  --scale LIST      scale: cluster sizes from 1 to ${SIZE_MAX}, comma-separated
                    (default ${SCALE_DEFAULT.join(',')}); giving it selects scale
  --help            this text
Progress goes to stderr, figures to stdout. Figures are printed, never asserted.`;

const args = cli({
  usage: HELP,
  options: {
    decisions: { type: 'string', default: '2000' },
    instances: { type: 'string', default: '5000' },
    inflight: { type: 'string', default: '100' },
    only: { type: 'string' },
    storage: { type: 'string', default: 'both' },
    clients: { type: 'string', default: String(CLIENTS_DEFAULT) },
    duration: { type: 'string', default: '5' },
    window: { type: 'string' },
    'batch-max': { type: 'string' },
    kills: { type: 'string' },
    scale: { type: 'string' },
  },
});
const decisions = args.int('decisions', { min: 1 })!;
const instances = args.int('instances', { min: 1 })!;
const inflight = args.int('inflight', { min: 1 })!;
const storageChoice = args.choice('storage', ['memory', 'lmdb', 'both'] as const)!;
const storages: Storage[] = storageChoice === 'both' ? ['memory', 'lmdb'] : [storageChoice];
const clients = args.int('clients', { min: 1 })!;
const durationMs = args.number('duration', { above: 0 })! * 1000;
const window = args.int('window', { min: 1 });
const batchMax = args.int('batch-max', { min: 1 });
const kills = args.int('kills', { min: 1 });
const scaleSizes = sizeList(args.values.scale);
const sections = sectionList(args.values.only);

type Storage = 'memory' | 'lmdb';

function sizeList(text: string | undefined): number[] {
  if (text === undefined) return SCALE_DEFAULT;
  const items = text.split(',').map((s) => s.trim());
  const sizes = items.map(Number);
  if (
    items.some((s) => s === '') ||
    sizes.some((n) => !Number.isInteger(n) || n < 1 || n > SIZE_MAX)
  )
    args.fail(
      `--scale must be a comma-separated list of cluster sizes from 1 to ${SIZE_MAX}, got '${text}'`,
    );
  return sizes;
}

function sectionList(text: string | undefined): Set<Section> {
  if (text === undefined) {
    const chosen = new Set<Section>(['single', 'throughput']);
    if (kills !== undefined) chosen.add('failure');
    if (args.values.scale !== undefined) chosen.add('scale');
    return chosen;
  }
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => !SECTIONS.includes(s as Section)))
    args.fail(`--only must be a comma-separated list of ${SECTIONS.join(', ')}, got '${text}'`);
  return new Set(items as Section[]);
}

const replicaOptions: ReplicaOptions = {
  ...(window !== undefined ? { window } : {}),
  ...(batchMax !== undefined ? { batchMax } : {}),
};
const progress = (t: string) => process.stderr.write(`  ${t}\n`);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const WARMUP = 200;
const WARMUP_MS = 2000;
const LOG_FNS = `BenchLog=${here('./bench-support/log-fns.ts')}`;

// ---- everything this run starts is stopped at the end, also on error or Ctrl-C ---------------
const tmpRoot = mkdtempSync(join(tmpdir(), 'bench-paxos-'));
const clusters = new Set<LocalCluster>();
const bareChildren = new Set<ChildProcess>();
stopEverythingOnExit(clusters, tmpRoot, bareChildren);

useShortLogs('error');
configureStorage({ kind: 'memory' });
const cookie = randomBytes(12).toString('hex');
await Node.start({ name: 'bench', cookie });
const me = self();

// ============================================================================================
// single: single-decree Paxos, one instance at a time; the bare floor; one process
// ============================================================================================

/** Proposes instance `inst` at `leader` and waits until `uppers` decide messages for it arrived. */
async function decideOnce(leader: Pid, inst: number, uppers: number): Promise<void> {
  const outcome = await Paxos.proposeInstance(leader, inst, inst, 10_000);
  if (outcome.outcome !== 'decided') throw new Error(`instance ${inst}: ${outcome.outcome}`);
  for (let i = 0; i < uppers; i++) {
    if ((await receive({ type: 'decide', inst }, 10_000)) === TIMEOUT)
      throw new Error(`instance ${inst}: an upper was not told`);
  }
}

async function latencies(leader: Pid, firstInst: number, count: number): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await decideOnce(leader, firstInst + i, 3);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await decideOnce(leader, firstInst + WARMUP + i, 3);
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

async function runSingle(): Promise<void> {
  // ---- 3 participants in 3 node processes ---------------------------------------------------
  progress('single: starting 2 nodes');
  const names = ['x1', 'x2', 'x3'];
  const nodes = await Promise.all(
    ['n2', 'n3'].map((n) =>
      launchNode({
        name: n,
        cookie,
        join: [Node.self()],
        load: ['BenchPaxos=scripts/bench-support/paxos-fns.ts'],
        env: { ACTORCLUSTER_PAXOS_STORAGE: 'memory' },
      }),
    ),
  );
  const leader = Paxos.start('x1', names, me);
  await spawnOn(nodes[0]!.name, 'BenchPaxos.participant', ['x2', names, me]);
  await spawnOn(nodes[1]!.name, 'BenchPaxos.participant', ['x3', names, me]);
  while (!names.every((n) => Global.whereis(n) && Global.whereis(`${n}/beb`))) await sleep(5);
  progress(`single: across processes, ${decisions} decisions`);
  const across = await latencies(leader, 0, decisions);

  progress(`single: throughput, ${instances} instances, ${inflight} in flight`);
  let next = 1_000_000;
  const end = next + instances;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < end) {
        const inst = next++;
        const outcome = await Paxos.proposeInstance(leader, inst, inst, 30_000);
        if (outcome.outcome !== 'decided') throw new Error(`instance ${inst}: ${outcome.outcome}`);
      }
    }),
  );
  const perSecond = instances / ((performance.now() - t0) / 1000);
  await sleep(200);
  flush(); // the uppers' decide messages of the throughput run

  // ---- the bare floor: two rounds to two peers over ws, waiting for both replies -------------
  progress('single: bare floor');
  const peers = await Promise.all(
    [0, 1].map(async () => {
      const child = spawnChild(
        process.execPath,
        ['--import', 'tsx', here('./bench-support/bare-peer.ts')],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      bareChildren.add(child);
      const port = await new Promise<number>((resolve) =>
        child.stdout!.on('data', (c: Buffer) => {
          const m = /listening on (\d+)/.exec(c.toString());
          if (m) resolve(Number(m[1]));
        }),
      );
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      await new Promise((r) => ws.once('open', r));
      return { ws, child };
    }),
  );
  const reply = (ws: WebSocket) =>
    new Promise<void>((resolve) =>
      ws.once('message', (d) => {
        unpackMultiple(d as Buffer);
        resolve();
      }),
    );
  const round = async (n: number) => {
    const replies = peers.map((p) => reply(p.ws));
    for (const p of peers) p.ws.send(pack({ t: 'ping', n }));
    await Promise.all(replies);
  };
  for (let i = 0; i < WARMUP; i++) {
    await round(i);
    await round(i);
  }
  const floor: number[] = [];
  for (let i = 0; i < decisions; i++) {
    const s = performance.now();
    await round(i);
    await round(i);
    floor.push((performance.now() - s) * 1000);
  }
  for (const p of peers) {
    p.ws.close();
    p.child.kill('SIGKILL');
  }
  for (const n of nodes) {
    Node.expectDown(n.name);
    n.kill('SIGKILL');
  }

  // ---- 3 participants in this process --------------------------------------------------------
  progress(`single: one process, ${decisions} decisions`);
  const local = ['y1', 'y2', 'y3'];
  const localLeader = Paxos.start('y1', local, me);
  Paxos.start('y2', local, me);
  Paxos.start('y3', local, me);
  while (!local.every((n) => Global.whereis(n) && Global.whereis(`${n}/beb`))) await sleep(5);
  const inProcess = await latencies(localLeader, 0, decisions);

  const us = (x: number) => `${x.toFixed(0)} us`.padStart(9);
  console.log(`node ${process.version}, state in memory, p50 / p99 over ${decisions} decisions`);
  console.log(`single decree, propose -> all 3 uppers told`);
  console.log(`  3 node processes   ${us(pct(across, 50))} ${us(pct(across, 99))}`);
  console.log(
    `  bare ws floor      ${us(pct(floor, 50))} ${us(pct(floor, 99))}   (2 rounds to 2 peers, both replies)`,
  );
  console.log(
    `  ratio p50          ${(pct(across, 50) / pct(floor, 50)).toFixed(2)}x (aim <= 1.5x)`,
  );
  console.log(
    `  1 process          ${us(pct(inProcess, 50))} ${us(pct(inProcess, 99))}   (Elixir coursework on one BEAM node: ~15 us; aim <= 4x = 60 us)`,
  );
  console.log(
    `multi-instance, ${inflight} in flight, 3 node processes: ${Math.round(perSecond).toLocaleString('en-US')} decisions/s`,
  );
}

// ============================================================================================
// Multi-Paxos: a replicated log of client values (apps/rsm) in node processes
// ============================================================================================

const STORAGE_LABEL: Record<Storage, string> = {
  memory: 'in memory',
  lmdb: 'LMDB, every write flushed',
};
const TARGET: Record<Storage, number> = { memory: 100_000, lmdb: 30_000 };
const READY_MS = 60_000;
const effective = { ...REPLICA_DEFAULTS, ...replicaOptions };
const optionsLine = `replica options: window ${effective.window}${window === undefined ? ' (default)' : ''}, batchMax ${effective.batchMax}${batchMax === undefined ? ' (default)' : ''}, other options default`;

/** `total` callers over `n` nodes, as evenly as can be. */
const split = (total: number, n: number) =>
  Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
const replicaGlobal = (name: string) => `${LOG_SERVICE}:${name}`;
const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(1) : 'n/a');

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>) {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} (waited ${READY_MS / 1000} s)`);
    await sleep(20);
  }
}

const nodeOf = (cluster: LocalCluster, name: string) => {
  const node = cluster.nodes.get(name);
  if (!node) throw new Error(`node ${name} is not running`);
  return node;
};

/** Starts replica `name` of the log on its node; resolves once it is ready (caught up, registered). */
async function startLogReplica(cluster: LocalCluster, name: string): Promise<void> {
  await spawnOn(nodeOf(cluster, name).name, 'BenchLog.replica', [
    name,
    cluster.names,
    replicaOptions,
  ]);
  await waitFor(`replica ${name} did not come up`, () => Global.whereis(replicaGlobal(name)));
}

/** `size` node processes r1..r<size>, each running a replica of the log. */
async function startLogCluster(size: number, storage: Storage, label: string) {
  const names = Array.from({ length: size }, (_, i) => `r${i + 1}`);
  progress(`${label}: starting ${size} node processes (${STORAGE_LABEL[storage]})`);
  const cluster = await LocalCluster.start({
    names,
    cookie,
    services: [],
    storage,
    sync: true,
    dataDir: join(tmpRoot, label.replace(/\W+/g, '-')),
    load: [LOG_FNS],
    logLevel: 'error',
  });
  clusters.add(cluster);
  await Promise.all(names.map((n) => startLogReplica(cluster, n)));
  return cluster;
}

async function stopLogCluster(cluster: LocalCluster): Promise<void> {
  for (const n of cluster.nodes.values()) Node.expectDown(n.name);
  await cluster.stop();
  clusters.delete(cluster);
}

// ---- CPU time from /proc --------------------------------------------------------------------

// ---- a timed window of client load ----------------------------------------------------------

interface Counters {
  at: number;
  /** CPU ticks of every node process and this one. */
  ticks: number;
  nodes: NodeStats[];
}

interface WindowFigures {
  seconds: number;
  values: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  errorSamples: string[];
  /** The longest time in the window some node's callers saw no acknowledgement, ms. */
  longestPause: number;
  /** Paxos instances applied at r1 during the window. */
  decisions: number;
  messages: number;
  frames: number;
  bytes: number;
  cpuSeconds: number;
}

async function readCounters(cluster: LocalCluster, statsPids: Pid[]): Promise<Counters> {
  const at = wallMs();
  let ticks = cpuTicks(process.pid);
  for (const n of cluster.nodes.values()) ticks += cpuTicks(n.osPid);
  const nodes = await Promise.all(statsPids.map((pid) => call<NodeStats>(pid, 'stats', 30_000)));
  return { at, ticks, nodes };
}

/** Callers on every node for a warm-up, then --duration seconds measured. */
async function measureWindow(cluster: LocalCluster): Promise<WindowFigures> {
  const names = cluster.names;
  const statsPids = await Promise.all(
    names.map((n) => spawnOn(nodeOf(cluster, n).name, 'BenchLog.stats', [n])),
  );
  const perNode = split(clients, names.length);
  const startAt = wallMs() + WARMUP_MS;
  const endAt = startAt + durationMs;
  for (const [i, n] of names.entries()) {
    await spawnOn(nodeOf(cluster, n).name, 'BenchLog.windowClient', [
      n,
      perNode[i],
      startAt,
      endAt,
      me,
      n,
    ]);
  }
  await sleep(Math.max(0, startAt - wallMs()));
  const before = await readCounters(cluster, statsPids);
  await sleep(Math.max(0, endAt - wallMs()));
  const after = await readCounters(cluster, statsPids);
  const reports: WindowReport[] = [];
  while (reports.length < names.length) {
    const r = await receive<WindowReport>({ type: 'window_done' }, 120_000);
    if (r === TIMEOUT) throw new Error('the clients did not report within 2 minutes of the end');
    reports.push(r);
  }
  const h: Histogram = {};
  for (const r of reports) merge(h, r.latencies);
  const values = reports.reduce((s, r) => s + r.acked, 0);
  const sum = (f: (s: NodeStats) => number) =>
    after.nodes.reduce((s, n, i) => s + f(n) - f(before.nodes[i]!), 0);
  return {
    seconds: durationMs / 1000,
    values,
    perSecond: values / (durationMs / 1000),
    p50: percentile(h, 50),
    p99: percentile(h, 99),
    errors: reports.reduce((s, r) => s + r.errors, 0),
    errorSamples: [...new Set(reports.flatMap((r) => r.errorSamples))],
    longestPause: Math.max(...reports.map((r) => r.longestPause)),
    decisions: after.nodes[0]!.applied - before.nodes[0]!.applied,
    messages: sum((n) => n.messagesOut),
    frames: sum((n) => n.framesOut),
    bytes: sum((n) => n.bytesOut),
    cpuSeconds: (after.ticks - before.ticks) / clockTicks,
  };
}

const errorNote = (f: { errors: number; errorSamples: string[] }) =>
  f.errors > 0 ? `   errors ${f.errors} (${f.errorSamples.slice(0, 2).join(' | ')})` : '';

// ---- throughput -----------------------------------------------------------------------------

async function runThroughput(): Promise<void> {
  const rows: string[] = [];
  for (const storage of storages) {
    const cluster = await startLogCluster(3, storage, `throughput ${storage}`);
    let f: WindowFigures;
    try {
      progress(`throughput ${storage}: ${clients} callers, 2 s warm-up + ${durationMs / 1000} s`);
      f = await measureWindow(cluster);
    } finally {
      await stopLogCluster(cluster);
    }
    const target = TARGET[storage];
    rows.push(
      `  ${STORAGE_LABEL[storage].padEnd(26)} ${fmtInt(f.perSecond).padStart(8)} values/s   p50 ${ms(f.p50).padStart(6)} ms   p99 ${ms(f.p99).padStart(7)} ms   target >= ${fmtInt(target)}/s: ${(f.perSecond / target).toFixed(2)}x${f.perSecond >= target ? ' (met)' : ''}`,
      `  ${''.padEnd(26)} ${fixed(f.decisions > 0 ? f.values / f.decisions : Number.NaN, 1)} values per Paxos instance (${fmtInt(f.decisions / f.seconds)} instances/s), longest pause ${f.longestPause.toFixed(0)} ms${errorNote(f)}`,
    );
  }
  console.log(
    `Multi-Paxos replicated log (apps/rsm), 3 node processes, ${clients} callers (1 call in flight each, spread over the nodes), ${durationMs / 1000} s after a 2 s warm-up`,
  );
  console.log(`  ${optionsLine}`);
  for (const r of rows) console.log(r);
}

// ---- leader failure -------------------------------------------------------------------------

/** The leader every replica forwards to, once all of them are ready and agree on it. */
async function agreedLeader(cluster: LocalCluster): Promise<string> {
  return await waitFor('the replicas did not agree on a leader', async () => {
    const all = await Promise.all(
      cluster.names.map((n) => status(LOG_SERVICE, n, 10_000).catch(() => undefined)),
    );
    if (all.some((s) => !s?.ready)) return undefined;
    const leader = all[0]!.leader;
    return all.every((s) => s!.leader === leader) && cluster.nodes.has(leader) ? leader : undefined;
  });
}

interface KillFigures {
  firstNew: number[];
  firstAck: number[];
  caughtUp: number[];
  lost: number;
  acked: number;
  errors: number;
  errorSamples: string[];
}

async function runFailureFor(storage: Storage, count: number): Promise<KillFigures> {
  const label = `failure ${storage}`;
  const cluster = await startLogCluster(3, storage, label);
  const clientPids = new Map<string, Pid>();
  const perNode = split(clients, 3);
  const startClient = async (name: string) => {
    const i = cluster.names.indexOf(name);
    clientPids.set(
      name,
      await spawnOn(nodeOf(cluster, name).name, 'BenchLog.openClient', [name, perNode[i], name]),
    );
  };
  const out: KillFigures = {
    firstNew: [],
    firstAck: [],
    caughtUp: [],
    lost: 0,
    acked: 0,
    errors: 0,
    errorSamples: [],
  };
  try {
    for (const n of cluster.names) await startClient(n);
    progress(`${label}: ${clients} callers, 2 s warm-up`);
    await sleep(WARMUP_MS);
    for (let k = 1; k <= count; k++) {
      const leader = await agreedLeader(cluster);
      const victim = nodeOf(cluster, leader);
      const survivors = cluster.names.filter((n) => n !== leader);
      Node.expectDown(victim.name);
      const killedAt = wallMs();
      victim.kill('SIGKILL');
      clientPids.delete(leader);
      for (const s of survivors)
        send(clientPids.get(s)!, { type: 'after', t: killedAt, id: k, to: me });
      const answers: AfterReport[] = [];
      const deadline = Date.now() + 60_000;
      while (answers.length < survivors.length && Date.now() < deadline) {
        const r = await receive<AfterReport>(
          { type: 'after_done', id: k },
          Math.max(1, deadline - Date.now()),
        );
        if (r === TIMEOUT) break;
        answers.push(r);
      }
      const firstNew = Math.min(...answers.map((a) => a.firstNew)) - killedAt;
      const firstAck = Math.min(...answers.map((a) => a.firstAck)) - killedAt;
      if (answers.length === 0) out.lost++;
      else {
        out.firstNew.push(firstNew);
        out.firstAck.push(firstAck);
      }
      await victim.exited;
      cluster.nodes.delete(leader);
      await waitFor(`the cluster did not notice ${leader} is down`, () =>
        Global.whereis(replicaGlobal(leader)) ? undefined : true,
      );
      const restartedAt = wallMs();
      await cluster.startNode(leader);
      const nodeUp = wallMs() - restartedAt;
      await startLogReplica(cluster, leader);
      const ready = wallMs() - restartedAt;
      const target = (await status(LOG_SERVICE, survivors[0]!, 10_000)).applied;
      await waitFor(`${leader} did not catch up`, async () => {
        const s = await status(LOG_SERVICE, leader, 10_000).catch(() => undefined);
        return s && s.applied >= target ? true : undefined;
      });
      const caughtUp = wallMs() - restartedAt;
      out.caughtUp.push(caughtUp);
      await startClient(leader);
      progress(
        `${label}: kill ${k}/${count} (leader ${leader}): first new value acknowledged after ${answers.length ? firstNew.toFixed(1) : '(none in 60 s)'} ms, first acknowledgement after ${answers.length ? firstAck.toFixed(1) : '-'} ms; restarted: node up ${nodeUp.toFixed(0)} ms, replica ready ${ready.toFixed(0)} ms, caught up ${caughtUp.toFixed(0)} ms`,
      );
      await sleep(500); // steady load again before the next kill
    }
    for (const pid of clientPids.values()) send(pid, { type: 'stop', to: me });
    for (let i = 0; i < clientPids.size; i++) {
      const r = await receive<StopReport>({ type: 'stop_done' }, 60_000);
      if (r === TIMEOUT) throw new Error('the clients did not stop within 60 s');
      out.acked += r.acked;
      out.errors += r.errors;
      out.errorSamples.push(...r.errorSamples);
    }
  } finally {
    await stopLogCluster(cluster);
  }
  return out;
}

async function runFailure(): Promise<void> {
  const count = kills ?? KILLS_DEFAULT;
  const rows: string[] = [];
  const dist = (xs: number[]) =>
    xs.length === 0
      ? 'n/a'
      : `p50 ${pct(xs, 50).toFixed(1).padStart(7)}   p90 ${pct(xs, 90).toFixed(1).padStart(7)}   max ${Math.max(
          ...xs,
        )
          .toFixed(1)
          .padStart(7)} ms`;
  for (const storage of storages) {
    const f = await runFailureFor(storage, count);
    rows.push(
      `  ${STORAGE_LABEL[storage]}, ${count} kills${f.lost ? ` (${f.lost} with no value acknowledged within 60 s)` : ''}`,
      `    kill -> first value submitted after it acknowledged   ${dist(f.firstNew)}`,
      `    kill -> first acknowledgement of any value             ${dist(f.firstAck)}`,
      `    restart -> restarted replica caught up                 ${dist(f.caughtUp)}`,
      `    values acknowledged meanwhile ${fmtInt(f.acked)} (survivors' callers and restarted ones)${errorNote({ errors: f.errors, errorSamples: [...new Set(f.errorSamples)] })}`,
    );
  }
  console.log(
    `Multi-Paxos leader failure: 3 node processes under load (${clients} callers), SIGKILL of the leader's node, restart, catch-up`,
  );
  console.log(`  ${optionsLine}`);
  for (const r of rows) console.log(r);
}

// ---- scale ----------------------------------------------------------------------------------

/** The scale table's columns: title, width. */
const SCALE_COLUMNS: Array<[string, number]> = [
  ['nodes', 5],
  ['values/s', 9],
  ['p50 ms', 7],
  ['p99 ms', 7],
  ['val/inst', 8],
  ['msg/inst', 8],
  ['frm/inst', 8],
  ['B/inst', 8],
  ['msg/val', 7],
  ['B/val', 6],
  ['CPU us/val', 10],
  ['cores', 5],
  ['pause ms', 8],
];

async function runScale(): Promise<void> {
  const rows: string[] = [];
  for (const storage of storages) {
    rows.push(`  ${STORAGE_LABEL[storage]}`);
    for (const size of scaleSizes) {
      const label = `scale ${storage} ${size}`;
      const cluster = await startLogCluster(size, storage, label);
      let f: WindowFigures;
      try {
        progress(`${label}: ${clients} callers, 2 s warm-up + ${durationMs / 1000} s`);
        f = await measureWindow(cluster);
      } finally {
        await stopLogCluster(cluster);
      }
      // Nothing decided or acknowledged (a stalled log): n/a rather than a total passed off as a rate.
      const perInst = (x: number) => (f.decisions > 0 ? x / f.decisions : Number.NaN);
      const perValue = (x: number) => (f.values > 0 ? x / f.values : Number.NaN);
      const cells = [
        String(size),
        fmtInt(f.perSecond),
        ms(f.p50),
        ms(f.p99),
        fixed(perInst(f.values), 1),
        fixed(perInst(f.messages), 1),
        fixed(perInst(f.frames), 1),
        fmtInt(perInst(f.bytes)),
        fixed(perValue(f.messages), 2),
        fmtInt(perValue(f.bytes)),
        fmtInt(perValue(f.cpuSeconds * 1e6)),
        (f.cpuSeconds / f.seconds).toFixed(2),
        fmtInt(f.longestPause),
      ];
      rows.push(
        `  ${cells.map((c, i) => c.padStart(SCALE_COLUMNS[i]![1])).join(' ')}${errorNote(f)}`,
      );
    }
  }
  console.log(
    `Multi-Paxos cost by cluster size: one replica per node process, ${clients} callers spread over the nodes, ${durationMs / 1000} s each`,
  );
  console.log(`  ${optionsLine}`);
  console.log(
    '  messages, frames, bytes: sent by all nodes (every wire message kind, incl. client forwards, replies, heartbeats; bytes of ws frame payloads)',
  );
  console.log(
    `  inst = Paxos instance applied at r1; CPU: utime+stime of all node processes and the bench (/proc, ${clockTicks} ticks/s); cores = CPU s per s`,
  );
  console.log("  pause = the longest time some node's callers saw no acknowledgement");
  console.log(`  ${SCALE_COLUMNS.map(([title, width]) => title.padStart(width)).join(' ')}`);
  for (const r of rows) console.log(r);
}

// ---- the run --------------------------------------------------------------------------------

let failed = false;
try {
  if (sections.has('single')) await runSingle();
  if (sections.has('throughput')) await runThroughput();
  if (sections.has('failure')) await runFailure();
  if (sections.has('scale')) await runScale();
} catch (err) {
  failed = true;
  console.error(`bench:paxos failed: ${(err as Error).message ?? String(err)}`);
}
for (const c of [...clusters]) await stopLogCluster(c).catch(() => undefined);
await Node.stop();
process.exit(failed ? 1 : 0);
