// Failure detection and fault injection with real node processes: SIGKILL, a silent (stopped)
// peer, a restart on the same port; partition/heal, delay, drop and duplicate.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, type Pid, receive, self, send, TIMEOUT, trapExit } from '../../actors/index.ts';
import { Faults, type LaunchedNode, Node, spawnOn } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { WAIT_MS } from '../helpers.ts';
import { DOWN_AFTER_MS, expectMessage, launch, startWithPeers } from './cluster-helpers.ts';

let b: LaunchedNode;
let c: LaunchedNode;

beforeAll(async () => {
  [b, c] = await startWithPeers('b', 'c');
});

/** Asks `relay` (on some node) to send `{ from: me, msg }` to `echo`; resolves to whether the echo came back. */
async function roundTrip(relay: Pid, echo: Pid, msg: unknown, timeoutMs: number): Promise<boolean> {
  send(relay, { to: echo, msg: { from: self(), msg } });
  const got = await receive(
    (m) => typeof m === 'object' && m !== null && (m as { echo?: unknown }).echo === msg,
    timeoutMs,
  );
  return got !== TIMEOUT;
}

describe('failure detection', () => {
  it('SIGKILL of a node: linked processes get noconnection, monitors DOWN, node monitors nodedown', async () => {
    const d = await launch('d');
    trapExit(true);
    const linked = await spawnOn(d.name, 'Fx.idle', [], { link: true });
    Node.monitor(d.name);
    const started = performance.now();
    d.kill('SIGKILL');
    expect(await expectMessage({ type: 'EXIT', from: linked })).toMatchObject({
      reason: 'noconnection',
    });
    const detectedMs = performance.now() - started;
    expect(await expectMessage({ type: 'nodedown', node: d.name })).toMatchObject({
      type: 'nodedown',
      node: d.name,
    });
    // A closed socket is seen at once; generous bound.
    expect(detectedMs).toBeLessThan(scaledMs(DOWN_AFTER_MS * 5));
    expect(Node.list()).not.toContain(d.name);
    trapExit(false);
  });

  it('a silent peer (SIGSTOP) is declared down after nodeDownAfterMs; it reconnects after SIGCONT', async () => {
    const e = await launch('e');
    const calc = await spawnOn(e.name, 'Fx.calc');
    Node.monitor(e.name);
    e.kill('SIGSTOP');
    const started = performance.now();
    await expectMessage({ type: 'nodedown', node: e.name }, scaledMs(DOWN_AFTER_MS * 10));
    const detectedMs = performance.now() - started;
    expect(detectedMs).toBeGreaterThanOrEqual(DOWN_AFTER_MS * 0.8);
    e.kill('SIGCONT');
    await expect.poll(() => Node.list().includes(e.name), { timeout: scaledMs(10_000) }).toBe(true);
    expect(await call(calc, { op: 'add', a: 2, b: 2 })).toBe(4); // its processes survived
    e.kill();
  });

  it('a node restarted on the same port is a new incarnation: old pids are gone', async () => {
    const f = await launch('f');
    const old = await spawnOn(f.name, 'Fx.calc');
    const { port } = (await import('../../transport/names.ts')).parseFullName(f.name);
    f.kill('SIGKILL');
    await f.exited;
    await expect.poll(() => Node.list().includes(f.name), { timeout: WAIT_MS }).toBe(false);
    const f2 = await launch('f', { port });
    expect(f2.name).toBe(f.name);
    await expect.poll(() => Node.list().includes(f2.name), { timeout: WAIT_MS }).toBe(true);
    await expect(call(old, { op: 'add', a: 1, b: 1 })).rejects.toMatchObject({ code: 'noproc' });
    const fresh = await spawnOn(f2.name, 'Fx.calc');
    expect(fresh.creation).not.toBe(old.creation);
    expect(await call(fresh, { op: 'add', a: 1, b: 1 })).toBe(2);
    f2.kill();
  });
});

describe('fault injection', () => {
  it('partition between two other nodes, issued from a third; heal restores the link', async () => {
    const relay = await spawnOn(b.name, 'Fx.relay');
    const echo = await spawnOn(c.name, 'Fx.echo');
    const echoB = await spawnOn(b.name, 'Fx.echo');
    expect(await roundTrip(relay, echo, 'before', WAIT_MS)).toBe(true);
    await Faults.partition(b.name, c.name);
    send(relay, { to: echo, msg: { from: self(), msg: 'during' } });
    // The relay handles requests in order: once the marker it sends on b comes back, it has
    // sent 'during' to c (the partition drops it there and then). Then one window for the
    // hops b -> c -> here that an unpartitioned message would still be on.
    expect(await roundTrip(relay, echoB, 'marker', WAIT_MS)).toBe(true);
    expect(await receive({ echo: 'during' }, 300)).toBe(TIMEOUT);
    await Faults.heal(b.name, c.name);
    const deadline = performance.now() + scaledMs(10_000);
    let healed = false;
    for (let i = 0; !healed && performance.now() < deadline; i++)
      healed = await roundTrip(relay, echo, `after-${i}`, 500);
    expect(healed).toBe(true);
  });

  it('a one-way partition stops traffic in that direction only', async () => {
    const echo = await spawnOn(b.name, 'Fx.echo');
    const echoC = await spawnOn(c.name, 'Fx.echo');
    await Faults.partition(Node.self(), b.name, { oneWay: true });
    send(echo, { from: self(), msg: 'lost' }); // dropped here as it is sent
    send(echoC, { from: self(), msg: 'to c still works' });
    expect(await expectMessage({ echo: 'to c still works' })).toMatchObject({ by: echoC });
    await Faults.heal(Node.self(), b.name);
    await expect.poll(() => Node.connect(b.name), { timeout: scaledMs(10_000) }).toBe(true);
    send(echo, { from: self(), msg: 'back' });
    expect(await expectMessage({ echo: 'back' })).toMatchObject({ by: echo });
    // 'lost' went to the same echo before 'back': had it got through, its echo came first.
    expect(await receive({ echo: 'lost' }, 0)).toBe(TIMEOUT);
    const echo2 = await spawnOn(b.name, 'Fx.echo');
    send(echo2, { from: self(), msg: 'back again' });
    expect(await expectMessage({ echo: 'back again' })).toMatchObject({ by: echo2 });
  });

  it('delay with jitter slows a link but keeps order', async () => {
    const echo = await spawnOn(c.name, 'Fx.echo');
    await Faults.delay(Node.self(), c.name, { delayMs: 150, jitterMs: 50, oneWay: true });
    const started = performance.now();
    for (let i = 0; i < 50; i++) send(echo, { from: self(), msg: i });
    for (let i = 0; i < 50; i++)
      expect((await expectMessage<{ echo: number }>({ by: echo })).echo).toBe(i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    await Faults.heal(Node.self(), c.name);
  });

  it('drop with probability 1 loses every message; 0.5 loses some; duplicate 1 doubles each', async () => {
    const echo = await spawnOn(c.name, 'Fx.echo');
    // Drops are decided as each message is sent; one echo process answers in order, so an
    // 'end' marker sent after the heal comes back after every echo that got through.
    await Faults.drop(Node.self(), c.name, 1, { oneWay: true });
    for (let i = 0; i < 10; i++) send(echo, { from: self(), msg: `d${i}` });
    await Faults.drop(Node.self(), c.name, 0.5, { oneWay: true });
    for (let i = 0; i < 200; i++) send(echo, { from: self(), msg: i });
    await Faults.heal(Node.self(), c.name);
    send(echo, { from: self(), msg: 'end' });
    const echoed: unknown[] = [];
    for (;;) {
      const m = await expectMessage<{ echo: unknown }>({ by: echo });
      if (m.echo === 'end') break;
      echoed.push(m.echo);
    }
    expect(echoed.filter((e) => typeof e === 'string')).toEqual([]); // probability 1: all lost
    expect(echoed.length).toBeGreaterThan(40); // probability 0.5: about half of 200
    expect(echoed.length).toBeLessThan(160);
    await Faults.duplicate(Node.self(), c.name, 1, { oneWay: true });
    send(echo, { from: self(), msg: 'twice' });
    expect(await expectMessage({ echo: 'twice' })).toMatchObject({ by: echo });
    expect(await expectMessage({ echo: 'twice' })).toMatchObject({ by: echo });
    await Faults.clear();
    expect(Node.faultRules()).toEqual({});
    send(echo, { from: self(), msg: 'once' });
    send(echo, { from: self(), msg: 'end' });
    // Everything the echo answers before 'end' (a third 'twice', a second 'once') is here now.
    const after: unknown[] = [];
    for (;;) {
      const m = await expectMessage<{ echo: unknown }>({ by: echo });
      if (m.echo === 'end') break;
      after.push(m.echo);
    }
    expect(after).toEqual(['once']);
  });

  it('rejects bad fault arguments', async () => {
    await expect(Faults.drop(Node.self(), c.name, 2)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(Faults.delay(Node.self(), c.name, { delayMs: -1 })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(Faults.partition('nowhere', c.name)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });
});
