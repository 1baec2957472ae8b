import { afterEach, describe, expect, it } from 'vitest';
import {
  ActorError,
  type CallResult,
  call,
  cast,
  exit,
  type From,
  GenServer,
  type GenServerSpec,
  isAlive,
  isCall,
  monitor,
  type NoReplyResult,
  type Pid,
  receive,
  reply,
  resume,
  self,
  send,
  sleep,
  spawn,
  suspend,
  TIMEOUT,
  trapExit,
} from '../../actors/index.ts';
import { barrier, deadPid, expectReceive, resetRuntime, untilWaiting } from '../helpers.ts';

afterEach(resetRuntime);

type CounterCall =
  | { type: 'get' }
  | { type: 'add'; n: number }
  | { type: 'slow'; ms: number; notify?: Pid }
  | { type: 'events' }
  | { type: 'later' }
  | { type: 'crash' }
  | { type: 'stop' };

/** A counter; 'later' replies from a timer through reply(from). */
const counter: GenServerSpec<{ n: number; events: string[] }, [number]> = {
  init: (start) => ({ n: start, events: [] }),
  async handleCall(
    req: CounterCall,
    from: From,
    state,
  ): Promise<CallResult<{ n: number; events: string[] }>> {
    switch (req.type) {
      case 'get':
        return { reply: state.n, state };
      case 'add':
        return { reply: state.n + req.n, state: { ...state, n: state.n + req.n } };
      case 'slow':
        if (req.notify) send(req.notify, { slowStarted: true });
        await sleep(req.ms); // the workload: a handler that takes a while
        return { reply: 'slow done', state };
      case 'events':
        return { reply: state.events, state };
      case 'later':
        setTimeout(() => reply(from, 'replied later'), 10); // the behaviour: a reply from a timer
        return { noreply: true, state };
      case 'crash':
        throw new Error('handler crashed');
      case 'stop':
        return { stop: 'normal', reply: 'bye', state };
    }
  },
  handleCast(
    req: { type: 'add'; n: number },
    state,
  ): NoReplyResult<{ n: number; events: string[] }> {
    return { state: { ...state, n: state.n + req.n } };
  },
  handleInfo(msg: unknown, state) {
    return { state: { ...state, events: [...state.events, String(msg)] } };
  },
};

describe('call', () => {
  it('calls and casts a GenServer', async () => {
    const pid = GenServer.start(counter, [10]);
    expect(await call(pid, { type: 'get' })).toBe(10);
    expect(await call(pid, { type: 'add', n: 5 })).toBe(15);
    cast(pid, { type: 'add', n: 100 });
    expect(await GenServer.call(pid, { type: 'get' })).toBe(115);
  });

  it('reply(from) answers later (noreply)', async () => {
    const pid = GenServer.start(counter, [0]);
    expect(await call(pid, { type: 'later' })).toBe('replied later');
  });

  it('noproc for a dead pid or an unregistered name', async () => {
    const dead = await deadPid();
    await expect(call(dead, 'x')).rejects.toMatchObject({ code: 'noproc' });
    await expect(call('no_such_server', 'x')).rejects.toMatchObject({ code: 'noproc' });
  });

  it('timeout when no reply comes in time; the late reply is dropped', async () => {
    const pid = GenServer.start(counter, [0]);
    const started = performance.now();
    await expect(call(pid, { type: 'slow', ms: 300 }, 30)).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(performance.now() - started).toBeLessThan(250); // not after the reply at 300 ms
    // The server handles 'get' after it sent the late reply; the barrier lets anything sent
    // here arrive: the mailbox must still be empty.
    expect(await call(pid, { type: 'get' })).toBe(0);
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT); // no stray reply in the mailbox
  });

  it('exit with the reason when the server dies during the call', async () => {
    const pid = GenServer.start(counter, [0]);
    const pending = call(pid, { type: 'slow', ms: 5000, notify: self() }, 10_000);
    await expectReceive({ slowStarted: true }, 'the server to start handling the call');
    exit(pid, 'kill');
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect(err).toMatchObject({ code: 'exit', reason: 'killed' });
  });

  it('a crash in handleCall fails the call and the server', async () => {
    const pid = GenServer.start(counter, [0]);
    const err = await call(pid, { type: 'crash' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'exit' });
    expect(String((err as ActorError).reason)).toContain('handler crashed');
    expect(isAlive(pid)).toBe(false);
  });

  it('calling oneself is refused', async () => {
    await expect(call(self(), 'x')).rejects.toMatchObject({ code: 'calling_self' });
  });

  it('rejects bad timeouts', async () => {
    const pid = GenServer.start(counter, [0]);
    await expect(call(pid, { type: 'get' }, 0)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(call(pid, { type: 'get' }, -5)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });

  it('works with plain processes through isCall/reply', async () => {
    const pid = spawn(async () => {
      const m = await receive(isCall);
      reply(m.from, { echo: m.request });
    });
    expect(await call(pid, 'ping')).toEqual({ echo: 'ping' });
  });

  it('thousands of concurrent calls each get their own reply', async () => {
    const pid = GenServer.start(counter, [0]);
    const replies = await Promise.all(
      Array.from({ length: 5000 }, (_, i) => call(pid, { type: 'add', n: 0 }).then((r) => [i, r])),
    );
    expect(replies).toHaveLength(5000);
    expect(new Set(replies.map(([i]) => i)).size).toBe(5000);
  });

  it('a suspended caller does not continue until resumed', async () => {
    const me = self();
    const server = GenServer.start(counter, [0]);
    const caller = spawn(async () => {
      const r = await call(server, { type: 'slow', ms: 20, notify: me });
      send(me, { callerGot: r });
    });
    await expectReceive({ slowStarted: true }, 'the server to start handling the call');
    await suspend(caller);
    // 'get' is answered after the reply to the caller was sent; the barrier lets anything the
    // caller sent arrive: it must not have run on.
    expect(await call(server, { type: 'get' })).toBe(0);
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT);
    await resume(caller);
    expect(await receive(null, 1000)).toEqual({ callerGot: 'slow done' });
  });
});

describe('GenServer', () => {
  it('registers a name and handles info messages', async () => {
    const pid = GenServer.start(counter, [1], { name: 'ctr' });
    send('ctr', 'ping');
    expect(await call('ctr', { type: 'events' })).toEqual(['ping']); // handled before the call
    expect(await call('ctr', { type: 'get' })).toBe(1);
    expect(() => GenServer.start(counter, [1], { name: 'ctr' })).toThrow(ActorError);
    expect(isAlive(pid)).toBe(true);
  });

  it('a stop result replies, runs terminate and exits with the reason', async () => {
    const me = self();
    const spec: GenServerSpec<number> = {
      init: () => 0,
      handleCall: () => ({ stop: 'normal', reply: 'bye', state: 7 }),
      terminate: (reason, state) => send(me, { terminated: reason, state }),
    };
    const pid = GenServer.start(spec, []);
    const ref = monitor(pid);
    expect(await call(pid, 'stop')).toBe('bye');
    expect(await receive(null, 1000)).toEqual({ terminated: 'normal', state: 7 });
    await expectReceive({ type: 'DOWN', ref, reason: 'normal' }, 'the server to exit');
    expect(isAlive(pid)).toBe(false);
  });

  it('GenServer.stop waits for the server to exit', async () => {
    const me = self();
    const pid = GenServer.start(
      { init: () => 'st', terminate: (reason: unknown) => send(me, { terminate: reason }) },
      [],
    );
    await GenServer.stop(pid);
    expect(isAlive(pid)).toBe(false);
    expect(await receive(null, 1000)).toEqual({ terminate: 'normal' });
    await expect(GenServer.stop(pid)).rejects.toMatchObject({ code: 'noproc' });
  });

  it('a failing init ends the process with the error as reason', async () => {
    trapExit(true);
    const pid = GenServer.startLink(
      {
        init: () => {
          throw new Error('cannot init');
        },
      },
      [],
    );
    const msg = await receive({ type: 'EXIT', from: pid }, 1000);
    expect(String((msg as { reason: unknown }).reason)).toContain('cannot init');
  });

  it('a trapping server runs terminate when its parent exits', async () => {
    const me = self();
    const parent = spawn(async () => {
      GenServer.startLink(
        { init: () => 0, terminate: (reason: unknown) => send(me, { childTerminated: reason }) },
        [],
        { trapExit: true },
      );
      await receive();
      throw new Error('parent crash');
    });
    await untilWaiting(parent, 'the parent (its server started)');
    send(parent, 'crash now');
    const msg = await receive(null, 1000);
    expect(String((msg as { childTerminated: unknown }).childTerminated)).toContain('parent crash');
  });

  it('a handler returning garbage crashes the server with a clear reason', async () => {
    trapExit(true);
    const pid = GenServer.startLink({ init: () => 0, handleCast: () => 42 as never }, []);
    cast(pid, 'x');
    const msg = await receive({ type: 'EXIT', from: pid }, 1000);
    expect(String((msg as { reason: Error }).reason.message)).toMatch(/expected \{ state \}/);
  });

  it('rejects a bad behaviour object', () => {
    expect(() => GenServer.start({} as never, [])).toThrow(ActorError);
    expect(() => GenServer.start({ init: () => 0 }, 'notarray' as never)).toThrow(ActorError);
  });

  it('cast to a dead or unregistered server is a silent no-op', async () => {
    expect(() => cast('nobody', 'x')).not.toThrow();
    const pid = await deadPid();
    expect(() => cast(pid, 'x')).not.toThrow();
  });
});
