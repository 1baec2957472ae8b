// Delivery in bursts (one nact turn per burst, not per message) and call timeouts sharing one
// timer per timeout: the semantics the hot paths must keep, seen from outside the kernel.
import { afterEach, describe, expect, it } from 'vitest';
import {
  call,
  cast,
  GenServer,
  isAlive,
  kill,
  messageQueueLen,
  monitor,
  type Pid,
  processInfo,
  receive,
  resume,
  self,
  send,
  spawn,
  suspend,
  TIMEOUT,
} from '../../actors/index.ts';
import { barrier, expectReceive, resetRuntime, untilWaiting, waitUntil } from '../helpers.ts';

afterEach(resetRuntime);

/** Timers Node holds right now (a call must not leave one behind once it is settled). */
function nodeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('delivery in bursts', () => {
  it('a burst larger than one nact turn arrives whole and in order, counted at once', async () => {
    const me = self();
    const count = 10_000; // more than one delivery burst
    const taker = spawn(async () => {
      const got: unknown[] = [];
      for (let i = 0; i < count; i++) got.push(await receive());
      send(me, got);
    });
    await untilWaiting(taker, 'the taker');
    await suspend(taker);
    for (let i = 0; i < count; i++) send(taker, i);
    expect(await messageQueueLen(taker)).toBe(count); // in flight counts as queued
    await barrier(); // nact has run turns for the taker meanwhile: still all there, in order
    expect(await messageQueueLen(taker)).toBe(count);
    await resume(taker);
    const got = await expectReceive<number[]>(Array.isArray, 'the whole burst');
    expect(got).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('keeps each sender order while senders interleave', async () => {
    const me = self();
    const perSender = 3000;
    const taker = spawn(async () => {
      const got: Array<[string, number]> = [];
      for (let i = 0; i < 2 * perSender; i++) got.push((await receive()) as [string, number]);
      send(me, { got });
    });
    const sender = (tag: string) =>
      spawn(async () => {
        for (let i = 0; i < perSender; i++) {
          send(taker, [tag, i]);
          if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let the other in
        }
      });
    sender('a');
    sender('b');
    const { got } = await expectReceive<{ got: Array<[string, number]> }>(
      (m) => typeof m === 'object' && m !== null && 'got' in m,
      'every message',
    );
    for (const tag of ['a', 'b']) {
      const seq = got.filter(([t]) => t === tag).map(([, i]) => i);
      expect(seq).toEqual(Array.from({ length: perSender }, (_, i) => i));
    }
  });

  it('a DOWN comes after every message the dead process sent in its last burst', async () => {
    const me = self();
    const count = 5000;
    const pid = spawn(async () => {
      await receive((m) => m === 'go');
      for (let i = 0; i < count; i++) send(me, { n: i });
    });
    const ref = monitor(pid);
    send(pid, 'go');
    await expectReceive({ type: 'DOWN', ref }, 'the DOWN');
    // Everything it sent was in the mailbox before the DOWN was taken, in order.
    const rest: unknown[] = [];
    for (let m = await receive(null, 0); m !== TIMEOUT; m = await receive(null, 0)) rest.push(m);
    expect(rest).toEqual(Array.from({ length: count }, (_, i) => ({ n: i })));
  });
});

describe('call timeouts', () => {
  /** A server that answers nothing (each call waits for its timeout). */
  function silent(): Pid {
    return GenServer.start(
      { init: () => 0, handleCall: (_r, _f, s) => ({ noreply: true, state: s }) },
      [],
    );
  }

  it('calls with different timeouts each expire on time, the shorter first', async () => {
    const server = silent();
    const order: string[] = [];
    const started = performance.now();
    const long = call<never>(server, 'long', 200).catch((e: { code: string }) => {
      order.push('long');
      return [e.code, performance.now() - started] as const;
    });
    const short = call<never>(server, 'short', 40).catch((e: { code: string }) => {
      order.push('short');
      return [e.code, performance.now() - started] as const;
    });
    const [[longCode, longMs], [shortCode, shortMs]] = await Promise.all([long, short]);
    expect([longCode, shortCode]).toEqual(['timeout', 'timeout']);
    expect(order).toEqual(['short', 'long']);
    expect(shortMs).toBeGreaterThanOrEqual(39); // never early (timers have 1 ms grain)
    expect(longMs).toBeGreaterThanOrEqual(199);
  });

  it('a call answered out of order does not delay the expiry of an earlier one', async () => {
    const server = GenServer.start(
      {
        init: () => 0,
        handleCall: (req: unknown, _f, s: number) =>
          req === 'quick' ? { reply: 'ok', state: s } : { noreply: true, state: s },
      },
      [],
    );
    const first = call(server, 'never', 60).catch((e: { code: string }) => e.code);
    expect(await call(server, 'quick', 60)).toBe('ok');
    expect(await first).toBe('timeout');
  });

  it('settled calls leave no timer behind (nor do calls of a process that died)', async () => {
    const server = GenServer.start(
      { init: () => 0, handleCall: (_r, _f, s: number) => ({ reply: s, state: s }) },
      [],
    );
    await call(server, 'warm');
    const before = nodeTimers();
    await Promise.all(Array.from({ length: 200 }, () => call(server, 'x', 5000)));
    expect(nodeTimers()).toBe(before);
    // A caller killed while its call waits: its call goes, and the call's timer with it.
    const quiet = silent();
    const caller = spawn(() => call(quiet, 'x', 5000));
    await waitUntil(
      () => processInfo(quiet)?.messageQueueLen === 0 && nodeTimers() > before,
      'the call to wait',
    );
    kill(caller);
    await waitUntil(() => !isAlive(caller), 'the caller to die');
    expect(nodeTimers()).toBe(before);
  });
});

describe('GenServer taking queued messages without a promise each', () => {
  /** A server whose cast handler waits for `gate` when asked, and reports every cast. */
  function gated(me: Pid, gate: { open?: () => void }) {
    return GenServer.start(
      {
        init: () => 0,
        handleCast: async (req: unknown, n: number) => {
          if (req === 'hold') await new Promise<void>((r) => (gate.open = r));
          send(me, { handled: req });
          return { state: n + 1 };
        },
      },
      [],
    );
  }

  /** A gated server busy in its handler of 'hold', with 'a' cast behind it. */
  async function holding() {
    const gate: { open?: () => void } = {};
    const server = gated(self(), gate);
    cast(server, 'hold');
    await waitUntil(() => gate.open !== undefined, 'the server to hold');
    cast(server, 'a');
    return { server, open: () => gate.open!() };
  }

  it('stops taking queued messages when suspended between two of them', async () => {
    const { server, open } = await holding();
    cast(server, 'b');
    await waitUntil(async () => (await messageQueueLen(server)) === 2, 'two casts queued');
    await suspend(server);
    open();
    await expectReceive({ handled: 'hold' }, 'the held cast');
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT); // suspended: 'a' and 'b' wait
    expect(await messageQueueLen(server)).toBe(2);
    await resume(server);
    await expectReceive({ handled: 'a' }, 'a');
    await expectReceive({ handled: 'b' }, 'b');
  });

  it('takes nothing more once killed in the middle of a handler', async () => {
    const { server, open } = await holding();
    kill(server);
    open(); // the killed handler runs on (nact trap 4) but its sends are dropped
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT);
  });
});
