// Benchmark: Paxos decision latency and throughput, across node processes and in one process,
// beside a bare two-round quorum exchange over ws measured in the same run (the floor).
import { spawn as spawnChild } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pack, unpackMultiple } from 'msgpackr';
import { WebSocket } from 'ws';
import { flush, Global, type Pid, receive, self, sleep, TIMEOUT } from '../actors/index.ts';
import { Paxos } from '../apps/paxos/index.ts';
import { configureStorage } from '../apps/paxos/storage.ts';
import { launchNode, Node, spawnOn } from '../transport/index.ts';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run bench:paxos -- [options]

Measures on this machine, in one run:
  across processes  3 participants in 3 node processes: from propose until all three upper
                    processes are told the decision, one instance at a time (p50/p99)
  floor             a bare two-round quorum exchange over ws from one process to two others
                    (two rounds, each waiting for both replies), measured in the same run
  one process       the same single-decree loop with all 3 participants in this process
  throughput        multi-instance decisions/s with --inflight proposals in flight (3 nodes)
State is kept in memory (durability is measured by bench:inventory). The in-process figure is
also printed beside the Elixir coursework's Paxos on one BEAM node (about 15 us p50 there).

Options:
  --decisions N   single-decree decisions per measurement (default 2000)
  --instances N   instances for the throughput run        (default 5000)
  --inflight N    proposals in flight                     (default 100)
  --help          this text`;

const args = cli({
  usage: HELP,
  options: {
    decisions: { type: 'string', default: '2000' },
    instances: { type: 'string', default: '5000' },
    inflight: { type: 'string', default: '100' },
  },
});
const decisions = args.int('decisions', { min: 1 })!;
const instances = args.int('instances', { min: 1 })!;
const inflight = args.int('inflight', { min: 1 })!;
const progress = (t: string) => process.stderr.write(`  ${t}\n`);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const WARMUP = 200;

configureStorage({ kind: 'memory' });
const cookie = randomBytes(12).toString('hex');
await Node.start({ name: 'bench', cookie });

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

// ---- 3 participants in 3 node processes -----------------------------------------------------
progress('starting 2 nodes');
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
const me = self();
const leader = Paxos.start('x1', names, me);
await spawnOn(nodes[0]!.name, 'BenchPaxos.participant', ['x2', names, me]);
await spawnOn(nodes[1]!.name, 'BenchPaxos.participant', ['x3', names, me]);
while (!names.every((n) => Global.whereis(n) && Global.whereis(`${n}/beb`))) await sleep(5);
progress(`across processes: ${decisions} decisions`);
const across = await latencies(leader, 0, decisions);

progress(`throughput: ${instances} instances, ${inflight} in flight`);
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

// ---- the bare floor: two rounds to two peers over ws, waiting for both replies ---------------
progress('bare floor');
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const peers = await Promise.all(
  [0, 1].map(async () => {
    const child = spawnChild(
      process.execPath,
      ['--import', 'tsx', here('./bench-support/bare-peer.ts')],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
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
for (const p of peers) p.child.kill('SIGKILL');
for (const n of nodes) n.kill('SIGKILL');

// ---- 3 participants in this process ----------------------------------------------------------
progress(`one process: ${decisions} decisions`);
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
console.log(`  ratio p50          ${(pct(across, 50) / pct(floor, 50)).toFixed(2)}x (aim <= 1.5x)`);
console.log(
  `  1 process          ${us(pct(inProcess, 50))} ${us(pct(inProcess, 99))}   (Elixir coursework on one BEAM node: ~15 us; aim <= 4x = 60 us)`,
);
console.log(
  `multi-instance, ${inflight} in flight, 3 node processes: ${Math.round(perSecond).toLocaleString('en-US')} decisions/s`,
);
await Node.stop();
process.exit(0);
