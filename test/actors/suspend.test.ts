import { afterEach, describe, expect, it } from 'vitest';
import {
  cancelTimer,
  isAlive,
  kill,
  link,
  messageQueueLen,
  monitor,
  processInfo,
  receive,
  register,
  resume,
  self,
  send,
  sendAfter,
  sleep,
  spawn,
  suspend,
  TIMEOUT,
  trapExit,
} from '../../actors/index.ts';
import {
  barrier,
  expectReceive,
  resetRuntime,
  untilDelivered,
  untilTimedOutWhileSuspended,
  untilWaiting,
} from '../helpers.ts';

afterEach(resetRuntime);

/** A process that reports every message it takes to `to`. */
function reporter(to = self()) {
  return spawn(async () => {
    for (;;) send(to, { took: await receive() });
  });
}

describe('suspend and resume', () => {
  it('a suspended process keeps receiving but does not run', async () => {
    const pid = reporter();
    await untilWaiting(pid, 'the reporter');
    expect(await suspend(pid)).toBe(true);
    send(pid, 1);
    send(pid, 2);
    send(pid, 3);
    // Once the messages are in its mailbox a running reporter would have answered; the
    // barrier lets any answer arrive.
    await untilDelivered(pid);
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT);
    expect(await messageQueueLen(pid)).toBe(3);
    expect(processInfo(pid)?.status).toBe('suspended');
    expect(await resume(pid)).toBe(true);
    for (const n of [1, 2, 3]) expect(await receive(null, 1000)).toEqual({ took: n });
    expect(await messageQueueLen(pid)).toBe(0);
  });

  it('suspends nest: two suspends need two resumes', async () => {
    const pid = reporter();
    await suspend(pid);
    await suspend(pid);
    send(pid, 'x');
    await untilDelivered(pid);
    await resume(pid);
    await barrier(); // an answer from a wrongly resumed reporter would be here by now
    expect(await receive(null, 0)).toBe(TIMEOUT);
    await resume(pid);
    expect(await receive(null, 1000)).toEqual({ took: 'x' });
    expect(await resume(pid)).toBe(false); // not suspended any more
  });

  it('a receive timeout that passes while suspended takes effect on resume', async () => {
    const me = self();
    const pid = spawn(async () => {
      send(me, { result: await receive(null, 20) });
    });
    await untilWaiting(pid, 'the process');
    await suspend(pid);
    await untilTimedOutWhileSuspended(pid);
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT);
    await resume(pid);
    expect(await receive(null, 1000)).toEqual({ result: TIMEOUT });
  });

  it('sleep does not end while suspended', async () => {
    const me = self();
    const pid = spawn(async () => {
      await sleep(10); // the behaviour under test: a sleep that ends while suspended
      send(me, 'woke');
    });
    await untilWaiting(pid, 'the sleeper');
    await suspend(pid);
    await untilTimedOutWhileSuspended(pid);
    await barrier();
    expect(await receive(null, 0)).toBe(TIMEOUT);
    await resume(pid);
    expect(await receive(null, 1000)).toBe('woke');
  });

  it('a suspended process can still be killed', async () => {
    const pid = reporter();
    await suspend(pid);
    send(pid, 'x');
    kill(pid);
    expect(isAlive(pid)).toBe(false);
    expect(await messageQueueLen(pid)).toBeUndefined();
    expect(await suspend(pid)).toBe(false);
    expect(await resume(pid)).toBe(false);
  });

  it('a process cannot suspend itself', async () => {
    await expect(suspend(self())).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(suspend('nope' as never)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('mailbox length and process info', () => {
  it('counts messages not yet taken, wherever they are queued', async () => {
    const pid = spawn(() => receive((m) => m === 'stop'));
    for (let i = 0; i < 50; i++) send(pid, i);
    expect(await messageQueueLen(pid)).toBe(50); // still in nact's queue
    await untilDelivered(pid);
    expect(await messageQueueLen(pid)).toBe(50); // now in the runtime's mailbox
    const ref = monitor(pid);
    send(pid, 'stop');
    await expectReceive({ type: 'DOWN', ref, reason: 'normal' }, 'the process to take stop');
    expect(isAlive(pid)).toBe(false);
  });

  it('processInfo reports links, name and status', async () => {
    const pid = spawn(() => receive());
    await untilWaiting(pid, 'the process');
    trapExit(true); // the link below must not take the test process down in the cleanup
    link(pid);
    register('info_target', pid);
    const info = processInfo(pid);
    expect(info).toMatchObject({
      pid,
      name: 'info_target',
      status: 'waiting',
      trapExit: false,
      messageQueueLen: 0,
      links: [self()],
      parent: self(),
    });
  });
});

describe('timers', () => {
  it('sendAfter delivers after the delay; cancelTimer stops it', async () => {
    const me = self();
    const started = performance.now();
    sendAfter(me, 'tick', 20);
    const ref = sendAfter(me, 'cancelled', 20);
    const left = cancelTimer(ref);
    expect(typeof left).toBe('number');
    expect(await receive(null, 1000)).toBe('tick');
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    // A later timer on the same path: once it is here, the cancelled one would have been too.
    sendAfter(me, 'after', 10);
    expect(await receive(null, 1000)).toBe('after');
    expect(await receive(null, 0)).toBe(TIMEOUT);
    expect(cancelTimer(ref)).toBe(false);
  });

  it('a timer to a process is cancelled when that process dies', async () => {
    const pid = spawn(() => receive());
    const ref = sendAfter(pid, 'late', 50);
    kill(pid);
    expect(cancelTimer(ref)).toBe(false);
  });

  it('a timer to a name resolves the name when it fires', async () => {
    const me = self();
    sendAfter('later_name', 'hello', 20);
    const pid = spawn(async () => send(me, { got: await receive() }));
    const { register } = await import('../../actors/index.ts');
    register('later_name', pid);
    expect(await receive(null, 1000)).toEqual({ got: 'hello' });
  });

  it('rejects bad delays and destinations', () => {
    expect(() => sendAfter(self(), 'x', -1)).toThrow(/non-negative/);
    expect(() => sendAfter(42 as never, 'x', 1)).toThrow(/destination/);
  });
});
