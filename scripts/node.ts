// `npm run node -- --name p2 --port 4002 --join p1@127.0.0.1:4001`: a named node that stays up.
// Logs with pino to stderr; prints `node <full name> is up` on stdout; exits cleanly on SIGTERM.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { logger } from '../actors/log.ts';
import { Node, registerModule } from '../transport/index.ts';
import { cli } from './support/cli.ts';
import {
  joinMembers,
  NODE_ADDRESS_OPTIONS,
  NODE_ADDRESS_USAGE,
  nodeAddress,
} from './support/node-args.ts';
import { startObserver } from './support/observer.ts';

const HELP = `Usage: npm run node -- --name NAME [options]

Starts a node of the cluster in this process and keeps it up until SIGTERM or Ctrl-C.

Options:
  --name NAME          short node name, unique in the cluster (required)
${NODE_ADDRESS_USAGE}
  --cookie C           cluster cookie (default: ACTORCLUSTER_COOKIE or ~/.actorcluster.cookie)
  --load NAME=PATH     load a module whose functions other nodes may spawnOn as NAME.fn (repeatable)
  --heartbeat-ms N     ping idle links every N ms (default 1000)
  --down-after-ms N    declare a silent peer down after N ms (default 4000)
  --metrics-port N     serve Prometheus metrics at http://127.0.0.1:N/metrics (0: any free
                       port; off unless given); prints 'metrics on URL'
  --exit-with-parent   exit when standard input closes (used by the launcher)
  --help               this text

Environment: LOG_LEVEL (default info).`;

const args = cli({
  usage: HELP,
  options: {
    name: { type: 'string' },
    ...NODE_ADDRESS_OPTIONS,
    cookie: { type: 'string' },
    load: { type: 'string', multiple: true, default: [] },
    'heartbeat-ms': { type: 'string' },
    'down-after-ms': { type: 'string' },
    'exit-with-parent': { type: 'boolean' },
    'metrics-port': { type: 'string' },
  },
});
const { values } = args;
const nodeName = values.name || args.fail('--name is required');
const address = nodeAddress(args, nodeName);
const heartbeatIntervalMs = args.number('heartbeat-ms', { above: 0 });
const nodeDownAfterMs = args.number('down-after-ms', { above: 0 });
const metricsPort = args.port('metrics-port');
for (const spec of values.load) {
  if (spec.indexOf('=') <= 0) args.fail(`--load expects NAME=PATH, got '${spec}'`);
}

// Before the node starts, and so before it says it is up: a SIGTERM right after that line must
// find the handler (without it, the default action kills the process, links left unclosed).
let stopping = false;
const shutdown = async (why: string) => {
  if (stopping) return;
  stopping = true;
  logger().info({ why }, 'node stopping');
  await Node.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  for (const spec of values.load) {
    const eq = spec.indexOf('=');
    const mod = (await import(pathToFileURL(resolve(spec.slice(eq + 1))).href)) as Record<
      string,
      unknown
    >;
    registerModule(spec.slice(0, eq), mod);
  }
  const name = await Node.start({
    name: nodeName,
    ...address,
    cookie: values.cookie,
    heartbeatIntervalMs,
    nodeDownAfterMs,
  });
  await joinMembers(values.join);
  startObserver();
  if (metricsPort !== undefined) {
    // Loaded only when asked for: most nodes (tests, the course harness) serve no metrics.
    const { serveMetrics } = await import('./support/metrics-server.ts');
    const { url } = await serveMetrics(metricsPort);
    console.log(`metrics on ${url}`);
  }
  console.log(`node ${name} is up`);
} catch (err) {
  console.error(`node failed to start: ${(err as Error).message}`);
  process.exit(1);
}

if (values['exit-with-parent']) {
  process.stdin.on('end', () => void shutdown('parent gone'));
  process.stdin.resume();
}
// The listener keeps the process alive.
