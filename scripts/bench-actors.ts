// Benchmark: local send throughput and call round trips of the runtime vs bare nact.
// Each workload runs in a fresh child process (no shared JIT or async-hook state), repeated.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run bench:actors -- [options]

Measures, in the same run, on this machine:
  send   messages/s from one process to another that takes them with receive()
         (and to a GenServer via cast), vs bare nact dispatch to a counting actor
  call   sequential call round trips/s to a GenServer, vs bare nact query
  call*  the same with 100 calls in flight
Each workload runs --runs times, each in its own child process after an untimed
warm-up of a fifth of the count; the median is reported.

Options:
  --messages N   messages per send run      (default 200000)
  --calls N      round trips per call run   (default 50000)
  --runs R       repetitions per workload   (default 3)
  --help         this text`;

const WORKLOADS = [
  'bare-send',
  'rt-send',
  'rt-cast',
  'bare-call',
  'rt-call',
  'bare-call-par',
  'rt-call-par',
] as const;
type Workload = (typeof WORKLOADS)[number];

const PARALLEL = 100;
/** An untimed warm-up of count / WARMUP_FRACTION operations precedes each timed run. */
const WARMUP_FRACTION = 5;

async function runChild(workload: Workload, count: number): Promise<number> {
  const start = () => performance.now();
  switch (workload) {
    case 'bare-send':
    case 'bare-call':
    case 'bare-call-par': {
      const nact = (await import('nact')).default as unknown as {
        start(): unknown;
        spawn(
          p: unknown,
          f: (s: number, m: unknown, ctx: { sender: unknown }) => unknown,
          name: string,
          props: object,
        ): unknown;
        spawnStateless(p: unknown, f: (m: { sender: unknown }) => unknown, name: string): unknown;
        dispatch(ref: unknown, msg: unknown): void;
        query(ref: unknown, f: (sender: unknown) => unknown, timeoutMs: number): Promise<unknown>;
      };
      const system = nact.start();
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
        const t0 = start();
        for (let i = 0; i < count; i++) nact.dispatch(counter, i);
        await finished;
        return count / ((performance.now() - t0) / 1000);
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
      const t0 = start();
      if (workload === 'bare-call') for (let i = 0; i < count; i++) await ask();
      else await inFlight(count, ask);
      return count / ((performance.now() - t0) / 1000);
    }
    default: {
      const rt = await import('../actors/index.ts');
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
        const t0 = start();
        for (let i = 0; i < count; i++) rt.send(receiver, i);
        await rt.receive((m) => m === 'done');
        return count / ((performance.now() - t0) / 1000);
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
        const t0 = start();
        for (let i = 0; i < count; i++) rt.cast(server, i);
        await rt.receive((m) => m === 'done');
        return count / ((performance.now() - t0) / 1000);
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
      const t0 = start();
      if (workload === 'rt-call') for (let i = 0; i < count; i++) await ask();
      else await inFlight(count, ask);
      return count / ((performance.now() - t0) / 1000);
    }
  }
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

function measure(workload: Workload, count: number, runs: number): number {
  const results: number[] = [];
  for (let r = 0; r < runs; r++) {
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
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, LOG_LEVEL: 'silent' },
      },
    );
    if (child.status !== 0) throw new Error(`${workload} failed:\n${child.stderr}`);
    results.push(Number(child.stdout.trim().split('\n').pop()));
    process.stderr.write('.');
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)]!;
}

function fmt(perSecond: number): string {
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`.padStart(14);
}

async function main(): Promise<void> {
  const args = cli({
    usage: HELP,
    options: {
      // Internal: a child process running one workload (see measure).
      child: { type: 'string' },
      count: { type: 'string' },
      messages: { type: 'string', default: '200000' },
      calls: { type: 'string', default: '50000' },
      runs: { type: 'string', default: '3' },
    },
  });
  const child = args.choice('child', WORKLOADS);
  if (child) {
    console.log(await runChild(child, args.int('count', { min: 1 }) ?? 1));
    process.exit(0);
  }
  const messages = args.int('messages', { min: 1 })!;
  const calls = args.int('calls', { min: 1 })!;
  const runs = args.int('runs', { min: 1 })!;
  process.stderr.write(`bench:actors: ${runs} run(s) per workload, each in a fresh process `);
  const rows: Array<[string, number, number]> = [
    [
      'send (receive loop)',
      measure('rt-send', messages, runs),
      measure('bare-send', messages, runs),
    ],
    [
      'send (GenServer cast)',
      measure('rt-cast', messages, runs),
      measure('bare-send', messages, runs),
    ],
    ['call, sequential', measure('rt-call', calls, runs), measure('bare-call', calls, runs)],
    [
      `call, ${PARALLEL} in flight`,
      measure('rt-call-par', calls, runs),
      measure('bare-call-par', calls, runs),
    ],
  ];
  process.stderr.write('\n');
  console.log(
    `node ${process.version}, ${messages} messages / ${calls} calls per run, median of ${runs}`,
  );
  console.log(
    `${'workload'.padEnd(24)}${'runtime'.padStart(14)}${'bare nact'.padStart(14)}   ratio (target >= 0.50)`,
  );
  for (const [label, rt, bare] of rows) {
    const ratio = rt / bare;
    console.log(
      `${label.padEnd(24)}${fmt(rt)}${fmt(bare)}   ${ratio.toFixed(2)}${ratio >= 0.5 ? '' : '  below target'}`,
    );
  }
}

await main();
