import { afterEach, describe, expect, it } from 'vitest';
import {
  ActorError,
  DownMessage,
  demonitor,
  ExitMessage,
  exit,
  isAlive,
  kill,
  link,
  monitor,
  type Pid,
  receive,
  register,
  self,
  send,
  sleep,
  spawn,
  spawnLink,
  spawnMonitor,
  TIMEOUT,
  trapExit,
  unlink,
} from '../../actors/index.ts';
import { captureLogs, resetRuntime, until } from '../helpers.ts';

afterEach(resetRuntime);

const forever = () => receive((m) => m === 'never-sent');

/** Spawns a chain a -> b -> c ... of linked processes waiting forever; returns their pids. */
async function chain(length: number): Promise<Pid[]> {
  const me = self();
  spawn(async () => {
    const pids: Pid[] = [self()];
    for (let i = 1; i < length; i++) {
      const next = spawn(
        async (prev: Pid) => {
          link(prev);
          await forever();
        },
        pids[i - 1]!,
      );
      pids.push(next);
    }
    send(me, { chain: pids });
    await forever();
  });
  const msg = await receive<{ chain: Pid[] }>(
    (m) => typeof m === 'object' && m !== null && 'chain' in m,
    5000,
  );
  if (msg === TIMEOUT) throw new Error('no chain');
  await sleep(10);
  return msg.chain;
}

describe('links and exit signals', () => {
  it('a crash propagates along a chain of links', async () => {
    const pids = await chain(5);
    expect(pids.every(isAlive)).toBe(true);
    exit(pids[2]!, new Error('middle crash'));
    await until(() => pids.every((p) => !isAlive(p)));
  });

  it('trapExit turns the exit signal into an EXIT message and stops propagation', async () => {
    trapExit(true);
    const child = spawnLink(() => {
      throw new Error('boom');
    });
    const msg = await receive<ExitMessage>({ type: 'EXIT' }, 2000);
    expect(msg).toBeInstanceOf(ExitMessage);
    expect((msg as ExitMessage).from).toEqual(child);
    expect(String((msg as ExitMessage).reason)).toContain('boom');
  });

  it('a trapping process in a chain stops the cascade', async () => {
    const me = self();
    const middle = spawn(async () => {
      trapExit(true);
      const inner = spawnLink(async () => {
        await sleep(10);
        throw new Error('inner');
      });
      const m = await receive<ExitMessage>({ type: 'EXIT' });
      send(me, { middleGot: m.from.equals(inner) });
      await forever();
    });
    expect(await receive(null, 2000)).toEqual({ middleGot: true });
    expect(isAlive(middle)).toBe(true);
  });

  it("'kill' cannot be trapped and links see 'killed'", async () => {
    const me = self();
    trapExit(true);
    const victim = spawnLink(async () => {
      trapExit(true);
      await forever();
    });
    await sleep(5);
    exit(victim, 'kill');
    expect(isAlive(victim)).toBe(false);
    const msg = await receive<ExitMessage>({ type: 'EXIT', from: victim }, 1000);
    expect((msg as ExitMessage).reason).toBe('killed');
    void me;
  });

  it("an exit signal with reason 'normal' is ignored unless trapped", async () => {
    const pid = spawn(forever);
    await sleep(1);
    exit(pid, 'normal');
    await sleep(5);
    expect(isAlive(pid)).toBe(true);
    exit(pid, 'shutdown');
    expect(isAlive(pid)).toBe(false);
  });

  it('a normal exit does not take linked processes down', async () => {
    const survivor = spawn(async () => {
      spawnLink(() => {});
      await forever();
    });
    await sleep(20);
    expect(isAlive(survivor)).toBe(true);
  });

  it('unlink stops propagation', async () => {
    const me = self();
    const parent = spawn(async () => {
      const child = spawnLink(async () => {
        await receive((m) => m === 'die');
        throw new Error('child dies');
      });
      unlink(child);
      send(me, child);
      await forever();
    });
    const child = (await receive(null, 1000)) as Pid;
    send(child, 'die');
    await until(() => !isAlive(child));
    await sleep(5);
    expect(isAlive(parent)).toBe(true);
  });

  it('linking to a dead process throws noproc (or sends EXIT when trapping)', async () => {
    const dead = spawn(() => {});
    await sleep(5);
    expect(() => link(dead)).toThrow(ActorError);
    try {
      link(dead);
    } catch (err) {
      expect((err as ActorError).code).toBe('noproc');
    }
    trapExit(true);
    link(dead);
    expect(await receive({ type: 'EXIT', from: dead }, 1000)).toMatchObject({ reason: 'noproc' });
  });

  it('a long chain of links dies without overflowing the stack', async () => {
    const pids = await chain(3000);
    kill(pids[0]!);
    await until(() => !isAlive(pids[pids.length - 1]!), 10_000);
  });

  it('a process that throws is logged as a crash report with its last message', async () => {
    const { lines } = await captureLogs(async () => {
      const pid = spawn(async () => {
        await receive();
        throw new Error('bad input');
      });
      register('crasher', pid);
      send(pid, { cmd: 'explode' });
      await until(() => !isAlive(pid));
    });
    const report = lines.find((l) => l.msg === 'crash report: process exited abnormally');
    expect(report).toBeDefined();
    expect(report).toMatchObject({ name: 'crasher', reason: 'Error: bad input' });
    expect(String(report?.lastMessage)).toContain('explode');
  });

  it('the top-level process is replaced when an exit signal kills it', async () => {
    const before = self();
    spawnLink(async () => {
      await sleep(5);
      throw new Error('takes the top level down');
    });
    await expect(receive(null, 2000)).rejects.toMatchObject({ code: 'exit' });
    const after = self();
    expect(after.equals(before)).toBe(false);
    expect(isAlive(after)).toBe(true);
  });
});

describe('monitors', () => {
  it('delivers DOWN with the exit reason', async () => {
    const [pid, ref] = spawnMonitor(async () => {
      await receive();
      exit('custom_reason');
    });
    send(pid, 'go');
    const down = await receive<DownMessage>({ type: 'DOWN', ref }, 1000);
    expect(down).toBeInstanceOf(DownMessage);
    expect(down).toMatchObject({ pid, reason: 'custom_reason' });
  });

  it('monitor of an already dead pid delivers DOWN with noproc', async () => {
    const dead = spawn(() => {});
    await sleep(5);
    const ref = monitor(dead);
    expect(await receive({ type: 'DOWN', ref }, 1000)).toMatchObject({
      pid: dead,
      reason: 'noproc',
    });
  });

  it('monitor of an unregistered name delivers DOWN with noproc', async () => {
    const ref = monitor('nobody_here');
    expect(await receive({ type: 'DOWN', ref }, 1000)).toMatchObject({
      pid: 'nobody_here',
      reason: 'noproc',
    });
  });

  it('DOWN arrives after every message the dead process sent', async () => {
    const me = self();
    const [, ref] = spawnMonitor(() => {
      for (let i = 0; i < 100; i++) send(me, i);
    });
    for (let i = 0; i < 100; i++) expect(await receive((m) => typeof m === 'number', 1000)).toBe(i);
    const down = await receive({ type: 'DOWN' }, 1000);
    expect(down).toMatchObject({ ref, reason: 'normal' });
  });

  it('demonitor stops DOWN; flush drops one already queued', async () => {
    const pid = spawn(forever);
    const ref1 = monitor(pid);
    expect(demonitor(ref1)).toBe(true);
    const ref2 = monitor(pid);
    kill(pid);
    await sleep(10);
    expect(demonitor(ref2, { flush: true })).toBe(false);
    expect(await receive({ type: 'DOWN' }, 30)).toBe(TIMEOUT);
  });

  it('monitors do not propagate death', async () => {
    const watcher = spawn(async () => {
      const target = spawn(() => {
        throw new Error('target dies');
      });
      monitor(target);
      await forever();
    });
    await sleep(20);
    expect(isAlive(watcher)).toBe(true);
  });
});
