// Issue 13 (h): two links between the same two nodes race; one is kept, the other (the spare)
// is closed. Whatever either side sent must arrive exactly once and in order, or the sender must
// get a nodedown: nothing may be lost on the spare silently.
//
// 1. A stale link: this node's link to b fails (its queue overflows while b is stopped) and it
//    redials while b, working through its backlog, still holds the old link. b kept the old link
//    and closed the new one as a "duplicate", after this node had written on it: lost, and no
//    nodedown here.
// 2. First contact: fresh pairs of nodes dial each other at (nearly) the same instant, both
//    sending. The handshake settles the winner before anything is written: nothing is lost.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { receive, self, send, TIMEOUT } from '../../actors/index.ts';
import { Node, spawnOn } from '../../transport/index.ts';
import { NODE_START_TIMEOUT_MS, scaledMs } from '../../transport/timeouts.ts';
import { waitUntil } from '../helpers.ts';
import { COOKIE, launch } from './cluster-helpers.ts';

const PEER_SCRIPT = fileURLToPath(new URL('./race-peer.ts', import.meta.url));
const children = new Set<ChildProcess>();

afterAll(async () => {
  const exits = [...children].map(
    (c) =>
      new Promise<void>((resolve) =>
        c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
      ),
  );
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(exits);
});

interface Report {
  got: number[];
  events: string[];
  up: string[];
}

class Peer {
  readonly child: ChildProcess;
  name = '';
  output = '';
  private replies: Array<(r: Report) => void> = [];

  constructor(short: string, options: object) {
    this.child = spawn(process.execPath, ['--import', 'tsx', PEER_SCRIPT, short], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...process.env,
        LOG_LEVEL: process.env.RACE_LOG_LEVEL ?? 'warn',
        ACTORCLUSTER_COOKIE: COOKIE,
        RACE_NODE_OPTIONS: JSON.stringify(options),
      },
    });
    children.add(this.child);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.child.on('message', (m: { name?: string } & Report) => {
      if (m.name !== undefined) this.name = m.name;
      else this.replies.shift()?.(m);
    });
  }

  up(): Promise<void> {
    return waitUntil(
      () => this.name !== '',
      `node ${this.child.pid} to start`,
      NODE_START_TIMEOUT_MS,
    );
  }

  go(peer: string, n: number, at: number): void {
    this.child.send({ cmd: 'go', peer, n, at });
  }

  report(): Promise<Report> {
    return new Promise((resolve) => {
      this.replies.push(resolve);
      this.child.send({ cmd: 'report' });
    });
  }
}

it('a link redialled while the peer still holds the old one: all arrives in order, or nodedown', async () => {
  // Node-down by heartbeats is far away: only the overflow ends the first link.
  const slow = { heartbeatIntervalMs: 1000, nodeDownAfterMs: 120_000 };
  await Node.start({ name: 't', cookie: COOKIE, ...slow, queueBytesMax: 256 * 1024 });
  const b = await launch('b', slow);
  await spawnOn(b.name, 'Fx.collector', ['sink']);
  const idle = await spawnOn(b.name, 'Fx.idle');
  Node.monitor(b.name);
  b.kill('SIGSTOP'); // b's socket buffers fill with a backlog, then this node's queue overflows
  const payload = 'x'.repeat(1024);
  const deadline = performance.now() + scaledMs(30_000);
  let down: unknown = TIMEOUT;
  while (down === TIMEOUT && performance.now() < deadline) {
    for (let j = 0; j < 100; j++) send(idle, { j, payload });
    down = await receive({ type: 'nodedown', node: b.name }, 1);
  }
  expect(down, 'the overflow did not end the link').not.toBe(TIMEOUT);
  b.kill('SIGCONT'); // b reads its backlog (the old link's close comes last) while we redial
  Node.monitor(b.name);
  const n = 3000;
  for (let seq = 0; seq < n; seq++) {
    send(['sink', b.name], { seq });
    if (seq % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  // Settled: the sink has everything, or this node was told b went down (then loss is allowed).
  let seqs: number[] = [];
  let nodedown = false;
  await waitUntil(
    async () => {
      if ((await receive({ type: 'nodedown', node: b.name }, 0)) !== TIMEOUT) nodedown = true;
      if (nodedown) return true;
      send(['sink', b.name], { report: self() });
      const r = await receive<{ seqs: number[] }>({ by: 'sink' }, 500);
      if (r !== TIMEOUT) seqs = r.seqs;
      return seqs.length >= n;
    },
    'the sink to get every message, or a nodedown',
    scaledMs(20_000),
  ).catch(() => {});
  if (nodedown) expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
  else
    expect(
      { got: seqs.length, inOrder: seqs.every((s, i) => s === i) },
      'messages lost with no nodedown',
    ).toEqual({ got: n, inOrder: true });
}, 120_000);

const N = 200;

/** Whether `to` got all of `from`'s stream exactly once in order, or `from` was told nodedown. */
function verdict(sent: Report, received: Report): 'complete' | 'nodedown' | 'partial' {
  if (received.got.length === N && received.got.every((seq, i) => seq === i)) return 'complete';
  if (sent.events.includes('monitor:nodedown')) return 'nodedown';
  return 'partial';
}

it('fresh nodes dialling each other at once, both sending: all arrives in order, or nodedown', async () => {
  const rounds = Number(process.env.RACE_ROUNDS ?? 8);
  const failures: string[] = [];
  for (let batch = 0; batch < rounds; batch += 4) {
    const pairs = Array.from({ length: Math.min(4, rounds - batch) }, (_, k) => {
      const i = batch + k;
      return { i, a: new Peer(`a${i}`, {}), b: new Peer(`b${i}`, {}) };
    });
    await Promise.all(pairs.flatMap((p) => [p.a.up(), p.b.up()]));
    const at = performance.timeOrigin + performance.now() + 200;
    for (const { i, a, b } of pairs) {
      // b (the larger name) starts first; a follows by 0..1.5 ms: a sees b's hello around the
      // time it dials itself.
      const skewMs = (i % 16) * 0.1;
      b.go(a.name, N, at);
      a.go(b.name, N, at + skewMs);
    }
    for (const { i, a, b } of pairs) {
      let ra = await a.report();
      let rb = await b.report();
      await waitUntil(
        async () => {
          [ra, rb] = await Promise.all([a.report(), b.report()]);
          return verdict(ra, rb) !== 'partial' && verdict(rb, ra) !== 'partial';
        },
        `pair ${i} to settle`,
        scaledMs(10_000),
      ).catch(() => {});
      for (const [from, to, rf, rt] of [
        ['a', 'b', ra, rb],
        ['b', 'a', rb, ra],
      ] as const) {
        const v = verdict(rf, rt);
        if (v === 'partial') {
          const missing = N - rt.got.length;
          failures.push(
            `pair ${i}: ${from}->${to} got ${rt.got.length}/${N} (first ${rt.got.slice(0, 3).join(',')}; ${missing} lost), ${from} events [${rf.events.join(' ')}]`,
          );
        }
      }
    }
    for (const { a, b } of pairs) {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
  }
  expect(failures).toEqual([]);
}, 300_000);
