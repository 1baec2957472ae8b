import { afterEach, describe, expect, it } from 'vitest';
import {
  ActorError,
  exit,
  flush,
  isAlive,
  nodeName,
  Pid,
  processes,
  receive,
  self,
  send,
  sleep,
  spawn,
  spawnMonitor,
  TIMEOUT,
} from '../../actors/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import {
  barrier,
  deadPid,
  expectReceive,
  resetRuntime,
  untilDelivered,
  untilWaiting,
  waitUntil,
} from '../helpers.ts';

afterEach(resetRuntime);

describe('selective receive', () => {
  it('takes the first matching message and leaves the others in order', async () => {
    const me = self();
    send(me, { n: 1, tag: 'a' });
    send(me, { n: 2, tag: 'b' });
    send(me, { n: 3, tag: 'a' });
    send(me, { n: 4, tag: 'b' });
    expect(await receive({ tag: 'b' })).toEqual({ n: 2, tag: 'b' });
    expect(await receive((m) => (m as { n: number }).n === 4)).toEqual({ n: 4, tag: 'b' });
    expect(await receive()).toEqual({ n: 1, tag: 'a' });
    expect(await receive()).toEqual({ n: 3, tag: 'a' });
    expect(await receive(null, 0)).toBe(TIMEOUT);
  });

  it('waits for a matching message that arrives later, skipping others', async () => {
    const pid = spawn(async () => {
      const first = await receive<string>((m) => m === 'wanted');
      const rest = flush();
      send(first === 'wanted' ? 'top' : 'nowhere', rest);
    });
    const { register } = await import('../../actors/index.ts');
    register('top', self());
    send(pid, 'noise-1');
    send(pid, 'noise-2');
    // The noise is in its mailbox and it waits for more: 'wanted' truly arrives later.
    await untilDelivered(pid);
    await untilWaiting(pid, 'the selective receiver');
    send(pid, 'wanted');
    expect(await receive(null, 2000)).toEqual(['noise-1', 'noise-2']);
  });

  it('resolves to TIMEOUT after the timeout and keeps unmatched messages', async () => {
    send(self(), 'other');
    const started = performance.now();
    expect(await receive({ wanted: true }, 30)).toBe(TIMEOUT);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(await receive(null, 0)).toBe('other');
  });

  it('matches nested patterns and pids by value', async () => {
    const me = self();
    const copy = new Pid(me.node, me.id, me.creation);
    send(me, { type: 'reply', from: me, body: { ok: true, n: 1 } });
    expect(await receive({ from: copy, body: { ok: true } }, 100)).toMatchObject({
      body: { n: 1 },
    });
  });

  it('rejects a bad timeout with a typed error', async () => {
    await expect(receive(null, -1)).rejects.toThrow(ActorError);
    await expect(receive(null, Number.NaN)).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('a throwing matcher raises in the receiving process', async () => {
    send(self(), 1);
    await expect(
      receive(() => {
        throw new Error('bad matcher');
      }, 10),
    ).rejects.toThrow('bad matcher');
    expect(await receive(null, 0)).toBe(1);
  });

  it('refuses two concurrent receives in one process', async () => {
    const first = receive(null, 50);
    await expect(receive(null, 10)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await first).toBe(TIMEOUT);
  });

  it('flush returns and removes every message', async () => {
    send(self(), 1);
    send(self(), 2);
    // A message to oneself is in the mailbox at once (as on the BEAM): no wait.
    expect(flush()).toEqual([1, 2]);
    expect(flush()).toEqual([]);
  });
});

describe('processes', () => {
  it('self() is the process itself inside a process and the top-level pid outside', async () => {
    const top = self();
    const child = spawn(async (parent: Pid) => {
      await sleep(1); // self() must still be this process after an await
      send(parent, { me: self() });
    }, top);
    expect(await receive(null, 1000)).toEqual({ me: child });
    expect(child.equals(top)).toBe(false);
    expect(String(child)).toBe(`#PID<${nodeName()}.${child.id}>`);
  });

  it('a process exits normally when its function returns', async () => {
    const [pid, ref] = spawnMonitor(async () => {});
    await expectReceive({ type: 'DOWN', ref, reason: 'normal' }, 'the process to return');
    expect(isAlive(pid)).toBe(false);
  });

  it('sending to a dead process is a silent drop', async () => {
    const pid = await deadPid();
    expect(() => send(pid, 'hello?')).not.toThrow();
  });

  it('pids are never reused, unlike nact paths', async () => {
    const me = self();
    const first = await deadPid();
    const second = spawn(async () => {
      send(me, { secondGot: await receive() });
    });
    send(first, 'for the dead one');
    send(second, 'marker'); // the same path: had the first message reached it, it came first
    expect(await expectReceive({ secondGot: 'marker' }, 'the second process to answer')).toEqual({
      secondGot: 'marker',
    });
    expect(second.id).toBeGreaterThan(first.id);
  });

  it('code of a killed process sends nothing more', async () => {
    const me = self();
    let codeRanOn = false;
    const pid = spawn(async () => {
      send(me, 'started');
      try {
        await new Promise((r) => setTimeout(r, 30)); // not a runtime wait: the code goes on
        send(me, 'from the grave');
      } finally {
        codeRanOn = true;
      }
    });
    await expectReceive((m) => m === 'started', 'the process to start');
    exit(pid, 'kill');
    await waitUntil(() => codeRanOn, "the killed process's code to run on");
    await barrier(); // its send, had it gone out, is here now
    expect(await receive(null, 0)).toBe(TIMEOUT);
  });

  it('yields to the event loop while draining a long mailbox (fairness)', async () => {
    const me = self();
    const count = 20_000;
    let ticked = false;
    const drainer = spawn(async () => {
      await receive((m) => m === 'go'); // the burst queues up behind this selective receive
      for (let i = 0; i < count; i++) await receive();
      send(me, { tickedBeforeDone: ticked });
    });
    for (let i = 0; i < count; i++) send(drainer, i);
    await untilDelivered(drainer, scaledMs(10_000)); // nact handed the whole burst to the mailbox
    send(drainer, 'go');
    setImmediate(() => {
      ticked = true;
    });
    // Without a reductions budget, 20k queued messages drain in one event-loop turn.
    expect(await receive(null, 10_000)).toEqual({ tickedBeforeDone: true });
  });

  it('lists live processes', async () => {
    const pid = spawn(() => receive());
    expect(processes().some((p) => p.equals(pid))).toBe(true); // listed from spawn on
  });
});
