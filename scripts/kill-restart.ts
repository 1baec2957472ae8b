// `npm run kill-restart`: kills an inventory replica (its actor, or its whole node process with
// SIGKILL) under a steady client load, shows the cluster still serving, restarts the replica
// and shows it catching up, then checks that no acknowledged operation was lost.
import { randomBytes } from 'node:crypto';
import { Global, kill, type Pid, sleep } from '../actors/index.ts';
import { InventoryServer } from '../apps/inventory/index.ts';
import { Node } from '../transport/index.ts';
import { cli } from './support/cli.ts';
import { fail } from './support/demo-setup.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { useShortLogs } from './support/short-log.ts';

const HELP = `Usage: npm run kill-restart -- [options]

Starts 3 node processes p1, p2, p3, each running an inventory replica (state in LMDB), and a
client load: one client per replica adding 1 'load' unit at a time. Then kills the target
replica, keeps the load running on the others for --down-ms, restarts the target and follows
it as it catches up (its applied log position against a live replica's). At the end the load
stops and every replica must show the same stock, with 'load' equal to the adds acknowledged
(no acknowledged operation lost, none applied twice; an add still unanswered when the load
stops may count or not). Exits 1 otherwise.

Options:
  --target NAME   the replica to kill: p1, p2 or p3 (default p2; p1 is the leader)
  --mode M        actor: kill the replica's actor by name, then start it again on its node
                  node:  SIGKILL the whole node process, then relaunch it on its data
                  (default node)
  --down-ms N     how long the target stays down while the load goes on (default 1500)
  --protocol P    paxos (Multi-Paxos, default) or epaxos (leaderless: every replica leads its
                  own adds; "applied" counts executed EPaxos instances)
  --help          this text`;

const args = cli({
  usage: HELP,
  options: {
    target: { type: 'string', default: 'p2' },
    mode: { type: 'string', default: 'node' },
    'down-ms': { type: 'string', default: '1500' },
    protocol: { type: 'string', default: 'paxos' },
  },
});
const names = ['p1', 'p2', 'p3'];
const target = args.choice('target', names)!;
const mode = args.choice('mode', ['actor', 'node'] as const)!;
const downMs = args.int('down-ms', { min: 1 })!;
const protocol = args.choice('protocol', ['paxos', 'epaxos'] as const)!;

// Runtime log lines (the node-down warning, crash reports) go to stderr, short.
useShortLogs('error');
const t0 = Date.now();
const say = (text: string) =>
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}`);

const cookie = randomBytes(16).toString('hex');
await Node.start({ name: 'driver', cookie });
const cluster = await LocalCluster.start({
  names,
  cookie,
  services: ['inventory'],
  replicaOptions: { protocol },
});
say(`3 node processes up, one inventory replica each (${protocol}): ${names.join(', ')}`);

// The load: one client per replica, adding one unit at a time. An add that fails (its replica
// down, or no answer in time) is retried at the next live replica under the same request id, so
// it is applied at most once. An add still unanswered when the load stops is 'unresolved': it
// may or may not have been applied.
let acked = 0;
let unresolved = 0;
let stopping = false;
const inventory = (name: string) => Global.whereis(`inventory:${name}`);
async function addOnce(home: number, reqId: string): Promise<void> {
  let sent = false;
  for (let i = 0; ; i++) {
    if (stopping && i > 0) {
      if (sent) unresolved++;
      return;
    }
    const server = inventory(names[(home + i) % names.length]!);
    if (server) {
      sent = true;
      try {
        await InventoryServer.add(server, 'load', 1, { reqId, timeoutMs: 2000, attempts: 1 });
        acked++;
        return;
      } catch {
        // that replica went down, or is cut off: try the next one
      }
    }
    await sleep(20);
  }
}
const client = async (home: number) => {
  for (let n = 0; !stopping; n++) await addOnce(home, `${names[home]}-${n}`);
};
const clients = names.map((_, home) => client(home));
await sleep(500);
say(`load running: ${acked} adds acknowledged`);

const live = names.find((n) => n !== target)!;
if (mode === 'actor') {
  kill(inventory(target)!);
  while (inventory(target)) await sleep(5); // its name is released once it is gone
  say(`killed the replica actor inventory:${target} (its node stays up)`);
} else {
  await cluster.killNode(target);
  say(`SIGKILLed node ${target} (the cluster noticed: its names are released)`);
}
const beforeDown = acked;
await sleep(downMs);
const view = await InventoryServer.view(inventory(live)!);
say(
  `still serving with ${target} down: ${acked - beforeDown} adds acknowledged meanwhile; view at ${live}: ${JSON.stringify(view)}`,
);

const beforeRestart = acked;
if (mode === 'actor') await cluster.startReplica('inventory', target);
else await cluster.startNode(target);
const restarted = inventory(target) as Pid;
say(
  protocol === 'paxos'
    ? `restarted ${target} (${restarted}); it caught up from its data and the others before taking requests (${acked - beforeRestart} adds acknowledged meanwhile)`
    : `restarted ${target} (${restarted}) from its data; it learns what it missed as it runs (${acked - beforeRestart} adds acknowledged meanwhile)`,
);
// Caught up: the restarted replica has applied at least what the live one had applied just
// before, and has no decided instance waiting for a gap (the load goes on, so both keep moving).
for (let i = 0; ; i++) {
  const b = await InventoryServer.status(inventory(live)!);
  const a = await InventoryServer.status(restarted);
  const caughtUp = a.applied >= b.applied && a.waiting === 0;
  say(
    `${target} applied ${a.applied} (waiting ${a.waiting}), ${live} applied ${b.applied}${caughtUp ? `: ${target} caught up` : ''}`,
  );
  if (caughtUp) break;
  if (i >= 50) fail(`${target} did not catch up`);
  await sleep(200);
}
say(`load still running: ${acked} adds acknowledged`);

stopping = true;
await Promise.all(clients);
say(`load stopped: ${acked} adds acknowledged, ${unresolved} unresolved`);
// With the load stopped, every replica reaches the same log position.
for (let i = 0; ; i++) {
  const all = await Promise.all(names.map((n) => InventoryServer.status(inventory(n)!)));
  const applied = all.map((s) => s.applied);
  if (applied.every((x) => x === applied[0]) && all.every((s) => s.waiting === 0)) {
    say(`every replica applied ${applied[0]} (waiting 0)`);
    break;
  }
  if (i >= 50) fail(`the replicas did not converge: applied ${applied.join(', ')}`);
  await sleep(100);
}
const views = await Promise.all(names.map((n) => InventoryServer.view(inventory(n)!)));
for (const [i, v] of views.entries()) say(`view at ${names[i]}: ${JSON.stringify(v)}`);
if (new Set(views.map((v) => JSON.stringify(v))).size !== 1) fail('the replicas disagree');
const load = views[0]!.load ?? 0;
if (load < acked) fail(`'load' is ${load} but ${acked} adds were acknowledged: some were lost`);
if (load > acked + unresolved)
  fail(`'load' is ${load}, more than ${acked} acknowledged + ${unresolved} unresolved adds`);
say(
  `${acked} adds acknowledged (+${unresolved} unresolved), 'load' = ${load} at every replica: OK`,
);
await cluster.stop();
await Node.stop();
process.exit(0);
