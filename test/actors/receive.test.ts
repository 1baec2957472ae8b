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
  TIMEOUT,
} from '../../actors/index.ts';
import { resetRuntime } from '../helpers.ts';

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
    await sleep(5);
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
    await sleep(1);
    expect(flush()).toEqual([1, 2]);
    expect(flush()).toEqual([]);
  });
});

describe('processes', () => {
  it('self() is the process itself inside a process and the top-level pid outside', async () => {
    const top = self();
    const child = spawn(async (parent: Pid) => {
      await sleep(1);
      send(parent, { me: self() });
    }, top);
    expect(await receive(null, 1000)).toEqual({ me: child });
    expect(child.equals(top)).toBe(false);
    expect(String(child)).toBe(`#PID<${nodeName()}.${child.id}>`);
  });

  it('a process exits normally when its function returns', async () => {
    const pid = spawn(async () => {});
    await sleep(5);
    expect(isAlive(pid)).toBe(false);
  });

  it('sending to a dead process is a silent drop', async () => {
    const pid = spawn(() => {});
    await sleep(5);
    expect(() => send(pid, 'hello?')).not.toThrow();
  });

  it('pids are never reused, unlike nact paths', async () => {
    const first = spawn(() => {});
    await sleep(5);
    const second = spawn(async () => {
      const m = await receive(null, 200);
      send('top2', m);
    });
    const { register } = await import('../../actors/index.ts');
    register('top2', self());
    send(first, 'for the dead one');
    expect(await receive(null, 500)).toBe(TIMEOUT);
    expect(second.id).toBeGreaterThan(first.id);
  });

  it('code of a killed process sends nothing more', async () => {
    const me = self();
    const pid = spawn(async () => {
      await new Promise((r) => setTimeout(r, 30)); // not a runtime wait: the code goes on
      send(me, 'from the grave');
    });
    await sleep(5);
    exit(pid, 'kill');
    expect(await receive(null, 80)).toBe(TIMEOUT);
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
    await sleep(100); // let nact hand the whole burst over to the mailbox
    send(drainer, 'go');
    setImmediate(() => {
      ticked = true;
    });
    // Without a reductions budget, 20k queued messages drain in one event-loop turn.
    expect(await receive(null, 10_000)).toEqual({ tickedBeforeDone: true });
  });

  it('lists live processes', async () => {
    const pid = spawn(() => receive());
    await sleep(1);
    expect(processes().some((p) => p.equals(pid))).toBe(true);
  });
});
