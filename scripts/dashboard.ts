// `npm run dashboard`: starts a local cluster (node processes p1..pN running the inventory and
// seat replicas) and serves a live view of it on 127.0.0.1: nodes and links, supervision trees,
// Paxos (or, with --protocol epaxos, EPaxos) instances and messages, replicas' state, with
// buttons to inject faults and a form to add inventory. This process is the node 'dash'; it
// polls every node's observer.
import { randomBytes } from 'node:crypto';
import { Node } from '../transport/index.ts';
import { cli } from './support/cli.ts';
import { type Dashboard, startDashboard } from './support/dashboard-server.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { startObserver } from './support/observer.ts';
import { useShortLogs } from './support/short-log.ts';

const HELP = `Usage: npm run dashboard -- [options]

Starts --nodes node processes p1..pN, each running an inventory and a seat replica (state in
LMDB, in a temp dir removed at exit), makes this process the node 'dash' of that cluster and
serves a live view of it on 127.0.0.1, updated twice a second:
  - the nodes and the links between them (up, partitioned, down)
  - each node's supervision tree (replicas, Paxos participants, supervisors, roles)
  - recent Paxos instances with their ballots and decided values (with --protocol epaxos:
    recent EPaxos instances with their command, seq, deps and the path taken, fast or slow,
    and each replica's count of fast, slow and learned commits and recoveries)
  - a sequence diagram of the last 40 Paxos (or EPaxos) messages
  - each replica's log position, leader and state (the inventory stock, the seat holders)
with buttons to kill a process, kill (SIGKILL) or start a node, restart a replica, partition or
heal a link, and a form to add inventory (watch the decision happen).
Prints 'dashboard on http://127.0.0.1:PORT/' once everything is up; Ctrl-C stops it all.

Options:
  --port N             port of the web page (default 0: any free port)
  --nodes N            node processes in the cluster, 1 to 9 (default 3)
  --protocol P         paxos (Multi-Paxos, default) or epaxos (leaderless: every replica leads
                       its own commands, interfering ones are ordered by their dependencies)
  --exit-with-parent   stop when standard input closes (for tests and launchers)
  --help               this text

Environment: LOG_LEVEL (runtime logs on stderr, default warn).`;

const args = cli({
  usage: HELP,
  options: {
    port: { type: 'string', default: '0' },
    nodes: { type: 'string', default: '3' },
    protocol: { type: 'string', default: 'paxos' },
    'exit-with-parent': { type: 'boolean', default: false },
  },
});
const { values } = args;
const port = args.port('port')!;
const nodeCount = args.int('nodes', { min: 1, max: 9 })!;
const protocol = args.choice('protocol', ['paxos', 'epaxos'] as const)!;

useShortLogs('warn');
const names = Array.from({ length: nodeCount }, (_, i) => `p${i + 1}`);
const cookie = randomBytes(16).toString('hex');
// Fast failure detection, so that a killed or partitioned node shows within about a second.
const timing = { heartbeatIntervalMs: 250, nodeDownAfterMs: 1500 };

let clusterStarting: Promise<LocalCluster> | null = null;
let dashboard: Dashboard | null = null;
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    const force = setTimeout(() => process.exit(code), 10_000);
    force.unref();
    try {
      await dashboard?.close();
      // A cluster still starting is stopped once up (or its nodes die with this process).
      const cluster = await clusterStarting?.catch(() => null);
      await cluster?.stop();
      await Node.stop();
    } catch (err) {
      console.error(`while stopping: ${(err as Error).message}`);
    }
    process.exit(code);
  }
  return new Promise<never>(() => {});
}
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));
if (values['exit-with-parent']) {
  process.stdin.on('end', () => void shutdown(0));
  process.stdin.on('error', () => void shutdown(0));
  process.stdin.resume();
}

try {
  await Node.start({ name: 'dash', cookie, ...timing });
  startObserver();
  clusterStarting = LocalCluster.start({
    names,
    cookie,
    services: ['inventory', 'seats'],
    replicaOptions: { protocol },
    ...timing,
  });
  const cluster = await clusterStarting;
  if (stopping) await new Promise(() => {}); // shutdown() stops it
  dashboard = await startDashboard({ port, cluster, services: ['inventory', 'seats'] });
  console.log(`cluster of ${nodeCount} node processes up (${protocol}): ${names.join(', ')}`);
  console.log(`dashboard on ${dashboard.url}`);
} catch (err) {
  console.error(`dashboard failed to start: ${(err as Error).message}`);
  await shutdown(1);
}
