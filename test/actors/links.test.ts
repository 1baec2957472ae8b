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
  messageQueueLen,
  monitor,
  type Pid,
  processInfo,
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
import { scaledMs } from '../../transport/timeouts.ts';
import {
  barrier,
  captureLogs,
  expectReceive,
  resetRuntime,
  untilWaiting,
  waitUntil,
} from '../helpers.ts';

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
  // Each process links to its predecessor when it starts: wait until all have.
  await waitUntil(
    () =>
      msg.chain
        .slice(1)
        .every((p) => processInfo(p)?.links.length === (p === msg.chain.at(-1) ? 1 : 2)),
    `all ${length} processes of the chain linked`,
    scaledMs(10_000),
  );
  return msg.chain;
}

describe('links and exit signals', () => {
  it('a crash propagates along a chain of links', async () => {
    const pids = await chain(5);
    expect(pids.every(isAlive)).toBe(true);
    exit(pids[2]!, new Error('middle crash'));
    await waitUntil(() => pids.every((p) => !isAlive(p)), 'every process of the chain to die');
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
        await sleep(10); // the workload: crash while the middle process waits in receive
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
    await waitUntil(() => processInfo(victim)?.trapExit === true, 'the victim to trap exits');
    exit(victim, 'kill');
    expect(isAlive(victim)).toBe(false);
    const msg = await receive<ExitMessage>({ type: 'EXIT', from: victim }, 1000);
    expect((msg as ExitMessage).reason).toBe('killed');
    void me;
  });

  it("an exit signal with reason 'normal' is ignored unless trapped", async () => {
    const pid = spawn(forever);
    await untilWaiting(pid, 'the process');
    exit(pid, 'normal');
    // Local exit signals are handled synchronously: nothing is still on its way.
    expect(isAlive(pid)).toBe(true);
    expect(processInfo(pid)?.status).toBe('waiting');
    exit(pid, 'shutdown');
    expect(isAlive(pid)).toBe(false);
  });

  it('a normal exit does not take linked processes down', async () => {
    const me = self();
    const survivor = spawn(async () => {
      const child = spawnLink(() => {});
      const ref = monitor(child);
      // DOWN is sent after the exit signal to links was handled: the barrier for the check.
      const down = await receive<DownMessage>({ type: 'DOWN', ref });
      send(me, { childDown: down.reason });
      await forever();
    });
    expect(await expectReceive({ childDown: 'normal' }, "the linked child's DOWN")).toEqual({
      childDown: 'normal',
    });
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
    const ref = monitor(child);
    send(child, 'die');
    // DOWN is dispatched after the child's link signals were handled.
    const down = await expectReceive<DownMessage>({ type: 'DOWN', ref }, "the child's DOWN");
    expect(String(down.reason)).toContain('child dies');
    expect(isAlive(parent)).toBe(true);
    expect(processInfo(parent)?.links).toEqual([]);
  });

  it('linking to a dead process throws noproc (or sends EXIT when trapping)', async () => {
    const [dead, ref] = spawnMonitor(() => {});
    await expectReceive({ type: 'DOWN', ref }, 'the short-lived process to end');
    expect(() => link(dead)).toThrow(ActorError);
    expect(() => link(dead)).toThrow(expect.objectContaining({ code: 'noproc' }));
    trapExit(true);
    link(dead);
    expect(await receive({ type: 'EXIT', from: dead }, 1000)).toMatchObject({ reason: 'noproc' });
  });

  it('a long chain of links dies without overflowing the stack', async () => {
    const pids = await chain(3000);
    kill(pids[0]!);
    await waitUntil(
      () => !isAlive(pids[pids.length - 1]!),
      'the end of the chain to die',
      scaledMs(10_000),
    );
  });

  it('a process that throws is logged as a crash report with its last message', async () => {
    const { lines } = await captureLogs(async () => {
      const pid = spawn(async () => {
        await receive();
        throw new Error('bad input');
      });
      register('crasher', pid);
      send(pid, { cmd: 'explode' });
      await waitUntil(() => !isAlive(pid), 'the crasher to die');
    });
    const report = lines.find((l) => l.msg === 'crash report: process exited abnormally');
    expect(report).toBeDefined();
    expect(report).toMatchObject({ name: 'crasher', reason: 'Error: bad input' });
    expect(String(report?.lastMessage)).toContain('explode');
  });

  it('the top-level process is replaced when an exit signal kills it', async () => {
    const before = self();
    // The child's body runs on a later turn, when the receive below is already waiting.
    spawnLink(() => {
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
    const [dead, first] = spawnMonitor(() => {});
    await expectReceive({ type: 'DOWN', ref: first }, 'the short-lived process to end');
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
    // The kill dispatched DOWN for ref2 at once: a barrier puts it in the mailbox.
    await barrier();
    expect(await messageQueueLen()).toBe(1);
    expect(demonitor(ref2, { flush: true })).toBe(false);
    expect(await messageQueueLen()).toBe(0);
    expect(await receive({ type: 'DOWN' }, 0)).toBe(TIMEOUT);
  });

  it('monitors do not propagate death', async () => {
    const me = self();
    const watcher = spawn(async () => {
      const target = spawn(() => {
        throw new Error('target dies');
      });
      const ref = monitor(target);
      const down = await receive<DownMessage>({ type: 'DOWN', ref });
      send(me, { watcherSawDown: String(down.reason) });
      await forever();
    });
    const msg = await expectReceive<{ watcherSawDown: string }>(
      (m) => typeof m === 'object' && m !== null && 'watcherSawDown' in m,
      "the watcher's report of the DOWN",
    );
    expect(msg.watcherSawDown).toContain('target dies');
    expect(isAlive(watcher)).toBe(true);
  });
});
