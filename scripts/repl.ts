// `npm start`: a Node REPL that is itself a process (self(), send, await receive(), flush()).
// The runtime and the services are preloaded; h() lists what is there and h(name) explains it.
// `npm start -- --cluster 3` runs the service replicas in three node processes instead.
import { randomBytes } from 'node:crypto';
import repl from 'node:repl';
import { parseArgs } from 'node:util';
import * as runtime from '../actors/index.ts';
import { BEB } from '../apps/beb/index.ts';
import { InventoryServer } from '../apps/inventory/index.ts';
import { Paxos } from '../apps/paxos/index.ts';
import { SeatReserve } from '../apps/seats/index.ts';
import { Faults, Node, spawnOn } from '../transport/index.ts';
import { HELP } from './repl-help.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { metricsSummary } from './support/metrics-server.ts';
import { useShortLogs } from './support/short-log.ts';

const USAGE = `Usage: npm start [-- options]

An interactive session where the prompt is an Elixir-style process.
  --name NAME         make this session a node of a cluster (see npm run node -- --help)
  --port N            port for the node to listen on (default 0: any free port)
  --join NODE         full name of a node to connect to (repeatable)
  --cookie C          cluster cookie (default: ACTORCLUSTER_COOKIE or ~/.actorcluster.cookie)
  --cluster N         start N node processes p1..pN, each running an inventory and a seat
                      replica (durable, in a temp dir), with this session as a node of that
                      cluster; procs, pids (inventory) and srs (seats) are predefined
  --log-level LEVEL   runtime log level shown in the session (default: warn)
  --help              this text

Without --cluster the replicas you start run inside this session:
  procs = ['p1', 'p2', 'p3']; pids = procs.map(p => InventoryServer.start(p, procs))
  await InventoryServer.add(pids[0], 'apple', 10)`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean' },
    'log-level': { type: 'string' },
    name: { type: 'string' },
    port: { type: 'string' },
    join: { type: 'string', multiple: true, default: [] },
    cookie: { type: 'string' },
    cluster: { type: 'string' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const clusterSize = values.cluster === undefined ? 0 : Number(values.cluster);
if (values.cluster !== undefined && !(Number.isInteger(clusterSize) && clusterSize >= 1)) {
  console.error(`--cluster needs a number of nodes >= 1, got '${values.cluster}'`);
  process.exit(2);
}

// Short human-readable log lines in the session (crash reports, supervisor restarts).
useShortLogs('warn', values['log-level'] ?? process.env.LOG_LEVEL ?? 'warn');

function h(name?: unknown): void {
  if (name === undefined) {
    console.log(
      `Preloaded: ${Object.keys(HELP).sort().join(', ')}\nh(name) explains one, e.g. h(receive) or h('Supervisor').`,
    );
    return;
  }
  const key =
    typeof name === 'string' ? name : Object.entries(context).find(([, v]) => v === name)?.[0];
  console.log(
    key && HELP[key] ? HELP[key] : `no help for ${String(name)}; h() lists the preloaded names`,
  );
}

const context: Record<string, unknown> = {
  ...runtime,
  Node,
  spawnOn,
  Faults,
  Paxos,
  BEB,
  InventoryServer,
  SeatReserve,
  h,
  metrics: async () => {
    console.log(await metricsSummary());
  },
};

let cluster: LocalCluster | undefined;
if (values.name !== undefined || clusterSize > 0) {
  try {
    // A local cluster shares a fresh cookie with its nodes unless one is given.
    const cookie =
      values.cookie ??
      (clusterSize > 0 && !process.env.ACTORCLUSTER_COOKIE
        ? randomBytes(16).toString('hex')
        : undefined);
    await Node.start({
      name: values.name ?? 'repl',
      port: values.port === undefined ? 0 : Number(values.port),
      cookie,
    });
    for (const peer of values.join) {
      if (!(await Node.connect(peer))) console.error(`could not join ${peer}`);
    }
    if (clusterSize > 0) {
      const names = Array.from({ length: clusterSize }, (_, i) => `p${i + 1}`);
      console.log(`starting nodes ${names.join(', ')} ...`);
      cluster = await LocalCluster.start({
        names,
        cookie: cookie ?? process.env.ACTORCLUSTER_COOKIE ?? '',
      });
      Object.assign(context, {
        cluster,
        procs: names,
        pids: cluster.pids('inventory'),
        srs: cluster.pids('seats'),
      });
    }
  } catch (err) {
    console.error(`cannot start the node: ${(err as Error).message}`);
    process.exit(1);
  }
} else if (values.join.length > 0) {
  console.error('--join needs --name (a session joins a cluster as a named node)');
  process.exit(2);
}

const TRY_LOCAL = `Try:  procs = ['p1', 'p2', 'p3']; pids = procs.map(p => InventoryServer.start(p, procs))
      await InventoryServer.add(pids[0], 'apple', 10)
      pid = spawn(async () => { const m = await receive(); send(m.from, { pong: m.n }) })
      send(pid, { from: self(), n: 1 }); await receive()`;
const TRY_CLUSTER = `Replicas run on nodes ${(context.procs as string[] | undefined)?.join(', ')}: procs, pids (inventory) and srs (seats) are set.
Try:  await InventoryServer.add(pids[0], 'apple', 10); await InventoryServer.view(pids[2])
      await cluster.killNode('p1'); await InventoryServer.view(pids[1])
      await cluster.startNode('p1'); pids = cluster.pids()`;
console.log(`actorcluster REPL on node ${runtime.nodeName()}: this prompt is the process ${runtime.self()}.${
  values.name === undefined && !cluster
    ? ''
    : `\nConnected nodes: ${Node.list().join(', ') || 'none yet'}`
}
Preloaded: the process runtime, Node, Paxos, BEB, InventoryServer, SeatReserve.
${cluster ? TRY_CLUSTER : TRY_LOCAL}
h() lists every preloaded name, h(name) explains one; .exit or Ctrl-D leaves.`);

// useGlobal: the session shares this realm, so instanceof checks on its values work.
const server = repl.start({ prompt: 'actorcluster> ', useGlobal: true });
Object.assign(server.context, context);
server.on('exit', () => {
  void (async () => {
    await cluster?.stop();
    await Node.stop();
    process.exit(0);
  })();
});
