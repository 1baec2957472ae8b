// Benchmark: local send throughput, call round trips and ping-pong latency of the runtime vs
// bare nact. Each workload runs in a fresh child process (no shared JIT or async-hook state).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run bench:actors -- [options]

Measures, in the same run, on this machine:
  send   messages/s from one process to another that takes them with receive()
         (and to a GenServer via cast), vs bare nact dispatch to a counting actor
  call   sequential call round trips/s to a GenServer, vs bare nact query
  call*  the same with 100 calls in flight
  ping   two processes bouncing one message back and forth, microseconds per hop,
         vs two bare nact actors doing the same
Each row runs --runs pairs: the runtime's workload, then bare nact's, each in its own
child process after an untimed warm-up of a fifth of the count. Figures are medians;
the ratio is the median of the pairs' ratios (the two halves of a pair see about the
same machine load), with its range. Targets are ratios to bare nact, never asserted.

Options:
  --messages N   messages per send run      (default 200000)
  --calls N      round trips per call run   (default 50000)
  --hops N       hops per ping-pong run     (default 100000)
  --runs R       pairs per workload         (default 5)
  --clock C      wall (default) or cpu: time the runs by this process's CPU time
                 instead, steadier when other jobs share the machine
  --help         this text`;

const WORKLOADS = [
  'bare-send',
  'rt-send',
  'rt-cast',
  'bare-call',
  'rt-call',
  'bare-call-par',
  'rt-call-par',
  'bare-ping',
  'rt-ping',
] as const;
type Workload = (typeof WORKLOADS)[number];

const PARALLEL = 100;
/** An untimed warm-up of count / WARMUP_FRACTION operations precedes each timed run. */
const WARMUP_FRACTION = 5;

/** The clock timed sections read, in ms: wall time, or this process's CPU time (--clock cpu). */
let now = (): number => performance.now();
function cpuNowMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function runChild(workload: Workload, count: number): Promise<number> {
  switch (workload) {
    case 'bare-send':
    case 'bare-call':
    case 'bare-call-par':
    case 'bare-ping': {
      const nact = (await import('nact')).default as unknown as Nact & {
        start(): unknown;
        spawnStateless(p: unknown, f: (m: { sender: unknown }) => unknown, name: string): unknown;
        query(ref: unknown, f: (sender: unknown) => unknown, timeoutMs: number): Promise<unknown>;
      };
      const system = nact.start();
      if (workload === 'bare-ping') return barePing(nact, system, count);
      if (workload === 'bare-send') {
        let done!: () => void;
        const finished = new Promise<void>((r) => {
          done = r;
        });
        const warmup = Math.ceil(count / WARMUP_FRACTION);
        const total = warmup + count;
        let warmed!: () => void;
        const warm = new Promise<void>((r) => {
          warmed = r;
        });
        const counter = nact.spawn(
          system,
          (n) => {
            if (n + 1 === warmup) warmed();
            if (n + 1 === total) done();
            return n + 1;
          },
          'counter',
          { initialState: 0 },
        );
        for (let i = 0; i < warmup; i++) nact.dispatch(counter, i);
        await warm;
        const t0 = now();
        for (let i = 0; i < count; i++) nact.dispatch(counter, i);
        await finished;
        return count / ((now() - t0) / 1000);
      }
      const echo = nact.spawn(
        system,
        (s, msg) => {
          nact.dispatch((msg as { sender: unknown }).sender, 'pong');
          return s;
        },
        'echo',
        { initialState: 0 },
      );
      const ask = () => nact.query(echo, (sender) => ({ sender }), 5000);
      await inFlight(Math.ceil(count / WARMUP_FRACTION), ask); // warm the JIT up, untimed
      const t0 = now();
      if (workload === 'bare-call') for (let i = 0; i < count; i++) await ask();
      else await inFlight(count, ask);
      return count / ((now() - t0) / 1000);
    }
    default: {
      const rt = await import('../actors/index.ts');
      if (workload === 'rt-ping') return rtPing(rt, count);
      if (workload === 'rt-send') {
        const me = rt.self();
        const warmup = Math.ceil(count / WARMUP_FRACTION);
        const receiver = rt.spawn(async () => {
          for (let i = 0; i < warmup; i++) await rt.receive();
          rt.send(me, 'warm');
          for (let i = 0; i < count; i++) await rt.receive();
          rt.send(me, 'done');
        });
        for (let i = 0; i < warmup; i++) rt.send(receiver, i);
        await rt.receive((m) => m === 'warm');
        const t0 = now();
        for (let i = 0; i < count; i++) rt.send(receiver, i);
        await rt.receive((m) => m === 'done');
        return count / ((now() - t0) / 1000);
      }
      if (workload === 'rt-cast') {
        const me = rt.self();
        const warmup = Math.ceil(count / WARMUP_FRACTION);
        const server = rt.GenServer.start(
          {
            init: () => 0,
            handleCast: (_req: unknown, n: number) => {
              if (n + 1 === warmup) rt.send(me, 'warm');
              if (n + 1 === warmup + count) rt.send(me, 'done');
              return { state: n + 1 };
            },
          },
          [],
        );
        for (let i = 0; i < warmup; i++) rt.cast(server, i);
        await rt.receive((m) => m === 'warm');
        const t0 = now();
        for (let i = 0; i < count; i++) rt.cast(server, i);
        await rt.receive((m) => m === 'done');
        return count / ((now() - t0) / 1000);
      }
      const server = rt.GenServer.start(
        {
          init: () => 0,
          handleCall: (_r: unknown, _f: unknown, s: number) => ({ reply: 'pong', state: s }),
        },
        [],
      );
      const ask = () => rt.call(server, 'ping');
      await inFlight(Math.ceil(count / WARMUP_FRACTION), ask); // warm the JIT up, untimed
      const t0 = now();
      if (workload === 'rt-call') for (let i = 0; i < count; i++) await ask();
      else await inFlight(count, ask);
      return count / ((now() - t0) / 1000);
    }
  }
}

/** The part of nact's API the bare workloads use. */
type Nact = {
  spawn(
    p: unknown,
    f: (s: number, m: unknown, ctx: { sender: unknown }) => unknown,
    name: string,
    props: object,
  ): unknown;
  dispatch(ref: unknown, msg: unknown): void;
};

/** Two bare nact actors bounce a counter `count` times (after a warm-up); microseconds per hop. */
async function barePing(nact: Nact, system: unknown, count: number): Promise<number> {
  let finish!: () => void;
  let target = 0;
  const peers: unknown[] = [];
  const bounce = (self: number) => (s: number, msg: unknown) => {
    const n = msg as number;
    if (n >= target) finish();
    else nact.dispatch(peers[1 - self], n + 1);
    return s;
  };
  peers.push(nact.spawn(system, bounce(0), 'ping', { initialState: 0 }));
  peers.push(nact.spawn(system, bounce(1), 'pong', { initialState: 0 }));
  const bout = (hops: number) =>
    new Promise<void>((resolve) => {
      finish = resolve;
      target = hops;
      nact.dispatch(peers[0], 0);
    });
  await bout(Math.ceil(count / WARMUP_FRACTION));
  const t0 = now();
  await bout(count);
  return ((now() - t0) * 1000) / count;
}

/** Two runtime processes bounce a counter `count` times (after a warm-up); microseconds per hop. */
async function rtPing(rt: typeof import('../actors/index.ts'), count: number): Promise<number> {
  const me = rt.self();
  let target = 0;
  const player = async (): Promise<void> => {
    const peer = (await rt.receive()) as import('../actors/index.ts').Pid;
    for (;;) {
      const msg = await rt.receive();
      if (msg === 'stop') return;
      const n = msg as number;
      if (n >= target) rt.send(me, 'done');
      else rt.send(peer, n + 1);
    }
  };
  const a = rt.spawn(player);
  const b = rt.spawn(player);
  rt.send(a, b);
  rt.send(b, a);
  const bout = async (hops: number) => {
    target = hops;
    rt.send(a, 0);
    await rt.receive((m) => m === 'done');
  };
  await bout(Math.ceil(count / WARMUP_FRACTION));
  const t0 = now();
  await bout(count);
  const perHopUs = ((now() - t0) * 1000) / count;
  rt.send(a, 'stop');
  rt.send(b, 'stop');
  return perHopUs;
}

async function inFlight(count: number, op: () => Promise<unknown>): Promise<void> {
  let issued = 0;
  const lane = async () => {
    while (issued < count) {
      issued++;
      await op();
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, lane));
}

interface Pair {
  /** Medians of the runtime's and bare nact's runs. */
  rt: number;
  bare: number;
  /** Median and range of the per-pair ratios runtime / bare. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
}

/**
 * Runs the runtime's workload and bare nact's alternately, `runs` pairs, each in a fresh child:
 * both halves of a pair see about the same machine load, so the pair's ratio is fair even
 * when other jobs come and go.
 */
function measurePair(
  rt: Workload,
  bare: Workload,
  count: number,
  runs: number,
  clock: string,
): Pair {
  const rts: number[] = [];
  const bares: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < runs; r++) {
    const a = runOnce(rt, count, clock);
    const b = runOnce(bare, count, clock);
    rts.push(a);
    bares.push(b);
    ratios.push(a / b);
  }
  return {
    rt: median(rts),
    bare: median(bares),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}

function runOnce(workload: Workload, count: number, clock: string): number {
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      workload,
      '--count',
      String(count),
      '--clock',
      clock,
    ],
    { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } },
  );
  if (child.status !== 0) throw new Error(`${workload} failed:\n${child.stderr}`);
  process.stderr.write('.');
  return Number(child.stdout.trim().split('\n').pop());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

async function main(): Promise<void> {
  const args = cli({
    usage: HELP,
    options: {
      // Internal: a child process running one workload (see runOnce).
      child: { type: 'string' },
      count: { type: 'string' },
      messages: { type: 'string', default: '200000' },
      calls: { type: 'string', default: '50000' },
      hops: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '5' },
      clock: { type: 'string', default: 'wall' },
    },
  });
  const clock = args.choice('clock', ['wall', 'cpu'] as const) ?? 'wall';
  const child = args.choice('child', WORKLOADS);
  if (child) {
    if (clock === 'cpu') now = cpuNowMs;
    console.log(await runChild(child, args.int('count', { min: 1 }) ?? 1));
    process.exit(0);
  }
  const messages = args.int('messages', { min: 1 })!;
  const calls = args.int('calls', { min: 1 })!;
  const hops = args.int('hops', { min: 1 })!;
  const runs = args.int('runs', { min: 1 })!;
  process.stderr.write(`bench:actors: ${runs} pair(s) per workload, each run in a fresh process `);
  const rows: Row[] = [
    row('send (receive loop)', measurePair('rt-send', 'bare-send', messages, runs, clock), 1.0),
    row('send (GenServer cast)', measurePair('rt-cast', 'bare-send', messages, runs, clock), 1.0),
    row('call, sequential', measurePair('rt-call', 'bare-call', calls, runs, clock), 0.5),
    row(
      `call, ${PARALLEL} in flight`,
      measurePair('rt-call-par', 'bare-call-par', calls, runs, clock),
      0.8,
    ),
    row('ping-pong, per hop', measurePair('rt-ping', 'bare-ping', hops, runs, clock), 1.5, 'us'),
  ];
  process.stderr.write('\n');
  console.log(
    `node ${process.version}, ${clock} clock, ${messages} messages / ${calls} calls / ${hops} hops per run`,
  );
  console.log(
    `median of ${runs} pairs (runtime then bare nact, back to back); ratio = median of the pairs' ratios [min-max]`,
  );
  console.log(
    `${'workload'.padEnd(24)}${'runtime'.padStart(14)}${'bare nact'.padStart(14)}   ${'ratio'.padEnd(18)}target`,
  );
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(24)}${r.rt.padStart(14)}${r.bare.padStart(14)}   ${r.ratio.padEnd(18)}${r.target}${r.met ? '' : '  missed'}`,
    );
  }
}

interface Row {
  label: string;
  rt: string;
  bare: string;
  ratio: string;
  target: string;
  met: boolean;
}

/**
 * A table row. Throughput rows (per second, more is better) must reach ratio >= `bound`;
 * latency rows (`unit` 'us', less is better) must stay at ratio <= `bound`.
 */
function row(label: string, pair: Pair, bound: number, unit: '/s' | 'us' = '/s'): Row {
  const show = (v: number) => (unit === 'us' ? `${v.toFixed(2)} us` : fmt(v));
  const spread = `[${pair.ratioMin.toFixed(2)}-${pair.ratioMax.toFixed(2)}]`;
  return {
    label,
    rt: show(pair.rt),
    bare: show(pair.bare),
    ratio: `${pair.ratio.toFixed(2)} ${spread}`,
    target: `${unit === 'us' ? '<=' : '>='} ${bound.toFixed(2)}`,
    met: unit === 'us' ? pair.ratio <= bound : pair.ratio >= bound,
  };
}

await main();
