// `npm run chaos`: a black-box chaos run on the real cluster. Node processes run inventory
// replicas; concurrent clients do add/remove/order/view/get on a few hot items while a nemesis
// SIGKILLs and restarts nodes, partitions and heals links, and pauses processes (SIGSTOP). Every
// invocation and completion is recorded to a history file; at the end the linearizability
// checker (apps/check) and the invariants judge the run.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ActorError, type Pid, sleep } from '../actors/index.ts';
import type { HistoryEntry, InventoryInput } from '../apps/check/history.ts';
import { writeHistory } from '../apps/check/history.ts';
import { checkLinearizable } from '../apps/check/linearizability.ts';
import { InventoryServer } from '../apps/inventory/index.ts';
import { requestId } from '../apps/rsm/machine.ts';
import { seededRandom } from '../transport/faults.ts';
import { Faults, Node } from '../transport/index.ts';
import { cli } from './support/cli.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { useShortLogs } from './support/short-log.ts';

const HELP = `Usage: npm run chaos -- [options]

Starts --nodes node processes, each with an inventory replica (state in LMDB), and --clients
concurrent clients in this process doing add, remove, order, view and get on 3 hot items, at
every replica. Meanwhile a nemesis injects one fault at a time, each lasting 0.5..2.5 s:
SIGKILL of a node process (then a relaunch on its data), a partition of one node from the
others (then healed), a pause of a node process (SIGSTOP, then SIGCONT). A client whose call
fails or times out retries under the same request id at another replica.
Every invocation and completion goes to a history file (JSON Lines). At the end, faults stop,
every replica must reach the same state, and the linearizability checker judges the history
against the inventory model (stock never negative is part of the model). The run prints
operations ok / indeterminate, faults injected, and violations (must be 0); exit 1 otherwise.
Re-check a history later with: npm run check:history -- FILE

Options:
  --duration S     seconds of load and faults (default 60)
  --nodes N        3 or 5 (default 3)
  --clients N      concurrent clients (default 6)
  --seed N         the nemesis's and the clients' choices (default: random, printed)
  --protocol P     paxos (Multi-Paxos, default) or epaxos (the replicas order operations with
                   EPaxos: leaderless, by item)
  --out FILE       history file (default data/chaos-<time>.jsonl)
  --no-kill, --no-partition, --no-pause
                   leave that kind of fault out
  --help           this text`;

const args = cli({
  usage: HELP,
  options: {
    duration: { type: 'string', default: '60' },
    nodes: { type: 'string', default: '3' },
    clients: { type: 'string', default: '6' },
    seed: { type: 'string' },
    protocol: { type: 'string', default: 'paxos' },
    out: { type: 'string' },
    'no-kill': { type: 'boolean', default: false },
    'no-partition': { type: 'boolean', default: false },
    'no-pause': { type: 'boolean', default: false },
  },
});
const { values } = args;
const durationMs = args.int('duration', { min: 1 })! * 1000;
const nodeCount = Number(args.choice('nodes', ['3', '5'] as const));
const clientCount = args.int('clients', { min: 1 })!;
const seed = args.int('seed', { min: 0 }) ?? Math.floor(Math.random() * 1e9);
const protocol = args.choice('protocol', ['paxos', 'epaxos'] as const)!;
const out = resolve(
  values.out ?? `data/chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`,
);
const kinds = [
  !values['no-kill'] && 'kill',
  !values['no-partition'] && 'partition',
  !values['no-pause'] && 'pause',
].filter((k): k is 'kill' | 'partition' | 'pause' => typeof k === 'string');

useShortLogs('error');
const random = seededRandom(seed);
const t0 = performance.now();
const clock = () => performance.now() - t0;
const say = (text: string) => console.log(`[${(clock() / 1000).toFixed(1).padStart(5)} s] ${text}`);

const names = Array.from({ length: nodeCount }, (_, i) => `p${i + 1}`);
const cookie = randomBytes(16).toString('hex');
await Node.start({ name: 'chaos', cookie, heartbeatIntervalMs: 200, nodeDownAfterMs: 1500 });
const cluster = await LocalCluster.start({
  names,
  cookie,
  services: ['inventory'],
  replicaOptions: { protocol },
  heartbeatIntervalMs: 200,
  nodeDownAfterMs: 1500,
});
let cleaningUp = false;
const cleanup = async () => {
  if (cleaningUp) return;
  cleaningUp = true;
  for (const node of cluster.nodes.values()) node.kill('SIGCONT');
  await cluster.stop();
  await Node.stop();
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
say(
  `${nodeCount} node processes up (${names.join(', ')}, ${protocol}), ${clientCount} clients, seed ${seed}, faults: ${kinds.join(', ') || 'none'}`,
);

// ---- clients ----
const history: HistoryEntry[] = [];
let nextId = 0;
let running = true;
const stats = { ok: 0, refused: 0, indeterminate: 0, retries: 0 };
const ITEMS = ['apple', 'pear', 'plum'];
const server = (name: string): Pid | undefined => cluster.pids('inventory')[names.indexOf(name)];

function randomInput(): InventoryInput {
  const item = ITEMS[Math.floor(random() * ITEMS.length)]!;
  const qty = 1 + Math.floor(random() * 3);
  const k = random();
  if (k < 0.35) return { kind: 'add', item, qty };
  if (k < 0.65) return { kind: 'remove', item, qty };
  if (k < 0.75) {
    const other = ITEMS[(ITEMS.indexOf(item) + 1) % ITEMS.length]!;
    return {
      kind: 'order',
      lines: [
        { item, qty: 1 },
        { item: other, qty },
      ],
    };
  }
  if (k < 0.85) return { kind: 'view' };
  return { kind: 'get', item };
}

async function invoke(target: Pid, input: InventoryInput, reqId: string): Promise<unknown> {
  const o = { reqId, timeoutMs: 2000, attempts: 1 };
  switch (input.kind) {
    case 'add':
      return InventoryServer.add(target, input.item, input.qty, o);
    case 'remove':
      return InventoryServer.remove(target, input.item, input.qty, o);
    case 'order':
      return InventoryServer.order(target, input.lines, o);
    // Reads, recorded as the service's own result shapes for the model.
    case 'view':
      return { ok: true, stock: await InventoryServer.view(target, o) };
    case 'get':
      return {
        ok: true,
        stock: { [input.item]: await InventoryServer.get(target, input.item, o) },
      };
  }
}

async function client(c: number): Promise<void> {
  while (running) {
    const input = randomInput();
    const entry: HistoryEntry = { id: nextId++, client: `c${c}`, input, call: clock(), ret: null };
    history.push(entry);
    const reqId = requestId();
    const giveUpAt = clock() + 15_000;
    for (let attempt = 0; ; attempt++) {
      const target = server(names[(c + attempt) % names.length]!);
      if (attempt > 0) stats.retries++;
      if (target) {
        try {
          entry.output = await invoke(target, input, reqId);
          entry.ret = clock();
          stats.ok++;
          if ((entry.output as { ok: boolean }).ok === false) stats.refused++;
          break;
        } catch (err) {
          if (!(err instanceof ActorError)) throw err; // a bug, not a fault
        }
      }
      if (!running || clock() > giveUpAt) {
        stats.indeterminate++; // it may have been applied: the checker allows both
        break;
      }
      await sleep(50);
    }
  }
}

// ---- nemesis ----
const faults = { kill: 0, partition: 0, pause: 0 };
async function nemesis(): Promise<void> {
  await sleep(1000);
  while (running && kinds.length > 0) {
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    const victim = names[Math.floor(random() * names.length)]!;
    const lasting = 500 + Math.floor(random() * 2000);
    faults[kind]++;
    if (kind === 'kill') {
      say(`nemesis: SIGKILL ${victim} for ${lasting} ms`);
      await cluster.killNode(victim);
      await sleep(lasting);
      await cluster.startNode(victim);
      say(`nemesis: ${victim} relaunched`);
    } else if (kind === 'partition') {
      const others = names.filter((n) => n !== victim);
      const full = (n: string) => cluster.nodes.get(n)!.name;
      say(`nemesis: partition ${victim} | ${others.join(',')} for ${lasting} ms`);
      for (const o of others) await Faults.partition(full(victim), full(o));
      await sleep(lasting);
      for (const o of others) await Faults.heal(full(victim), full(o));
      say('nemesis: healed');
    } else {
      const node = cluster.nodes.get(victim)!;
      say(`nemesis: SIGSTOP ${victim} for ${lasting} ms`);
      node.kill('SIGSTOP');
      await sleep(lasting);
      node.kill('SIGCONT');
      say(`nemesis: SIGCONT ${victim}`);
    }
    await sleep(500 + Math.floor(random() * 1500));
  }
}

const progress = setInterval(() => {
  process.stderr.write(
    `  ${(clock() / 1000).toFixed(0)} s: ${stats.ok} ok, ${stats.indeterminate} indeterminate, ${stats.retries} retries\n`,
  );
}, 5000);

const clients = Array.from({ length: clientCount }, (_, c) => client(c));
const nemesisDone = nemesis();
await sleep(durationMs);
say('faults stop; clients finish their current operation');
running = false;
await nemesisDone;
await Promise.all(clients);
clearInterval(progress);

// ---- judgement ----
const violations: string[] = [];
// Every node up again, then every replica must reach the same state.
const views: Array<Record<string, number>> = [];
for (const name of names) {
  const pid = await cluster.waitReplica('inventory', name);
  views.push(await InventoryServer.view(pid, { timeoutMs: 10_000 }));
}
const shown = JSON.stringify(views[0]);
for (const [i, v] of views.entries()) {
  if (JSON.stringify(v) !== shown)
    violations.push(`${names[i]} shows ${JSON.stringify(v)}, ${names[0]} ${shown}`);
  for (const [item, qty] of Object.entries(v))
    if (qty < 0) violations.push(`${names[i]}: ${item} is negative (${qty})`);
}
say(`every replica: ${shown}`);
// The final view is part of the history too: the state the log ends in must be reachable.
history.push({
  id: nextId++,
  client: 'final',
  input: { kind: 'view' },
  call: clock(),
  ret: clock(),
  output: { ok: true, stock: views[0] },
});

mkdirSync(dirname(out), { recursive: true });
writeHistory(out, history);
const checkStart = performance.now();
const verdict = checkLinearizable(history, { timeoutMs: 120_000 });
const checkMs = Math.round(performance.now() - checkStart);
if (verdict.ok === false) violations.push(`not linearizable: ${verdict.reason}`);
await cleanup();

console.log(
  `chaos: ${durationMs / 1000} s, ${nodeCount} nodes (${protocol}), ${clientCount} clients, seed ${seed}`,
);
console.log(
  `operations: ${stats.ok} ok (${stats.refused} of them refused: insufficient_stock), ${stats.indeterminate} indeterminate, ${stats.retries} retries`,
);
console.log(
  `faults injected: ${faults.kill} kills, ${faults.partition} partitions, ${faults.pause} pauses`,
);
console.log(
  `linearizability: ${verdict.ok === true ? 'OK' : verdict.ok === false ? 'VIOLATED' : 'UNKNOWN (checker timed out)'} (${history.length} operations checked in ${checkMs} ms)`,
);
console.log(`history: ${out}`);
console.log(`violations: ${violations.length}`);
for (const v of violations) console.log(`  ${v}`);
process.exit(violations.length > 0 ? 1 : verdict.ok === 'unknown' ? 3 : 0);
