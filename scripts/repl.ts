// `npm start`: a Node REPL that is itself a process (self(), send, await receive(), flush()).
// The runtime and the services are preloaded; h() lists what is there and h(name) explains it.
// `npm start -- --cluster 3` runs the service replicas in three node processes instead.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import repl from 'node:repl';
import { PassThrough, Transform } from 'node:stream';
import { inspect } from 'node:util';
import * as runtime from '../actors/index.ts';
import { BEB } from '../apps/beb/index.ts';
import { EPaxos } from '../apps/epaxos/index.ts';
import { InventoryServer } from '../apps/inventory/index.ts';
import { Paxos } from '../apps/paxos/index.ts';
import { SeatReserve } from '../apps/seats/index.ts';
import { Faults, Node, spawnOn } from '../transport/index.ts';
import { HELP } from './repl-help.ts';
import { cli } from './support/cli.ts';
import { LocalCluster } from './support/local-cluster.ts';
import { metricsSummary } from './support/metrics-server.ts';
import {
  joinMembers,
  NODE_ADDRESS_OPTIONS,
  NODE_ADDRESS_USAGE,
  nodeAddress,
} from './support/node-args.ts';
import { useShortLogs } from './support/short-log.ts';

const USAGE = `Usage: npm start [-- options]

An interactive session where the prompt is an Elixir-style process.
  --name NAME          make this session a node of a cluster (see npm run node -- --help)
${NODE_ADDRESS_USAGE}
  --cookie C           cluster cookie (default: ACTORCLUSTER_COOKIE or ~/.actorcluster.cookie)
  --cluster N          start N (1..16) node processes p1..pN, each running an inventory and a seat
                       replica (durable, in a temp dir), with this session as a node of that
                       cluster; procs, pids (inventory) and srs (seats) are predefined
  --protocol P         with --cluster: paxos (Multi-Paxos, default) or epaxos (the replicas
                       order operations with EPaxos: leaderless, by item or seat)
  --log-level LEVEL    runtime log level shown in the session (default: warn)
  --help               this text

Without --cluster the replicas you start run inside this session:
  procs = ['p1', 'p2', 'p3']; pids = procs.map(p => InventoryServer.start(p, procs))
  await InventoryServer.add(pids[0], 'apple', 10)`;

const args = cli({
  usage: USAGE,
  options: {
    'log-level': { type: 'string' },
    name: { type: 'string' },
    ...NODE_ADDRESS_OPTIONS,
    cookie: { type: 'string' },
    cluster: { type: 'string' },
    protocol: { type: 'string' },
  },
});
const { values } = args;
const clusterSize = args.int('cluster', { min: 1, max: 16 }) ?? 0;
const protocol = args.choice('protocol', ['paxos', 'epaxos'] as const);
if (protocol !== undefined && clusterSize === 0)
  args.fail('--protocol goes with --cluster (in a session, say it to start: { protocol })');
if (values.join.length > 0 && values.name === undefined)
  args.fail('--join needs --name (a session joins a cluster as a named node)');

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
  EPaxos,
  BEB,
  InventoryServer,
  SeatReserve,
  h,
  // Elixir's Process module names, so the seeds' sessions work as typed.
  Process: {
    exit: runtime.exit,
    send: runtime.send,
    sleep: runtime.sleep,
    monitor: runtime.monitor,
    demonitor: runtime.demonitor,
    link: runtime.link,
    unlink: runtime.unlink,
    register: runtime.register,
    unregister: runtime.unregister,
    whereis: runtime.whereis,
    alive: runtime.isAlive,
    list: runtime.processes,
    info: runtime.processInfo,
  },
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
    const name = values.name ?? 'repl';
    await Node.start({ name, ...nodeAddress(args, name), cookie });
    await joinMembers(values.join); // a member not reached is logged
    if (clusterSize > 0) {
      const names = Array.from({ length: clusterSize }, (_, i) => `p${i + 1}`);
      console.log(`starting nodes ${names.join(', ')} ...`);
      cluster = await LocalCluster.start({
        names,
        cookie: cookie ?? process.env.ACTORCLUSTER_COOKIE ?? '',
        replicaOptions: { protocol: protocol ?? 'paxos' },
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
Preloaded: the process runtime, Node, Paxos, EPaxos, BEB, InventoryServer, SeatReserve.
${cluster ? TRY_CLUSTER : TRY_LOCAL}
h() lists every preloaded name, h(name) explains one; .exit or Ctrl-D leaves.`);

// Errors read like iex: one line with the code (or the error's name) and the message; the whole
// error with its stack is there on demand through lastError().
let lastErr: unknown;
const ERROR_MARK = '\u0001iex-error\u0001';
function writer(value: unknown): string {
  if (value instanceof Error) {
    lastErr = value;
    const code = (value as { code?: unknown }).code;
    return `${ERROR_MARK}** (${typeof code === 'string' ? code : value.name}) ${value.message}`;
  }
  return inspect(value, { colors: Boolean(process.stdout.isTTY), depth: 4 });
}
Object.assign(context, {
  lastError: () => {
    if (lastErr === undefined) console.log('no error yet');
    else console.log(inspect(lastErr, { colors: Boolean(process.stdout.isTTY) }));
  },
});
// The REPL prefixes thrown values with 'Uncaught '; iex does not.
const output = new Transform({
  transform(chunk: Buffer, _enc, done) {
    done(
      null,
      chunk.toString().replaceAll(`Uncaught ${ERROR_MARK}`, '').replaceAll(ERROR_MARK, ''),
    );
  },
});
Object.assign(output, { isTTY: process.stdout.isTTY, columns: process.stdout.columns });
output.pipe(process.stdout);

// A session fed from a pipe or a file (`npm start < session.txt`) runs each line after the
// previous one has finished, as iex does: the lines are handed to the REPL one at a time, the
// next one when the prompt is back. A terminal goes to the REPL directly.
const piped = !process.stdin.isTTY;
const input = piped ? new PassThrough() : process.stdin;

// useGlobal: the session shares this realm, so instanceof checks on its values work.
const server = repl.start({
  prompt: 'actorcluster> ',
  useGlobal: true,
  input,
  output,
  terminal: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  writer,
});
Object.assign(server.context, context);

if (piped) {
  let prompted: () => void = () => {};
  const displayPrompt = server.displayPrompt.bind(server);
  server.displayPrompt = (preserveCursor?: boolean) => {
    displayPrompt(preserveCursor);
    prompted();
  };
  void (async () => {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const done = new Promise<void>((resolve) => {
        prompted = resolve;
      });
      (input as PassThrough).write(`${line}\n`);
      await done;
    }
    (input as PassThrough).end();
  })();
}

server.on('exit', () => {
  void (async () => {
    await cluster?.stop();
    await Node.stop();
    process.exit(0);
  })();
});
