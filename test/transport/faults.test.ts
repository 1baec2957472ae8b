// Failure detection and fault injection with real node processes: SIGKILL, a silent (stopped)
// peer, a restart on the same port; partition/heal, delay, drop and duplicate.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  type Pid,
  receive,
  self,
  send,
  sleep,
  TIMEOUT,
  trapExit,
} from '../../actors/index.ts';
import { Faults, type LaunchedNode, Node, spawnOn } from '../../transport/index.ts';
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
    expect(await expectMessage({ type: 'nodedown', node: d.name })).toBeDefined();
    expect(detectedMs).toBeLessThan(DOWN_AFTER_MS * 5); // a closed socket is seen at once; generous bound
    expect(Node.list()).not.toContain(d.name);
    trapExit(false);
  });

  it('a silent peer (SIGSTOP) is declared down after nodeDownAfterMs; it reconnects after SIGCONT', async () => {
    const e = await launch('e');
    const calc = await spawnOn(e.name, 'Fx.calc');
    Node.monitor(e.name);
    e.kill('SIGSTOP');
    const started = performance.now();
    await expectMessage({ type: 'nodedown', node: e.name }, DOWN_AFTER_MS * 10);
    const detectedMs = performance.now() - started;
    expect(detectedMs).toBeGreaterThanOrEqual(DOWN_AFTER_MS * 0.8);
    e.kill('SIGCONT');
    await expect.poll(() => Node.list().includes(e.name), { timeout: 10_000 }).toBe(true);
    expect(await call(calc, { op: 'add', a: 2, b: 2 })).toBe(4); // its processes survived
    e.kill();
  });

  it('a node restarted on the same port is a new incarnation: old pids are gone', async () => {
    const f = await launch('f');
    const old = await spawnOn(f.name, 'Fx.calc');
    const { port } = (await import('../../transport/names.ts')).parseFullName(f.name);
    f.kill('SIGKILL');
    await f.exited;
    await expect.poll(() => Node.list().includes(f.name), { timeout: 5000 }).toBe(false);
    const f2 = await launch('f', { port });
    expect(f2.name).toBe(f.name);
    await expect.poll(() => Node.list().includes(f2.name), { timeout: 5000 }).toBe(true);
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
    expect(await roundTrip(relay, echo, 'before', 3000)).toBe(true);
    await Faults.partition(b.name, c.name);
    expect(await roundTrip(relay, echo, 'during', 500)).toBe(false);
    await Faults.heal(b.name, c.name);
    let healed = false;
    for (let i = 0; i < 20 && !healed; i++)
      healed = await roundTrip(relay, echo, `after-${i}`, 500);
    expect(healed).toBe(true);
  });

  it('a one-way partition stops traffic in that direction only', async () => {
    const echo = await spawnOn(b.name, 'Fx.echo');
    const echoC = await spawnOn(c.name, 'Fx.echo');
    await Faults.partition(Node.self(), b.name, { oneWay: true });
    send(echo, { from: self(), msg: 'lost' });
    expect(await receive({ echo: 'lost' }, 300)).toBe(TIMEOUT);
    send(echoC, { from: self(), msg: 'to c still works' });
    expect(await expectMessage({ echo: 'to c still works' })).toBeDefined();
    await Faults.heal(Node.self(), b.name);
    await expect.poll(() => Node.connect(b.name), { timeout: 10_000 }).toBe(true);
    const echo2 = await spawnOn(b.name, 'Fx.echo');
    send(echo2, { from: self(), msg: 'back' });
    expect(await expectMessage({ echo: 'back' })).toBeDefined();
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
    await Faults.drop(Node.self(), c.name, 1, { oneWay: true });
    for (let i = 0; i < 10; i++) send(echo, { from: self(), msg: `d${i}` });
    expect(await receive({ by: echo }, 300)).toBe(TIMEOUT);
    await Faults.drop(Node.self(), c.name, 0.5, { oneWay: true });
    for (let i = 0; i < 200; i++) send(echo, { from: self(), msg: i });
    await sleep(500);
    let got = 0;
    while ((await receive({ by: echo }, 0)) !== TIMEOUT) got++;
    expect(got).toBeGreaterThan(40);
    expect(got).toBeLessThan(160);
    await Faults.heal(Node.self(), c.name);
    await Faults.duplicate(Node.self(), c.name, 1, { oneWay: true });
    send(echo, { from: self(), msg: 'twice' });
    expect(await expectMessage({ echo: 'twice' })).toBeDefined();
    expect(await expectMessage({ echo: 'twice' })).toBeDefined();
    await Faults.clear();
    expect(Node.faultRules()).toEqual({});
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
