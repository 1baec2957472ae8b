import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorError,
  call,
  exit,
  flush,
  Global,
  isAlive,
  link,
  messageQueueLen,
  monitor,
  receive,
  resume,
  self,
  send,
  spawn,
  suspend,
  TIMEOUT,
  trapExit,
} from '../../actors/index.ts';
import { type LaunchedNode, Node, spawnOn } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { untilWaiting, WAIT_MS } from '../helpers.ts';
import { expectMessage, launch, startWithPeers } from './cluster-helpers.ts';

let b: LaunchedNode;
let c: LaunchedNode;

beforeAll(async () => {
  [b, c] = await startWithPeers('b', 'c');
});

afterEach(() => {
  trapExit(false);
  flush();
});

describe('location transparency', () => {
  it('names itself and prints pids with the short node name', () => {
    expect(Node.self()).toMatch(/^t@127\.0\.0\.1:\d+$/);
    expect(String(self())).toMatch(/^#PID<t\.\d+>$/);
  });

  it('remote spawn, send and reply', async () => {
    const echo = await spawnOn(b.name, 'Fx.echo');
    expect(echo.node).toBe(b.name);
    send(echo, { from: self(), msg: { nested: [1, 'two', new Map([[3, 4]])] } });
    const reply = await expectMessage<{ echo: { nested: unknown[] }; by: unknown }>({ by: echo });
    expect(reply.echo.nested[2]).toEqual(new Map([[3, 4]]));
  });

  it('messages between two processes on two nodes keep their order', async () => {
    const echo = await spawnOn(c.name, 'Fx.echo');
    for (let i = 0; i < 2000; i++) send(echo, { from: self(), msg: i });
    for (let i = 0; i < 2000; i++) {
      const m = await expectMessage<{ echo: number }>({ by: echo });
      expect(m.echo).toBe(i);
    }
  });

  it('remote call, and its timeout, noproc and exit errors', async () => {
    const calc = await spawnOn(b.name, 'Fx.calc');
    expect(await call(calc, { op: 'add', a: 20, b: 22 })).toBe(42);
    await expect(call(calc, { op: 'sleep', ms: 300 }, 50)).rejects.toMatchObject({
      code: 'timeout',
    });
    const err = await call(calc, { op: 'crash' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect((err as ActorError).code).toBe('exit');
    await expect(call(calc, { op: 'add' })).rejects.toMatchObject({ code: 'noproc' });
  });

  it('send to [name, node] with the full or the short node name', async () => {
    await spawnOn(b.name, 'Fx.named', ['inbox', self()]);
    await expectMessage({ ready: 'inbox' }); // registered on b
    send(['inbox', b.name], 'by full name');
    expect(await expectMessage({ at: 'inbox' })).toEqual({ got: 'by full name', at: 'inbox' });
    send(['inbox', 'b'], 'by short name');
    expect(await expectMessage({ at: 'inbox' })).toEqual({ got: 'by short name', at: 'inbox' });
    expect(() => send(['nobody', b.name], 'dropped silently')).not.toThrow();
  });

  it('a newcomer that joins one member connects to all (full mesh)', async () => {
    const d = await launch('d', { join: [c.name] });
    await expect.poll(() => Node.list().includes(d.name), { timeout: WAIT_MS }).toBe(true);
    await expect
      .poll(
        async () => {
          await spawnOn(b.name, 'Fx.reportNodes', [self()]);
          return (await expectMessage<{ nodes: string[] }>({ from: b.name })).nodes;
        },
        { timeout: WAIT_MS },
      )
      .toContain(d.name);
    d.kill();
  });

  it('remote messageQueueLen, suspend and resume', async () => {
    const calc = await spawnOn(b.name, 'Fx.calc');
    expect(await suspend(calc)).toBe(true);
    const pending = call(calc, { op: 'add', a: 1, b: 2 }, WAIT_MS);
    // The call reaches b and waits in calc's mailbox: suspended, calc does not take it.
    await expect.poll(() => messageQueueLen(calc), { timeout: WAIT_MS }).toBe(1);
    expect(await messageQueueLen(calc)).toBe(1);
    expect(await resume(calc)).toBe(true);
    expect(await pending).toBe(3);
    expect(await messageQueueLen(calc)).toBe(0);
  });

  it('remote spawn of an unknown function is a typed error', async () => {
    await expect(spawnOn(b.name, 'Nope.fn')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(spawnOn(b.name, 'Fx.nope')).rejects.toThrow(/not a function/);
    await expect(spawnOn(b.name, 'not a spec')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(spawnOn('nowhere', 'Fx.echo')).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('links, monitors and exits across nodes', () => {
  it('exit/2 and kill across nodes; link propagates a remote crash', async () => {
    trapExit(true);
    const idle = await spawnOn(b.name, 'Fx.idle', [], { link: true });
    exit(idle, 'custom');
    expect(await expectMessage({ type: 'EXIT', from: idle })).toMatchObject({ reason: 'custom' });
    const calc = await spawnOn(b.name, 'Fx.calc', [], { link: true });
    call(calc, { op: 'crash' }).catch(() => {});
    const m = await expectMessage<{ reason: Error }>({ type: 'EXIT', from: calc });
    expect(String(m.reason)).toContain('calc crashed');
  });

  it('a local crash reaches a linked remote process (which traps and reports)', async () => {
    const watcher = await spawnOn(b.name, 'Fx.watcher', [self()]);
    const local = spawn(async () => {
      await receive();
      throw new Error('local boom');
    });
    // Link from the remote side's point of view: link local <-> watcher.
    const linker = spawn(async () => {
      link(watcher);
      link(local);
      await receive();
    });
    await untilWaiting(linker, 'the linker (both links made)');
    // The link signal went to b before this message, on the same connection: once the watcher
    // echoes it, b has linked the watcher to the linker.
    send(watcher, 'ping');
    expect(await expectMessage({ watcherGot: 'ping' })).toEqual({ watcherGot: 'ping' });
    send(local, 'go');
    const report = await expectMessage<{ watcherGot: { type: string; reason: unknown } }>(
      (m) => typeof m === 'object' && m !== null && 'watcherGot' in m,
    );
    expect(report.watcherGot.type).toBe('EXIT');
    expect(isAlive(linker)).toBe(false);
  });

  it('monitor of a remote process; of a dead remote pid gives noproc', async () => {
    const idle = await spawnOn(c.name, 'Fx.idle');
    const ref = monitor(idle);
    exit(idle, 'kill');
    expect(await expectMessage({ type: 'DOWN', ref })).toMatchObject({ reason: 'killed' });
    const ref2 = monitor(idle);
    expect(await expectMessage({ type: 'DOWN', ref: ref2 })).toMatchObject({ reason: 'noproc' });
  });
});

describe('the Global registry across nodes', () => {
  it('a name is held by one process in the cluster; all nodes see it', async () => {
    const me = self();
    await Promise.all([
      spawnOn(b.name, 'Fx.holdGlobal', ['leader', me]),
      spawnOn(c.name, 'Fx.holdGlobal', ['leader', me]),
    ]);
    const r1 = await expectMessage<{ ok: boolean; pid: unknown }>({ registered: 'leader' });
    const r2 = await expectMessage<{ ok: boolean; pid: unknown }>({ registered: 'leader' });
    expect([r1.ok, r2.ok].sort()).toEqual([false, true]);
    const winner = r1.ok ? r1.pid : r2.pid;
    expect(Global.whereis('leader')).toEqual(winner);
    expect(await Global.register('leader', self())).toBe(false);
  });

  it('concurrent registrations of many names from three nodes never give a name twice', async () => {
    const me = self();
    const names = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    const spawns: Promise<unknown>[] = [];
    for (const name of names)
      for (const n of [b.name, c.name]) spawns.push(spawnOn(n, 'Fx.holdGlobal', [name, me]));
    const localResults = await Promise.all(
      names.map((name) =>
        Global.register(
          name,
          spawn(() => receive()),
        ),
      ),
    );
    await Promise.all(spawns);
    const wins = new Map<string, number>(names.map((n, i) => [n, localResults[i] ? 1 : 0]));
    for (let i = 0; i < names.length * 2; i++) {
      const r = await expectMessage<{ registered: string; ok: boolean }>(
        (m) => typeof m === 'object' && m !== null && 'registered' in m,
        scaledMs(10_000),
      );
      if (r.ok) wins.set(r.registered, (wins.get(r.registered) ?? 0) + 1);
    }
    for (const name of names) expect(wins.get(name), name).toBe(1);
  });

  it('names of a node that dies are released', async () => {
    const e = await launch('e');
    await spawnOn(e.name, 'Fx.holdGlobal', ['on-e', self()]);
    expect(await expectMessage({ registered: 'on-e' })).toMatchObject({ ok: true });
    expect(Global.whereis('on-e')?.node).toBe(e.name);
    e.kill('SIGKILL');
    await expect.poll(() => Global.whereis('on-e'), { timeout: WAIT_MS }).toBeUndefined();
    expect(
      await Global.register(
        'on-e',
        spawn(() => receive()),
      ),
    ).toBe(true);
  });

  it('reRegister and unregister propagate', async () => {
    const p1 = spawn(() => receive());
    const p2 = spawn(() => receive());
    expect(await Global.register('moving', p1)).toBe(true);
    await Global.reRegister('moving', p2);
    expect(Global.whereis('moving')).toEqual(p2);
    await Global.unregister('moving');
    expect(Global.whereis('moving')).toBeUndefined();
    expect(await receive(null, 0)).toBe(TIMEOUT);
  });
});
