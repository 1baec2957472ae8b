import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChildSpec,
  exit,
  flush,
  GenServer,
  isAlive,
  kill,
  MAX_INTENSITY_REASON,
  monitor,
  type Pid,
  processInfo,
  receive,
  Supervisor,
  type SupervisorOptions,
  self,
  send,
  spawnLink,
  TIMEOUT,
  trapExit,
} from '../../actors/index.ts';
import { barrier, expectReceive, resetRuntime, WAIT_MS, waitUntil } from '../helpers.ts';

afterEach(resetRuntime);

/** A worker that reports its start to `observer` and waits for 'crash' or 'quit'. */
function worker(id: string, observer: Pid, restart?: ChildSpec['restart']): ChildSpec {
  return {
    id,
    restart,
    start: () =>
      spawnLink(async () => {
        send(observer, { started: id, pid: self() });
        const m = await receive();
        if (m === 'crash') throw new Error(`${id} crashed`);
      }),
  };
}

async function started(count: number): Promise<Array<{ started: string; pid: Pid }>> {
  const out: Array<{ started: string; pid: Pid }> = [];
  for (let i = 0; i < count; i++) {
    const msg = await receive<{ started: string; pid: Pid }>(
      (x) => typeof x === 'object' && x !== null && 'started' in x,
      WAIT_MS,
    );
    if (msg === TIMEOUT) throw new Error(`only ${i} of ${count} children started`);
    out.push(msg);
  }
  return out;
}

async function pidsOf(sup: Pid): Promise<Record<string, Pid | undefined>> {
  return Object.fromEntries((await Supervisor.whichChildren(sup)).map((c) => [c.id, c.pid]));
}

function startSup(options: SupervisorOptions, restart?: ChildSpec['restart']) {
  const me = self();
  return Supervisor.start(
    [worker('a', me, restart), worker('b', me, restart), worker('c', me, restart)],
    options,
  );
}

describe('Supervisor strategies', () => {
  it('one_for_one restarts only the child that died', async () => {
    const sup = startSup({ strategy: 'one_for_one' });
    expect((await started(3)).map((s) => s.started)).toEqual(['a', 'b', 'c']);
    const before = await pidsOf(sup);
    send(before.b!, 'crash');
    expect((await started(1)).map((s) => s.started)).toEqual(['b']);
    const after = await pidsOf(sup);
    expect(after.a).toEqual(before.a);
    expect(after.c).toEqual(before.c);
    expect(after.b).not.toEqual(before.b);
  });

  it('one_for_all restarts every child, in start order', async () => {
    const sup = startSup({ strategy: 'one_for_all' });
    await started(3);
    const before = await pidsOf(sup);
    kill(before.b!);
    expect((await started(3)).map((s) => s.started)).toEqual(['a', 'b', 'c']);
    const after = await pidsOf(sup);
    for (const id of ['a', 'b', 'c']) expect(after[id]).not.toEqual(before[id]);
    expect(isAlive(before.a!)).toBe(false);
    expect(isAlive(before.c!)).toBe(false);
  });

  it('rest_for_one restarts the child and those started after it', async () => {
    const sup = startSup({ strategy: 'rest_for_one' });
    await started(3);
    const before = await pidsOf(sup);
    send(before.b!, 'crash');
    expect((await started(2)).map((s) => s.started)).toEqual(['b', 'c']);
    const after = await pidsOf(sup);
    expect(after.a).toEqual(before.a);
    expect(after.b).not.toEqual(before.b);
    expect(after.c).not.toEqual(before.c);
  });
});

describe('restart types', () => {
  it('transient: restarted after a crash, not after a normal exit', async () => {
    const sup = startSup({}, 'transient');
    await started(3);
    let pids = await pidsOf(sup);
    send(pids.a!, 'crash');
    await started(1);
    pids = await pidsOf(sup);
    const ref = monitor(pids.a!);
    send(pids.a!, 'quit');
    await expectReceive({ type: 'DOWN', ref, reason: 'normal' }, 'child a to quit');
    // The supervisor got a's EXIT before this call: a restart would show here, and in a
    // 'started' message already on its way.
    expect((await pidsOf(sup)).a).toBeUndefined();
    await barrier();
    expect(flush()).toEqual([]);
  });

  it('temporary: never restarted and dropped from the children', async () => {
    const sup = startSup({}, 'temporary');
    await started(3);
    const pids = await pidsOf(sup);
    const ref = monitor(pids.a!);
    send(pids.a!, 'crash');
    await expectReceive({ type: 'DOWN', ref }, 'child a to crash');
    // The supervisor got a's EXIT before this call (see 'transient').
    expect((await Supervisor.whichChildren(sup)).map((c) => c.id)).toEqual(['b', 'c']);
    await barrier();
    expect(flush()).toEqual([]);
  });

  it('permanent: restarted even after a normal exit', async () => {
    const sup = startSup({});
    await started(3);
    send((await pidsOf(sup)).c!, 'quit');
    expect((await started(1)).map((s) => s.started)).toEqual(['c']);
  });
});

describe('restart intensity', () => {
  it('too many restarts in the period make the supervisor exit, taking its children', async () => {
    const sup = startSup({ maxRestarts: 2, periodMs: 60_000 });
    await started(3);
    const ref = monitor(sup);
    for (let i = 0; i < 2; i++) {
      send((await pidsOf(sup)).a!, 'crash');
      await started(1);
    }
    const last = await pidsOf(sup);
    send(last.a!, 'crash');
    const down = await receive({ type: 'DOWN', ref }, 2000);
    expect(down).toMatchObject({ reason: MAX_INTENSITY_REASON });
    expect(isAlive(last.b!)).toBe(false);
    expect(isAlive(last.c!)).toBe(false);
  });

  it('restarts spread beyond the period are fine (injected clock)', async () => {
    let nowMs = 0;
    const sup = startSup({ maxRestarts: 1, periodMs: 1000, clock: () => nowMs });
    await started(3);
    for (let i = 0; i < 5; i++) {
      nowMs += 1500;
      send((await pidsOf(sup)).a!, 'crash');
      await started(1);
    }
    expect(isAlive(sup)).toBe(true);
  });

  it('a nested supervisor that gives up is restarted by its parent', async () => {
    const me = self();
    const top = Supervisor.start([
      {
        id: 'inner',
        type: 'supervisor',
        start: () => Supervisor.startLink([worker('w', me)], { maxRestarts: 0 }),
      },
      worker('sibling', me),
    ]);
    await started(2);
    const innerBefore = (await pidsOf(top)).inner!;
    const w = (await pidsOf(innerBefore)).w!;
    send(w, 'crash'); // inner allows 0 restarts: it exits, and top restarts it
    expect((await started(1)).map((s) => s.started)).toEqual(['w']);
    const innerAfter = (await pidsOf(top)).inner!;
    expect(innerAfter).not.toEqual(innerBefore);
    expect(isAlive(innerBefore)).toBe(false);
    expect(isAlive(top)).toBe(true);
  });

  it('a child whose restart keeps failing counts against the intensity', async () => {
    let attempts = 0;
    const me = self();
    const sup = Supervisor.start(
      [
        {
          id: 'flaky',
          start: () => {
            attempts++;
            if (attempts > 1) throw new Error('cannot start');
            return spawnLink(() => receive());
          },
        },
      ],
      { maxRestarts: 3, periodMs: 60_000 },
    );
    void me;
    await waitUntil(() => attempts === 1, 'the first start of the flaky child');
    const ref = monitor(sup);
    send((await pidsOf(sup)).flaky!, 'die');
    expect(await receive({ type: 'DOWN', ref }, 2000)).toMatchObject({
      reason: MAX_INTENSITY_REASON,
    });
    expect(attempts).toBe(4);
  });
});

describe('managing children', () => {
  it('terminateChild, restartChild, startChild, deleteChild, countChildren', async () => {
    const me = self();
    const sup = Supervisor.start([worker('a', me)]);
    await started(1);
    await Supervisor.terminateChild(sup, 'a');
    expect((await pidsOf(sup)).a).toBeUndefined();
    await expect(Supervisor.restartChild(sup, 'zzz')).rejects.toMatchObject({ code: 'not_found' });
    const pid = await Supervisor.restartChild(sup, 'a');
    await started(1);
    expect(isAlive(pid)).toBe(true);
    await expect(Supervisor.restartChild(sup, 'a')).rejects.toMatchObject({
      code: 'already_running',
    });
    await expect(Supervisor.deleteChild(sup, 'a')).rejects.toMatchObject({
      code: 'already_running',
    });
    const b = await Supervisor.startChild(sup, worker('b', me));
    await started(1);
    expect(isAlive(b)).toBe(true);
    await expect(Supervisor.startChild(sup, worker('b', me))).rejects.toMatchObject({
      code: 'already_running',
    });
    await expect(Supervisor.startChild(sup, { id: '' } as never)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect(await Supervisor.countChildren(sup)).toEqual({
      specs: 2,
      active: 2,
      workers: 2,
      supervisors: 0,
    });
    await Supervisor.terminateChild(sup, 'b');
    await Supervisor.deleteChild(sup, 'b');
    expect((await Supervisor.whichChildren(sup)).map((c) => c.id)).toEqual(['a']);
  });

  it('shutdown: a trapping GenServer runs terminate; one that ignores shutdown is killed', async () => {
    const me = self();
    const sup = Supervisor.start([
      {
        id: 'polite',
        start: () =>
          GenServer.startLink(
            { init: () => 0, terminate: (r: unknown) => send(me, { terminate: r }) },
            [],
            { trapExit: true },
          ),
      },
      {
        id: 'stubborn',
        shutdown: 30,
        start: () =>
          spawnLink(async () => {
            trapExit(true);
            for (;;) await receive(); // ignores the shutdown EXIT message
          }),
      },
    ]);
    const pids = await pidsOf(sup);
    await waitUntil(
      () => processInfo(pids.stubborn!)?.trapExit === true,
      'the stubborn child to trap exits',
    );
    await Supervisor.terminateChild(sup, 'polite');
    expect(await receive(null, 1000)).toEqual({ terminate: 'shutdown' });
    const t0 = performance.now();
    await Supervisor.terminateChild(sup, 'stubborn');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(isAlive(pids.stubborn!)).toBe(false);
  });

  it('a child failing to start at init makes the supervisor exit', async () => {
    trapExit(true);
    const me = self();
    const sup = Supervisor.startLink([
      {
        id: 'ok',
        start: () => {
          const pid = spawnLink(() => receive());
          send(me, { okPid: pid });
          return pid;
        },
      },
      {
        id: 'bad',
        start: () => {
          throw new Error('no way');
        },
      },
    ]);
    const exitMsg = await receive<{ reason: { shutdown: { failedToStartChild: string } } }>(
      { type: 'EXIT', from: sup },
      2000,
    );
    expect(exitMsg).not.toBe(TIMEOUT);
    expect(
      (exitMsg as { reason: { shutdown: { failedToStartChild: string } } }).reason.shutdown
        .failedToStartChild,
    ).toBe('bad');
    const ok = await receive<{ okPid: Pid }>(
      (m) => typeof m === 'object' && m !== null && 'okPid' in m,
      1000,
    );
    expect(isAlive((ok as { okPid: Pid }).okPid)).toBe(false); // started children are stopped
  });

  it('killing a supervisor takes its children down; Supervisor.stop stops them in order', async () => {
    const sup = startSup({});
    await started(3);
    const pids = await pidsOf(sup);
    exit(sup, 'kill');
    await waitUntil(() => Object.values(pids).every((p) => !isAlive(p!)), 'every child to die');
    const sup2 = startSup({});
    await started(3);
    const pids2 = await pidsOf(sup2);
    await Supervisor.stop(sup2);
    expect(isAlive(sup2)).toBe(false);
    expect(Object.values(pids2).every((p) => !isAlive(p!))).toBe(true);
  });

  it('rejects bad specs and options with typed errors', () => {
    const me = self();
    expect(() => Supervisor.start([worker('a', me), worker('a', me)])).toThrow(
      /duplicate child id/,
    );
    expect(() => Supervisor.start([{ id: 'x' } as never])).toThrow(/start function/);
    expect(() => Supervisor.start([], { strategy: 'one_for_some' as never })).toThrow(
      /unknown strategy/,
    );
    expect(() => Supervisor.start([], { maxRestarts: -1 })).toThrow(/maxRestarts/);
    expect(() => Supervisor.start('nope' as never)).toThrow(/array of child specs/);
  });
});
