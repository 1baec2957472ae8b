// `npm start`: a Node REPL that is itself a process (self(), send, await receive(), flush()).
// The runtime is preloaded; h() lists what is there and h(name) explains it.
import repl from 'node:repl';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import * as runtime from '../actors/index.ts';
import { Faults, Node, spawnOn } from '../transport/index.ts';
import { HELP } from './repl-help.ts';

const USAGE = `Usage: npm start [-- options]

An interactive session where the prompt is an Elixir-style process.
  --name NAME         make this session a node of a cluster (see npm run node -- --help)
  --port N            port for the node to listen on (default 0: any free port)
  --join NODE         full name of a node to connect to (repeatable)
  --cookie C          cluster cookie (default: ACTORCLUSTER_COOKIE or ~/.actorcluster.cookie)
  --log-level LEVEL   runtime log level shown in the session (default: warn)
  --help              this text`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean' },
    'log-level': { type: 'string' },
    name: { type: 'string' },
    port: { type: 'string' },
    join: { type: 'string', multiple: true, default: [] },
    cookie: { type: 'string' },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

// Short human-readable log lines in the session (crash reports, supervisor restarts).
runtime.setLogger(
  pino(
    { level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'warn', base: undefined },
    {
      write(line: string) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        const level = pino.levels.labels[entry.level as number] ?? String(entry.level);
        const { msg, level: _l, time: _t, err: _e, ...fields } = entry;
        const detail = Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        process.stderr.write(`[${level}] ${String(msg)} ${detail}\n`);
      },
    },
  ),
);

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

const context: Record<string, unknown> = { ...runtime, Node, spawnOn, Faults, h };

if (values.name !== undefined) {
  try {
    await Node.start({
      name: values.name,
      port: values.port === undefined ? 0 : Number(values.port),
      cookie: values.cookie,
    });
    for (const peer of values.join) {
      if (!(await Node.connect(peer))) console.error(`could not join ${peer}`);
    }
  } catch (err) {
    console.error(`cannot start the node: ${(err as Error).message}`);
    process.exit(1);
  }
} else if (values.join.length > 0) {
  console.error('--join needs --name (a session joins a cluster as a named node)');
  process.exit(2);
}

console.log(`actorcluster REPL on node ${runtime.nodeName()}: this prompt is the process ${runtime.self()}.${
  values.name === undefined ? '' : `\nConnected nodes: ${Node.list().join(', ') || 'none yet'}`
}
Try:  pid = spawn(async () => { const m = await receive(); send(m.from, { pong: m.n }) })
      send(pid, { from: self(), n: 1 }); await receive()
h() lists every preloaded name; .exit or Ctrl-D leaves.`);

// useGlobal: the session shares this realm, so instanceof checks on its values work.
const server = repl.start({ prompt: 'actorcluster> ', useGlobal: true });
Object.assign(server.context, context);
server.on('exit', () => {
  void Node.stop().then(() => process.exit(0));
});
