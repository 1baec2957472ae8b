// `npm run chaos`: a black-box chaos run on the real cluster. Node processes run inventory
// replicas; concurrent clients do add/remove/order/view/get on a few hot items while a nemesis
// SIGKILLs and restarts nodes, partitions and heals links, and pauses processes (SIGSTOP). Every
// invocation and completion is recorded to a history file; at the end the linearizability
// checker (apps/check) and the invariants judge the run.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorError, Global, type Pid, sleep } from '../actors/index.ts';
import type { HistoryEntry, InventoryInput } from '../apps/check/history.ts';
import { writeHistory } from '../apps/check/history.ts';
import { checkLinearizable } from '../apps/check/linearizability.ts';
import { InventoryServer } from '../apps/inventory/index.ts';
import { requestId } from '../apps/rsm/machine.ts';
import { seededRandom } from '../transport/faults.ts';
import { Faults, Node } from '../transport/index.ts';
import { loadTls, writeCerts } from '../transport/tls.ts';
import { cli } from './support/cli.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { createHosts, type Host, netnsUnavailable, setHostLink } from './support/netns.ts';
import { useShortLogs } from './support/short-log.ts';

/** Most replacements in a run with --hosts (certificates are made for them beforehand). */
const SPARES = 12;

const HELP = `Usage: npm run chaos -- [options]

Starts --nodes node processes, each with an inventory replica (state in LMDB), and --clients
concurrent clients in this process doing add, remove, order, view and get on 3 hot items, at
every replica. Meanwhile a nemesis injects one fault at a time, each lasting 0.5..2.5 s:
SIGKILL of a node process (then a relaunch on its data), a partition of one node from the
others (then healed), a pause of a node process (SIGSTOP, then SIGCONT), and with --replace a
replica replaced through the log. A client whose call fails or times out retries under the same
request id at another replica.
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
  --replace        one more kind of fault: a member replaced while the load goes on: a new node
                   (p4, p5, ...) starts, InventoryServer.addReplica adds a replica on it (caught
                   up from a member's snapshot), removeReplica removes the victim, whose node
                   then stops: a node that does not exit with code 0 on SIGTERM is a violation
                   (Paxos only; with --hosts, the new node runs on the victim's host, on the next
                   port: at most ${SPARES} replacements)
  --delay-ms N     WAN-like latency: every link, both ways, holds each frame N ms, plus or minus
                   N/2 (the transport's fault injection), set once the nodes are up and again on
                   a relaunched node (default 0; 20 with --hosts)
  --hosts          one host per node and one for this driver: Linux network namespaces on a
                   bridge (10.213.0.x), TLS between the nodes (certificates made for the run),
                   each node on a fixed port of its own address. Partitions then alternate
                   between taking the victim host's link down and fault injection. Needs root
                   and iproute2; the namespaces and certificates are removed at the end
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
    'delay-ms': { type: 'string' },
    hosts: { type: 'boolean', default: false },
    replace: { type: 'boolean', default: false },
    // Internal, not in the usage: set by --hosts when it runs this script again inside the
    // driver's namespace (the hosts' layout and the certificates' directory, as JSON).
    'inside-hosts': { type: 'string' },
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
if (values.replace && protocol === 'epaxos')
  args.fail('--replace is for Paxos services (EPaxos changes members with EPaxos.join)');
type FaultKind = 'kill' | 'partition' | 'pause' | 'replace';
const kinds = [
  !values['no-kill'] && 'kill',
  !values['no-partition'] && 'partition',
  !values['no-pause'] && 'pause',
  values.replace && 'replace',
].filter((k): k is FaultKind => typeof k === 'string');
const delayMs = args.int('delay-ms', { min: 0, max: 1000 }) ?? (values.hosts ? 20 : 0);
const jitterMs = Math.floor(delayMs / 2);
const names = Array.from({ length: nodeCount }, (_, i) => `p${i + 1}`);
/** The names a replacement may take (with --hosts, each has a certificate made beforehand). */
const spares = values.replace
  ? Array.from({ length: SPARES }, (_, i) => `p${nodeCount + i + 1}`)
  : [];

/** What --hosts hands to the run inside the driver's namespace. */
interface Layout {
  tag: string;
  hub: string;
  /** This driver's host. */
  driver: Host;
  /** Node p<i>'s host is nodes[i - 1], on link port<i> of the hub's bridge. */
  nodes: Host[];
  certs: string;
}
/** The port every node listens on, on its own host's address: a relaunch keeps its name. */
const NODE_PORT = 4000;

function insideLayout(text: string): Layout {
  try {
    const layout = JSON.parse(text) as Layout;
    if (layout.nodes.length === nodeCount && layout.driver.address && layout.certs && layout.hub)
      return layout;
  } catch {}
  return args.fail('--inside-hosts is internal: set by --hosts');
}
const layout = values['inside-hosts'] === undefined ? null : insideLayout(values['inside-hosts']);

/**
 * --hosts, outside: makes the hosts and the certificates, runs this script again inside the
 * driver's namespace (its output streamed), removes both whatever happens, and exits with its
 * exit code.
 */
async function runOnHosts(): Promise<never> {
  const why = netnsUnavailable();
  if (why) args.fail(`--hosts cannot make network namespaces here: ${why}`);
  const net = createHosts(nodeCount + 1);
  const certs = mkdtempSync(join(tmpdir(), 'ac-chaos-certs-'));
  let code = 1;
  try {
    writeCerts(certs, ['chaos', ...names, ...spares]);
    const inner: Layout = {
      tag: net.tag,
      hub: net.hub,
      driver: net.hosts[nodeCount]!,
      nodes: net.hosts.slice(0, nodeCount),
      certs,
    };
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        inner.driver.ns,
        process.execPath,
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        ...process.argv.slice(2),
        '--inside-hosts',
        JSON.stringify(inner),
      ],
      { stdio: 'inherit' },
    );
    // Ctrl-C reaches both processes; a signal sent to this one alone is passed on. The run
    // inside stops its nodes and exits; if it hangs, it is killed.
    const stop = () => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    code = await new Promise<number>((done) => {
      child.on('error', (err) => {
        console.error(`chaos --hosts: cannot run ip netns exec: ${err.message}`);
        done(1);
      });
      child.on('exit', (exitCode, signal) =>
        done(exitCode ?? 128 + (signal ? constants.signals[signal] : 0)),
      );
    });
  } finally {
    net.destroy();
    rmSync(certs, { recursive: true, force: true });
  }
  process.exit(code);
}
if (values.hosts && layout === null) await runOnHosts();

useShortLogs('error');
const random = seededRandom(seed);
const t0 = performance.now();
const clock = () => performance.now() - t0;
const say = (text: string) => console.log(`[${(clock() / 1000).toFixed(1).padStart(5)} s] ${text}`);

const cookie = randomBytes(16).toString('hex');
/** With --hosts, where a replacement runs: its victim's host (index), on a port of its own. */
const placed = new Map<string, { host: number; port: number }>();
const hostOf = (name: string) => placed.get(name)?.host ?? names.indexOf(name);
await Node.start({
  name: 'chaos',
  cookie,
  heartbeatIntervalMs: 200,
  nodeDownAfterMs: 1500,
  ...(layout && { host: layout.driver.address, tls: loadTls(layout.certs, 'chaos') }),
});
const cluster = await LocalCluster.start({
  names,
  cookie,
  services: ['inventory'],
  replicaOptions: { protocol },
  heartbeatIntervalMs: 200,
  nodeDownAfterMs: 1500,
  ...(layout && {
    tls: layout.certs,
    placement: (name: string) => {
      const at = placed.get(name) ?? { host: names.indexOf(name), port: NODE_PORT };
      const host = layout.nodes[at.host]!;
      return { netns: host.ns, host: host.address, port: at.port };
    },
  }),
});
let cleaning: Promise<void> | null = null;
const cleanup = () => {
  cleaning ??= (async () => {
    for (const node of cluster.nodes.values()) node.kill('SIGCONT');
    await cluster.stop();
    await Node.stop();
  })();
  return cleaning;
};
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

// ---- latency ----
const fullName = (n: string) => (n === 'chaos' ? Node.self() : cluster.nodes.get(n)!.name);
/** Delays every link between one of `of` and any other node (this one included), both ways. */
async function delayLinks(of: string[]): Promise<void> {
  if (delayMs === 0) return;
  const all = ['chaos', ...cluster.nodes.keys()];
  const done = new Set<string>();
  for (const a of of)
    for (const b of all) {
      const pair = [a, b].sort().join(' ');
      if (a === b || done.has(pair)) continue;
      done.add(pair);
      await Faults.delay(fullName(a), fullName(b), { delayMs, jitterMs });
    }
}
/** The mean round trip of a ping from here to every node, in ms. */
async function pingMs(): Promise<number> {
  let total = 0;
  for (const n of names) {
    const start = performance.now();
    await Node.ping(fullName(n));
    total += performance.now() - start;
  }
  return total / names.length;
}
const pingBefore = await pingMs();
await delayLinks(['chaos', ...names]);
const pingAfter = await pingMs();
const latency = delayMs > 0 ? `delay ${delayMs}±${jitterMs} ms on every link` : 'no delay';
const where = layout
  ? `; ${nodeCount + 1} hosts (network namespaces ${layout.tag}-h1..h${nodeCount + 1}, TLS): ${names.join(', ')} on ${layout.nodes.map((h) => `${h.address}:${NODE_PORT}`).join(', ')}, this driver on ${layout.driver.address}`
  : '';
say(
  `${nodeCount} node processes up (${names.join(', ')}, ${protocol}), ${clientCount} clients, seed ${seed}, faults: ${kinds.join(', ') || 'none'}; ${latency}${where}`,
);
if (delayMs > 0)
  say(
    `ping to a node: ${pingBefore.toFixed(1)} ms before the delay, ${pingAfter.toFixed(1)} ms with it`,
  );

// ---- clients ----
const history: HistoryEntry[] = [];
let nextId = 0;
let running = true;
const stats = { ok: 0, refused: 0, indeterminate: 0, retries: 0 };
const ITEMS = ['apple', 'pear', 'plum'];
/** The service's replicas now (--replace changes them). */
let members = [...names];
const server = (name: string): Pid | undefined => Global.whereis(`inventory:${name}`);

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
      const target = server(members[(c + attempt) % members.length]!);
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
const faults = { kill: 0, partition: 0, pause: 0, replace: 0 };
/** Replaced nodes that did not exit with code 0 on SIGTERM (a node stuck in its exit, say). */
const stopsUnclean: string[] = [];
let added = 0;
/**
 * Replaces `victim` by a replica on a new node, through the log: addReplica, removeReplica (each
 * retried under its request id until answered), then the victim's node stops.
 */
async function replace(victim: string): Promise<void> {
  const fresh = `p${nodeCount + ++added}`;
  if (layout) placed.set(fresh, { host: hostOf(victim), port: NODE_PORT + added });
  say(`nemesis: replace ${victim} by ${fresh} (addReplica on a new node, then removeReplica)`);
  const node = await cluster.startNode(fresh, { services: [] });
  await delayLinks([fresh]);
  const through = () => members.find((m) => m !== victim && server(m)) ?? victim;
  const add = await retried((reqId) =>
    InventoryServer.addReplica(through(), fresh, { node: node.name, reqId, timeoutMs: 5000 }),
  );
  members = add.members;
  const removed = await retried((reqId) =>
    InventoryServer.removeReplica(through(), victim, { reqId, timeoutMs: 5000 }),
  );
  members = removed.members;
  const code = await cluster.stopNode(victim);
  if (code !== 0) {
    // null: killed by a signal (the launcher's SIGKILL after its grace, say).
    const how = code === null ? 'killed' : `exit code ${code}`;
    stopsUnclean.push(`${victim} (${how})`);
    say(`nemesis: ${victim} did not exit cleanly on SIGTERM (${how})`);
  }
  say(`nemesis: members ${members.join(', ')} (epoch ${removed.epoch})`);
}
/** Calls `f` under one request id until it answers (a fault may take a call or two). */
async function retried<T>(f: (reqId: string) => Promise<T>): Promise<T> {
  const reqId = requestId();
  for (let attempt = 1; ; attempt++) {
    try {
      return await f(reqId);
    } catch (err) {
      if (!(err instanceof ActorError) || attempt >= 20) throw err;
      await sleep(200);
    }
  }
}
/** With --hosts, partitions alternate: the victim host's link down, then fault injection. */
const partitionsBy = { link: 0, injection: 0 };
async function nemesis(): Promise<void> {
  await sleep(1000);
  while (running && kinds.length > 0) {
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    if (kind === 'replace' && layout && added >= SPARES) {
      await sleep(100); // no certificate left for another
      continue;
    }
    const victim = members[Math.floor(random() * members.length)]!;
    const lasting = 500 + Math.floor(random() * 2000);
    faults[kind]++;
    if (kind === 'replace') {
      await replace(victim);
    } else if (kind === 'kill') {
      say(`nemesis: SIGKILL ${victim} for ${lasting} ms`);
      await cluster.killNode(victim);
      await sleep(lasting);
      await cluster.startNode(victim);
      await delayLinks([victim]); // its rules died with it
      say(`nemesis: ${victim} relaunched`);
    } else if (kind === 'partition' && layout && partitionsBy.link <= partitionsBy.injection) {
      // The host's link down: it reaches nobody, this driver included, and nobody reaches it.
      partitionsBy.link++;
      const i = hostOf(victim) + 1;
      say(`nemesis: partition ${victim} | everyone for ${lasting} ms (host link down)`);
      setHostLink(layout.hub, i, false);
      await sleep(lasting);
      setHostLink(layout.hub, i, true);
      say('nemesis: healed (host link up)');
    } else if (kind === 'partition') {
      partitionsBy.injection++;
      const others = members.filter((n) => n !== victim);
      const how = layout ? ' (fault injection)' : '';
      say(`nemesis: partition ${victim} | ${others.join(',')} for ${lasting} ms${how}`);
      for (const o of others) await Faults.partition(fullName(victim), fullName(o));
      await sleep(lasting);
      for (const o of others) await Faults.heal(fullName(victim), fullName(o));
      await delayLinks([victim]); // heal cleared every rule between them
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
for (const name of members) {
  const pid = await cluster.waitReplica('inventory', name);
  views.push(await InventoryServer.view(pid, { timeoutMs: 10_000 }));
}
const shown = JSON.stringify(views[0]);
for (const [i, v] of views.entries()) {
  if (JSON.stringify(v) !== shown)
    violations.push(`${members[i]} shows ${JSON.stringify(v)}, ${members[0]} ${shown}`);
  for (const [item, qty] of Object.entries(v))
    if (qty < 0) violations.push(`${members[i]}: ${item} is negative (${qty})`);
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
for (const stop of stopsUnclean) violations.push(`replaced node ${stop} did not exit cleanly`);
await cleanup();

const setting = [
  layout && `on ${nodeCount + 1} hosts`,
  delayMs > 0 && `delay ${delayMs}±${jitterMs} ms`,
].filter(Boolean);
console.log(
  `chaos: ${durationMs / 1000} s, ${nodeCount} nodes (${protocol}), ${clientCount} clients, seed ${seed}${setting.map((s) => `, ${s}`).join('')}`,
);
console.log(
  `operations: ${stats.ok} ok (${stats.refused} of them refused: insufficient_stock), ${stats.indeterminate} indeterminate, ${stats.retries} retries`,
);
console.log(
  `faults injected: ${faults.kill} kills, ${faults.partition} partitions, ${faults.pause} pauses${values.replace ? `, ${faults.replace} replicas replaced (members at the end: ${members.join(', ')})` : ''}${layout ? ` (partitions: ${partitionsBy.link} host link down, ${partitionsBy.injection} fault injection)` : ''}`,
);
if (values.replace)
  console.log(
    `replaced nodes stopped by SIGTERM: ${faults.replace - stopsUnclean.length} of ${faults.replace} exited cleanly${stopsUnclean.length > 0 ? ` (not: ${stopsUnclean.join(', ')})` : ''}`,
  );
console.log(
  `linearizability: ${verdict.ok === true ? 'OK' : verdict.ok === false ? 'VIOLATED' : 'UNKNOWN (checker timed out)'} (${history.length} operations checked in ${checkMs} ms)`,
);
console.log(`history: ${out}`);
console.log(`violations: ${violations.length}`);
for (const v of violations) console.log(`  ${v}`);
process.exit(violations.length > 0 ? 1 : verdict.ok === 'unknown' ? 3 : 0);
