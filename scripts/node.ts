// `npm run node -- --name p2 --port 4002 --join p1@127.0.0.1:4001`: a named node that stays up.
// Logs with pino to stderr; prints `node <full name> is up` on stdout; exits cleanly on SIGTERM.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { logger } from '../actors/log.ts';
import { Node, registerModule } from '../transport/index.ts';
import { isFullName } from '../transport/names.ts';
import { loadTls } from '../transport/tls.ts';
import { cli } from './support/cli.ts';
import { startObserver } from './support/observer.ts';

const HELP = `Usage: npm run node -- --name NAME [options]

Starts a node of the cluster in this process and keeps it up until SIGTERM or Ctrl-C.

Options:
  --name NAME          short node name, unique in the cluster (required)
  --port N             port to listen on (default 0: any free port)
  --host H             interface to listen on (default 127.0.0.1)
  --listen H:P         interface and port together, e.g. 0.0.0.0:4000 (instead of --host, --port)
  --advertise H[:P]    the address peers dial, part of the node's name NAME@H:P (default: the
                       listening address; required with 0.0.0.0 or ::)
  --tls DIR            wss:// with mutual TLS: DIR holds ca.crt, NAME.crt, NAME.key (make them
                       with npm run certs); every node of the cluster must use it
  --insecure-plain     allow listening beyond loopback without TLS (plain ws://, only the cookie
                       protects it; a warning is logged). Without --tls or this, a listen beyond
                       127.0.0.1 is refused
  --join NODE          a member to join (repeatable): its full name, e.g. p1@127.0.0.1:4001, or
                       its address, e.g. 10.1.0.2:4000 (linked nodes tell each other every node
                       they know: one member is enough to reach them all)
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
    port: { type: 'string', default: '0' },
    host: { type: 'string' },
    listen: { type: 'string' },
    advertise: { type: 'string' },
    tls: { type: 'string' },
    'insecure-plain': { type: 'boolean' },
    join: { type: 'string', multiple: true, default: [] },
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
let port = args.port('port');
let host = values.host;
if (values.listen !== undefined) {
  if (values.host !== undefined || values.port !== '0')
    args.fail('--listen gives the host and port: not with --host or --port');
  const m =
    /^(.+):(\d{1,5})$/.exec(values.listen) ??
    args.fail(`--listen expects HOST:PORT, e.g. 0.0.0.0:4000, got '${values.listen}'`);
  if (Number(m[2]) > 65535) args.fail(`--listen: port ${m[2]} is above 65535`);
  host = m[1]!.replace(/^\[|\]$/g, '');
  port = Number(m[2]);
}
const heartbeatIntervalMs = args.number('heartbeat-ms', { above: 0 });
const nodeDownAfterMs = args.number('down-after-ms', { above: 0 });
const metricsPort = args.port('metrics-port');
for (const spec of values.load) {
  if (spec.indexOf('=') <= 0) args.fail(`--load expects NAME=PATH, got '${spec}'`);
}

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
    port,
    host,
    advertise: values.advertise,
    tls: values.tls === undefined ? undefined : loadTls(values.tls, nodeName),
    insecure: values['insecure-plain'] === true,
    cookie: values.cookie,
    heartbeatIntervalMs,
    nodeDownAfterMs,
  });
  for (const peer of values.join) {
    if (isFullName(peer)) {
      if (!(await Node.connect(peer))) logger().warn({ peer }, `could not join ${peer}`);
      continue;
    }
    try {
      const member = await Node.join(peer);
      logger().info({ peer, member }, `joined the cluster through ${member}`);
    } catch (err) {
      logger().warn({ peer }, `could not join ${peer}: ${(err as Error).message}`);
    }
  }
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
if (values['exit-with-parent']) {
  process.stdin.on('end', () => void shutdown('parent gone'));
  process.stdin.resume();
}
// The listener keeps the process alive.
