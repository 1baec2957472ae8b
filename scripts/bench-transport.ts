// Benchmark: cross-process round trips and one-way throughput through the runtime, beside a
// bare ws + msgpackr peer measured in the same run; and the measured failure-detection times.
import { spawn as spawnChild } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pack, unpackMultiple } from 'msgpackr';
import { WebSocket } from 'ws';
import { receive, self, send, TIMEOUT, trapExit } from '../actors/index.ts';
import { launchNode, Node, spawnOn } from '../transport/index.ts';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run bench:transport -- [options]

Measures, in one run on this machine (two Node.js processes on 127.0.0.1):
  round trip   send to an echo process on another node and receive its reply, one at a time
               (p50/p99), beside a bare ws + msgpackr ping-pong; and Node.ping (the links and
               the node-level rpc without processes) to show the transport's share
  throughput   one-way messages/s to a counting process on another node, sent in bursts of
               1000 per event-loop turn, beside a bare ws + msgpackr blast with one frame per
               message and with one frame per burst
  detection    time from SIGKILL of a node to noconnection at a linked process, and from
               SIGSTOP (a silent node) to nodedown, with the default heartbeat settings
Aims: throughput >= 0.7x the bare batched blast; p50 round trip <= 1.3x the bare one.

Options:
  --pings N      round trips per measurement   (default 20000)
  --messages N   messages per throughput run   (default 300000)
  --runs R       repetitions; medians reported (default 3)
  --no-detect    skip the failure-detection measurement
  --cpu-prof-dir D  profile the peer node into D (run this script itself with
                 node --cpu-prof --cpu-prof-dir D --import tsx to profile this end too)
  --help         this text`;

const BURST = 1000;
const WARMUP_PINGS = 2000;
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

const args = cli({
  usage: HELP,
  options: {
    pings: { type: 'string', default: '20000' },
    messages: { type: 'string', default: '300000' },
    runs: { type: 'string', default: '3' },
    'no-detect': { type: 'boolean' },
    'cpu-prof-dir': { type: 'string' },
  },
});
const { values } = args;
const pings = args.int('pings', { min: 1 })!;
const messages = args.int('messages', { min: 1 })!;
const runs = args.int('runs', { min: 1 })!;

const progress = (text: string) => process.stderr.write(`  ${text}\n`);
const turn = () => new Promise((resolve) => setImmediate(resolve));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ---- the runtime side ------------------------------------------------------------------------

const cookie = randomBytes(16).toString('hex');
await Node.start({ name: 'bench', cookie });
const peer = await launchNode({
  name: 'peer',
  cookie,
  join: [Node.self()],
  load: ['Bench=scripts/bench-support/bench-fns.ts'],
  execArgv: values['cpu-prof-dir'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof-dir']] : [],
});

async function runtimeRoundTrips(count: number): Promise<number[]> {
  const echo = await spawnOn(peer.name, 'Bench.echo');
  const me = self();
  const once = async (n: number) => {
    send(echo, { from: me, n });
    await receive();
  };
  for (let i = 0; i < WARMUP_PINGS; i++) await once(i);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await once(i);
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

/** Node.ping: a round trip through the links and the node-level rpc, no processes (no nact). */
async function nodePings(count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP_PINGS + count; i++) {
    const t0 = performance.now();
    if ((await Node.ping(peer.name)) !== 'pong') throw new Error('the peer did not answer a ping');
    if (i >= WARMUP_PINGS) samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

async function runtimeThroughput(count: number): Promise<number> {
  const counter = await spawnOn(peer.name, 'Bench.counter', [count, self()]);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    send(counter, i);
    if (i % BURST === BURST - 1) await turn();
  }
  const done = await receive({ counted: count }, 120_000);
  if (done === TIMEOUT) throw new Error('the counter did not finish');
  return count / ((performance.now() - started) / 1000);
}

// ---- the bare side ---------------------------------------------------------------------------

async function startBarePeer(): Promise<{ ws: WebSocket; stop: () => void }> {
  const child = spawnChild(
    process.execPath,
    ['--import', 'tsx', here('./bench-support/bare-peer.ts')],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const m = /listening on (\d+)/.exec(chunk.toString());
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`bare peer exited with ${code}`)));
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, stop: () => child.kill('SIGKILL') };
}

function nextReply(ws: WebSocket): Promise<{ t: string; n: number }> {
  return new Promise((resolve) =>
    ws.once('message', (data) =>
      resolve((unpackMultiple(data as Buffer) as Array<{ t: string; n: number }>)[0]!),
    ),
  );
}

async function bareRoundTrips(ws: WebSocket, count: number): Promise<number[]> {
  for (let i = 0; i < WARMUP_PINGS; i++) {
    ws.send(pack({ t: 'ping', n: i }));
    await nextReply(ws);
  }
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    ws.send(pack({ t: 'ping', n: i }));
    await nextReply(ws);
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

async function bareThroughput(ws: WebSocket, count: number, batched: boolean): Promise<number> {
  const done = nextReply(ws);
  const started = performance.now();
  let burst: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = pack({ t: 'blast', n: i, last: i === count - 1 });
    if (batched) burst.push(Buffer.from(bytes));
    else ws.send(bytes);
    if (i % BURST === BURST - 1 || i === count - 1) {
      if (batched) {
        ws.send(Buffer.concat(burst));
        burst = [];
      }
      await turn();
    }
  }
  await done;
  return count / ((performance.now() - started) / 1000);
}

// ---- failure detection -----------------------------------------------------------------------

async function detection(): Promise<{ killMs: number; silentMs: number }> {
  trapExit(true);
  const victim = await launchNode({
    name: 'victim',
    cookie,
    join: [Node.self()],
    load: ['Bench=scripts/bench-support/bench-fns.ts'],
  });
  const linked = await spawnOn(victim.name, 'Bench.echo', [], { link: true });
  let t0 = performance.now();
  victim.kill('SIGKILL');
  await receive({ type: 'EXIT', from: linked }, 30_000);
  const killMs = performance.now() - t0;
  const silent = await launchNode({ name: 'silent', cookie, join: [Node.self()] });
  Node.monitor(silent.name);
  t0 = performance.now();
  silent.kill('SIGSTOP');
  await receive({ type: 'nodedown', node: silent.name }, 30_000);
  const silentMs = performance.now() - t0;
  silent.kill('SIGKILL');
  trapExit(false);
  return { killMs, silentMs };
}

// ---- run -------------------------------------------------------------------------------------

const bare = await startBarePeer();
const rows = {
  rtP50: [] as number[],
  rtP99: [] as number[],
  bareP50: [] as number[],
  bareP99: [] as number[],
  pingP50: [] as number[],
  rtTput: [] as number[],
  bareOne: [] as number[],
  bareBatch: [] as number[],
};
console.error(
  `bench:transport: ${runs} run(s), ${pings} round trips and ${messages} messages each`,
);
for (let r = 1; r <= runs; r++) {
  progress(`run ${r}/${runs}: round trips`);
  const rt = await runtimeRoundTrips(pings);
  const br = await bareRoundTrips(bare.ws, pings);
  rows.pingP50.push(percentile(await nodePings(pings), 50));
  rows.rtP50.push(percentile(rt, 50));
  rows.rtP99.push(percentile(rt, 99));
  rows.bareP50.push(percentile(br, 50));
  rows.bareP99.push(percentile(br, 99));
  progress(`run ${r}/${runs}: throughput`);
  rows.rtTput.push(await runtimeThroughput(messages));
  rows.bareOne.push(await bareThroughput(bare.ws, messages, false));
  rows.bareBatch.push(await bareThroughput(bare.ws, messages, true));
}
let detect: { killMs: number; silentMs: number } | null = null;
if (!values['no-detect']) {
  progress('failure detection');
  detect = await detection();
}
bare.stop();
// A profiled peer writes its profile on a clean exit only.
if (values['cpu-prof-dir']) await peer.stop();
else peer.kill();

const us = (x: number) => `${x.toFixed(0)} us`.padStart(10);
const perS = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`.padStart(12);
const rtP50 = median(rows.rtP50);
const bareP50 = median(rows.bareP50);
const tput = median(rows.rtTput);
const batch = median(rows.bareBatch);
console.log(`node ${process.version}, 2 processes on 127.0.0.1, medians of ${runs} run(s)`);
console.log(`round trip          p50        p99`);
console.log(`  runtime    ${us(rtP50)} ${us(median(rows.rtP99))}`);
console.log(`  bare ws    ${us(bareP50)} ${us(median(rows.bareP99))}`);
console.log(`  Node.ping  ${us(median(rows.pingP50))}            (links + node rpc, no processes)`);
const range = (xs: number[]) =>
  `runs: ${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}`;
const rtRatios = rows.rtP50.map((x, i) => x / rows.bareP50[i]!);
const tputRatios = rows.rtTput.map((x, i) => x / rows.bareBatch[i]!);
console.log(`  ratio p50  ${(rtP50 / bareP50).toFixed(2)}x (aim <= 1.3x; ${range(rtRatios)})`);
console.log(`one-way throughput (bursts of ${BURST} per event-loop turn)`);
console.log(`  runtime                 ${perS(tput)}`);
console.log(`  bare, frame per message ${perS(median(rows.bareOne))}`);
console.log(`  bare, frame per burst   ${perS(batch)}`);
console.log(
  `  ratio vs bare batched   ${(tput / batch).toFixed(2)}x (aim >= 0.7x; ${range(tputRatios)})`,
);
console.log(`  ratio vs bare, one frame per message ${(tput / median(rows.bareOne)).toFixed(2)}x`);
if (detect) {
  console.log(`failure detection (defaults: heartbeat 1000 ms, down after 4000 ms)`);
  console.log(`  SIGKILL -> noconnection at a linked process   ${detect.killMs.toFixed(0)} ms`);
  console.log(`  SIGSTOP (silent node) -> nodedown             ${detect.silentMs.toFixed(0)} ms`);
}
await Node.stop();
process.exit(0);
