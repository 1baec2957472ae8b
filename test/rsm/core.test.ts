// Scenarios on the pure replica core (apps/rsm/core.ts): build cores, feed them events, check
// their effects and state. No processes, no clocks: every input is an event with its `now`.
import { describe, expect, it } from 'vitest';
import { diskCodec } from '../../actors/codec.ts';
import { inventoryMachine } from '../../apps/inventory/index.ts';
import type { InventoryOp, InventoryResult, InventoryState } from '../../apps/inventory/machine.ts';
import {
  type CatchupReply,
  createReplica,
  type ReplicaEffect,
  type ReplicaEvent,
  type ReplicaMutation,
  type ReplicaOptions,
  type ReplicaState,
  replicaStep,
} from '../../apps/rsm/core.ts';

type Core = ReplicaState<InventoryState, InventoryOp, InventoryResult, number>;
type Fx = ReplicaEffect<InventoryOp, InventoryResult, number>;
type Ev = ReplicaEvent<InventoryOp, number>;

const ALL = ['a', 'b', 'c'];

function core(
  name: string,
  options: ReplicaOptions = {},
  mutations?: ReadonlySet<ReplicaMutation>,
  procs = ALL,
): Core {
  return createReplica<InventoryState, InventoryOp, InventoryResult, number>({
    machine: inventoryMachine,
    name,
    procs,
    options,
    random: () => 0.5,
    mutations,
  });
}

const add = (reqId: string, qty = 1, item = 'x'): InventoryOp => ({
  kind: 'add',
  reqId,
  item,
  qty,
});
const view = (reqId: string): InventoryOp => ({ kind: 'view', reqId });
const of = <T extends Fx['type']>(fx: Fx[], type: T) =>
  fx.filter((e): e is Extract<Fx, { type: T }> => e.type === type);

/** Steps `r` with `event`; catch-up requests it makes are served at once by `servers`. */
function step(r: Core, event: Ev, servers: Map<string, Core> = new Map()): Fx[] {
  const all: Fx[] = [];
  const events: Ev[] = [event];
  for (let ev = events.shift(); ev; ev = events.shift()) {
    for (const e of replicaStep(r, ev)) {
      all.push(e);
      if (e.type !== 'catchup_request') continue;
      const server = servers.get(e.to);
      if (!server) {
        events.push({ type: 'catchup_failed', now: ev.now, peer: e.to });
        continue;
      }
      const answer = of(
        replicaStep(server, { type: 'catchup_request', now: ev.now, from: 0, request: e.request }),
        'reply',
      )[0]!;
      events.push({
        type: 'catchup_reply',
        now: ev.now,
        peer: e.to,
        reply: answer.message as CatchupReply,
      });
    }
  }
  return all;
}

/** Starts `r` with every participant up and `servers` as the replicas up; returns its effects. */
function start(r: Core, now: number, servers: Map<string, Core> = new Map()): Fx[] {
  const fx = step(
    r,
    { type: 'peers', now, replicas: [...servers.keys()], participants: ALL },
    servers,
  );
  return [...fx, ...step(r, { type: 'start', now }, servers)];
}

/** A replica that has applied `entries` (one per instance) and snapshotted at the end. */
function ahead(name: string, entries: InventoryOp[][], options: ReplicaOptions = {}): Core {
  const r = core(name, { snapshotEvery: entries.length, ...options });
  start(r, 0);
  let fx: Fx[] = [];
  entries.forEach((ops, inst) => {
    fx = step(r, { type: 'decide', now: 0, inst, value: { ops } });
  });
  const save = of(fx, 'save_snapshot')[0]!;
  step(r, { type: 'snapshot_saved', now: 0, snapshot: save.snapshot });
  expect(r.snapshot?.inst).toBe(entries.length);
  return r;
}

describe('replica core: the basics', () => {
  it('a lone replica catches up from nobody, leads, batches and answers once applied', () => {
    const a = core('a');
    const fx = start(a, 0);
    expect(of(fx, 'ready')).toHaveLength(1);
    const p = of(step(a, { type: 'request', now: 1, from: 7, op: add('r1') }), 'propose');
    expect(p).toEqual([{ type: 'propose', inst: 0, entry: { ops: [add('r1')] }, timeoutMs: 2000 }]);
    const done = step(a, {
      type: 'proposed',
      now: 2,
      inst: 0,
      outcome: { outcome: 'decided', value: p[0]!.entry },
    });
    expect(of(done, 'answer')).toEqual([
      { type: 'answer', to: [7], op: add('r1'), result: { ok: true, stock: { x: 1 } } },
    ]);
  });

  it('a follower forwards to the leader and watches it; its death re-routes', () => {
    const b = core('b');
    start(b, 0, new Map([['a', core('a')]]));
    const fx = step(b, { type: 'request', now: 1, from: 1, op: add('r1') });
    expect(fx).toEqual([
      { type: 'watch', name: 'a' },
      { type: 'forward', to: 'a', ops: [add('r1')] },
    ]);
    // b leads once a is gone: the pending request is proposed at once.
    const down = step(b, { type: 'leader_down', now: 2, name: 'a' });
    expect(of(down, 'propose').map((e) => e.entry.ops)).toEqual([[add('r1')]]);
  });

  it('a follower with a hole catches up and fills nothing while the leader is up; the leader fills', () => {
    // A hole at 0 with 1 decided: a follower's no-op at 0 would start a competing ballot (with
    // Multi-Paxos terms, one pre-empting the leader's whole window) where the leader is at work.
    const leaderCore = core('a');
    const b = core('b');
    start(b, 0, new Map([['a', leaderCore]]));
    step(b, { type: 'decide', now: 1, inst: 1, value: { ops: [add('r1')] } });
    const fillers = (r: Core, from: number) => {
      const fx: Fx[] = [];
      for (let now = from; now < from + 2000; now += 100)
        fx.push(...step(r, { type: 'tick', now }));
      return of(fx, 'propose').filter((e) => e.entry.ops.length === 0);
    };
    expect(fillers(b, 2)).toEqual([]);
    // the leader with the same hole fills it
    const a = core('a');
    start(a, 0);
    step(a, { type: 'decide', now: 1, inst: 1, value: { ops: [add('r1')] } });
    expect(fillers(a, 2).map((e) => e.inst)).toEqual([0]);
    // once the leader is gone, the follower leads and fills at once
    const down = step(b, { type: 'leader_down', now: 3000, name: 'a' });
    const after = [...down, ...step(b, { type: 'tick', now: 3100 })];
    expect(
      of(after, 'propose')
        .filter((e) => e.entry.ops.length === 0)
        .map((e) => e.inst),
    ).toEqual([0]);
  });

  it('told it missed the last decided instance (no hole after it), a follower catches up', () => {
    // Found by a flaky kill-restart run: a restarted replica missed the accept of the last
    // instance before the load stopped; with nothing decided after it, it saw no hole and stayed
    // one instance behind for ever.
    const a = ahead('a', [[add('r0')], [add('r1')]]);
    const b = core('b');
    start(b, 0, new Map([['a', a]]));
    expect(b.applied).toBe(2);
    const a2 = core('a');
    start(a2, 0);
    for (const [inst, ops] of [[add('r0')], [add('r1')], [add('r2')]].entries())
      step(a2, { type: 'decide', now: 1, inst, value: { ops } });
    step(b, { type: 'missed', now: 10, inst: 2 });
    const fx: Fx[] = [];
    for (let now = 20; now < 1000 && b.applied < 3; now += 50)
      fx.push(...step(b, { type: 'tick', now }, new Map([['a', a2]])));
    expect(of(fx, 'catchup_request').map((e) => e.request.from)).toEqual([2]);
    expect(b.applied).toBe(3);
    // an instance it has already applied changes nothing
    step(b, { type: 'missed', now: 2000, inst: 1 });
    expect(of(step(b, { type: 'tick', now: 3000 }), 'catchup_request')).toEqual([]);
  });

  it('with a quiet log, a follower probes a peer now and then, and learns what it missed', () => {
    // The leader's `chosen` for the last instances was lost: no hole, no `missed` either.
    const run = (mutations?: ReadonlySet<ReplicaMutation>) => {
      const leaderCore = core('a');
      start(leaderCore, 0);
      const b = core('b', {}, mutations);
      start(b, 0, new Map([['a', leaderCore]]));
      expect(b.applied).toBe(0);
      for (const [inst, ops] of [[add('r0')], [add('r1')]].entries())
        step(leaderCore, { type: 'decide', now: 1, inst, value: { ops } });
      const fx: Fx[] = [];
      for (let now = 100; now <= 5000; now += 100)
        fx.push(...step(b, { type: 'tick', now }, new Map([['a', leaderCore]])));
      return { b, probes: of(fx, 'catchup_request') };
    };
    // b started before anything was decided and heard nothing since: after 1 s of quiet it asks
    // the leader, learns both instances, and probes again only after longer and longer waits.
    const { b, probes } = run();
    expect(b.applied).toBe(2);
    expect(probes[0]!.to).toBe('a');
    expect(probes.length).toBeLessThanOrEqual(4);
    const off = run(new Set(['ignore-missed']));
    expect(off.b.applied).toBe(0);
    expect(off.probes).toEqual([]);
  });

  it('an invalid operation is refused with a value, nothing proposed', () => {
    const a = core('a');
    start(a, 0);
    const fx = step(a, { type: 'request', now: 1, from: 3, op: add('r1', -1) });
    expect(fx).toEqual([
      {
        type: 'reply',
        to: 3,
        message: { rsmError: { code: 'invalid_argument', message: expect.any(String) } },
      },
    ]);
  });
});

describe('replica core: bug d, a failed proposal retries its own instance', () => {
  it('pre-empted: after the backoff, the same instance again (no hole left behind)', () => {
    const a = core('a');
    start(a, 0);
    step(a, { type: 'request', now: 1000, from: 1, op: add('r1') });
    const lost = step(a, {
      type: 'proposed',
      now: 1001,
      inst: 0,
      outcome: { outcome: 'aborted', reason: 'preempted' },
    });
    expect(of(lost, 'propose')).toEqual([]);
    expect(of(lost, 'wake')).toEqual([{ type: 'wake', afterMs: 5 }]); // 0.5 * 2 * 5 ms
    const again = step(a, { type: 'wake', now: 1006 });
    expect(of(again, 'propose').map((e) => [e.inst, e.entry.ops])).toEqual([[0, [add('r1')]]]);
  });

  it('timed out: the same instance again', () => {
    const a = core('a');
    start(a, 0);
    step(a, { type: 'request', now: 1000, from: 1, op: add('r1') });
    const fx = [
      ...step(a, { type: 'proposed', now: 3000, inst: 0, outcome: { outcome: 'timeout' } }),
      ...step(a, { type: 'wake', now: 3100 }),
    ];
    expect(of(fx, 'propose').map((e) => e.inst)).toEqual([0]);
  });

  it('an instance decided with another value: only then do its ops move on', () => {
    const a = core('a');
    start(a, 0);
    step(a, { type: 'request', now: 1000, from: 1, op: add('r1') });
    const fx = step(a, {
      type: 'proposed',
      now: 1001,
      inst: 0,
      outcome: { outcome: 'decided', value: { ops: [add('other')] } },
    });
    expect(of(fx, 'propose').map((e) => [e.inst, e.entry.ops])).toEqual([[1, [add('r1')]]]);
  });
});

describe('replica core: bug e, a read skipped by an adopted snapshot', () => {
  it('is proposed again and answered, not left owned forever', () => {
    const b = ahead('b', [[add('r0')], [view('r1')]]);
    const a = core('a');
    start(a, 0); // alone at first: it leads
    step(a, { type: 'request', now: 10, from: 1, op: add('r0') }); // inst 0, never answered
    step(a, { type: 'request', now: 10, from: 2, op: view('r1') }); // inst 1
    step(a, {
      type: 'proposed',
      now: 11,
      inst: 1,
      outcome: { outcome: 'decided', value: { ops: [view('r1')] } },
    });
    expect(a.applied).toBe(0); // waiting for inst 0
    const servers = new Map([['b', b]]);
    step(a, { type: 'peers', now: 12, replicas: ['b'], participants: ALL }, servers);
    // The hole at 0 is old: a catches up from b, whose snapshot covers 0 and 1.
    const fx = [
      ...step(a, { type: 'tick', now: 12 }, servers),
      ...step(a, { type: 'tick', now: 200 }, servers),
    ];
    expect(a.applied).toBe(2);
    expect(of(fx, 'reply')).toEqual([{ type: 'reply', to: 1, message: expect.anything() }]);
    // The read's instance was skipped: it must be proposed again (at once, or after a resend).
    let proposed: Fx[] = of(fx, 'propose');
    for (let now = 300; now <= 3000; now += 100)
      proposed = [...proposed, ...of(step(a, { type: 'tick', now }, servers), 'propose')];
    const read = proposed.find(
      (e) => e.type === 'propose' && e.entry.ops.some((op) => op.reqId === 'r1'),
    );
    expect(read).toMatchObject({ type: 'propose' });
    if (read?.type !== 'propose') return;
    expect(read.inst).toBeGreaterThanOrEqual(2);
    const answered = step(a, {
      type: 'proposed',
      now: 3001,
      inst: read.inst,
      outcome: { outcome: 'decided', value: read.entry },
    });
    expect(of(answered, 'answer')).toMatchObject([{ to: [2], result: { ok: true } }]);
  });
});

describe('replica core: bug f, a snapshot travels in bounded chunks', () => {
  const CHUNK = 256;
  const big = () =>
    Array.from({ length: 40 }, (_, i) => [add(`w${i}`, 1, `item-${i}`), add(`v${i}`, 2)]);

  it('every catch-up reply stays under the chunk size; the snapshot is adopted whole', () => {
    const b = ahead('b', big(), { snapshotChunkBytes: CHUNK });
    const codec = diskCodec();
    expect(codec.pack(b.snapshot!.state).length).toBeGreaterThan(4 * CHUNK);
    const c = core('c', { snapshotChunkBytes: CHUNK });
    const sizes: number[] = [];
    const sizing = new Map([['b', b]]);
    const fx = start(c, 0, sizing);
    for (const e of of(fx, 'catchup_request')) {
      const served = of(
        replicaStep(b, { type: 'catchup_request', now: 0, from: 0, request: e.request }),
        'reply',
      );
      sizes.push(codec.pack(served[0]!.message).length);
    }
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    for (const size of sizes) expect(size).toBeLessThan(CHUNK + 512);
    expect(of(fx, 'ready')).toHaveLength(1);
    expect(c.applied).toBe(b.applied);
    expect(inventoryMachine.snapshot(c.state)).toEqual(inventoryMachine.snapshot(b.state));
    expect(c.snapshot?.inst).toBe(40);
  });

  it('a peer gone mid-transfer: the next peer serves the snapshot from its start', () => {
    const b = ahead('b', big(), { snapshotChunkBytes: CHUNK });
    const a = ahead('a', big(), { snapshotChunkBytes: CHUNK });
    const c = core('c', { snapshotChunkBytes: CHUNK });
    // a (asked first) answers its first two requests, then is gone (the request fails).
    let answered = 0;
    const servers = new Map<string, Core>([
      ['a', a],
      ['b', b],
    ]);
    const fx: Fx[] = [];
    const events: Ev[] = [
      { type: 'peers', now: 0, replicas: ['a', 'b'], participants: ALL },
      { type: 'start', now: 0 },
    ];
    for (let ev = events.shift(); ev; ev = events.shift()) {
      for (const e of replicaStep(c, ev)) {
        fx.push(e);
        if (e.type !== 'catchup_request') continue;
        const server = servers.get(e.to)!;
        if (e.to === 'a' && answered++ >= 2) {
          events.push({ type: 'catchup_failed', now: 0, peer: e.to });
          continue;
        }
        const [reply] = of(
          replicaStep(server, {
            type: 'catchup_request',
            now: 0,
            from: 0,
            request: e.request,
          }),
          'reply',
        );
        events.push({
          type: 'catchup_reply',
          now: 0,
          peer: e.to,
          reply: reply!.message as CatchupReply,
        });
      }
    }
    const asked = of(fx, 'catchup_request');
    expect(asked.filter((e) => e.to === 'a').map((e) => e.request)).toEqual([
      { from: 0 },
      { from: 0, chunk: { inst: 40, index: 1 } },
      { from: 0, chunk: { inst: 40, index: 2 } },
    ]);
    // The first request to b starts the snapshot afresh.
    expect(asked.find((e) => e.to === 'b')?.request).toEqual({ from: 0 });
    expect(of(fx, 'ready')).toHaveLength(1);
    expect(c.applied).toBe(40);
    expect(inventoryMachine.snapshot(c.state)).toEqual(inventoryMachine.snapshot(b.state));
  });

  it('a chunk of another snapshot (the server snapshotted meanwhile) restarts the transfer', () => {
    const b = ahead('b', big(), { snapshotChunkBytes: CHUNK });
    const c = core('c', { snapshotChunkBytes: CHUNK });
    const fx = step(c, { type: 'peers', now: 0, replicas: ['b'], participants: ALL });
    fx.push(...replicaStep(c, { type: 'start', now: 0 }));
    const first = of(fx, 'catchup_request')[0]!;
    const [r1] = of(
      replicaStep(b, { type: 'catchup_request', now: 0, from: 0, request: first.request }),
      'reply',
    );
    const next = of(
      replicaStep(c, {
        type: 'catchup_reply',
        now: 0,
        peer: 'b',
        reply: r1!.message as CatchupReply,
      }),
      'catchup_request',
    )[0]!;
    // b moves on: 40 more instances and a new snapshot at 80.
    let saved: Fx[] = [];
    for (let inst = 40; inst < 80; inst++)
      saved = replicaStep(b, { type: 'decide', now: 0, inst, value: { ops: [add(`n${inst}`)] } });
    const snap = of(saved, 'save_snapshot')[0]!.snapshot;
    replicaStep(b, { type: 'snapshot_saved', now: 0, snapshot: snap });
    // c asks for its next chunk of the old snapshot: it gets the new one from its start.
    let request = next;
    for (let i = 0; i < 100 && c.applied < 80; i++) {
      const [r] = of(
        replicaStep(b, { type: 'catchup_request', now: 0, from: 0, request: request.request }),
        'reply',
      );
      const out = replicaStep(c, {
        type: 'catchup_reply',
        now: 0,
        peer: 'b',
        reply: r!.message as CatchupReply,
      });
      const more = of(out, 'catchup_request')[0];
      if (!more) break;
      request = more;
    }
    expect(c.applied).toBe(80);
    expect(inventoryMachine.snapshot(c.state)).toEqual(inventoryMachine.snapshot(b.state));
  });
});

describe('replica core: the test-only mutation forget-snapshot-results', () => {
  it('adopting a snapshot drops the remembered results only when switched on', () => {
    for (const mutations of [undefined, new Set<ReplicaMutation>(['forget-snapshot-results'])]) {
      const b = ahead('b', [[add('r0')], [add('r1')]]);
      const c = core('c', {}, mutations);
      start(c, 0, new Map([['b', b]]));
      expect(c.applied).toBe(2);
      const remembered = inventoryMachine.resultOf(c.state, 'r0');
      if (mutations) expect(remembered).toBeUndefined();
      else expect(remembered).toEqual({ ok: true, stock: { x: 1 } });
    }
  });
});

describe('replica core: an instance the others compacted (found by the simulator, seed 412)', () => {
  it('catches up from a snapshot, proposing nothing meanwhile, then goes on', () => {
    // b, c applied 0..3 and compacted below 4; a, the leader, is at 0 and proposes there.
    const entries = [[add('o1')], [add('o2')], [add('o3')], [add('o4')]];
    const b = ahead('b', entries);
    const a = core('a', { window: 1 });
    start(a, 0);
    const p = of(step(a, { type: 'request', now: 1, from: 1, op: add('r1') }), 'propose');
    expect(p.map((e) => e.inst)).toEqual([0]);
    // The acceptors say "compacted": a asks b (up), and proposes nothing until that is done.
    replicaStep(a, { type: 'peers', now: 2, replicas: ['b'], participants: ALL });
    const aborted = replicaStep(a, {
      type: 'proposed',
      now: 3,
      inst: 0,
      outcome: { outcome: 'aborted', reason: 'compacted' },
    });
    expect(of(aborted, 'propose')).toEqual([]);
    const ask = of(aborted, 'catchup_request');
    expect(ask.map((e) => e.to)).toEqual(['b']);
    expect(a.behind).toBe(true);
    for (let t = 10; t < 1000; t += 100)
      expect(of(replicaStep(a, { type: 'tick', now: t }), 'propose')).toEqual([]);
    // b answers with its snapshot: a adopts it, and r1 is proposed after it.
    const answer = of(
      replicaStep(b, { type: 'catchup_request', now: 1000, from: 0, request: ask[0]!.request }),
      'reply',
    )[0]!;
    const fx = step(a, {
      type: 'catchup_reply',
      now: 1000,
      peer: 'b',
      reply: answer.message as CatchupReply,
    });
    expect(a.applied).toBe(4);
    expect(a.behind).toBe(false);
    expect(of(fx, 'propose').map((e) => [e.inst, e.entry.ops])).toEqual([[4, [add('r1')]]]);
  });
});

describe('replica core: reconfiguration through the log (stop sign, one Paxos group per epoch)', () => {
  const reconfig = (reqId: string, change: { add?: string; remove?: string }) =>
    ({ reqId, rsm: 'reconfig', ...change }) as unknown as InventoryOp;
  const FOUR = [...ALL, 'd'];
  /** A replica joining, given the replicas to catch up from. */
  const joiner = (name: string, procs: string[]): Core =>
    createReplica<InventoryState, InventoryOp, InventoryResult, number>({
      machine: inventoryMachine,
      name,
      procs,
      join: true,
      random: () => 0.5,
    });

  it("ends the epoch at the stop sign: the old group's later decisions are void, their ops proposed again", () => {
    const a = core('a');
    start(a, 0);
    const p = of(step(a, { type: 'request', now: 1, from: 1, op: add('r1') }), 'propose');
    expect(p.map((e) => e.inst)).toEqual([0]);
    // Another proposer's reconfiguration wins instance 0; a's r1 goes to instance 1 (epoch 0).
    const fx = step(a, {
      type: 'decide',
      now: 2,
      inst: 0,
      value: { ops: [reconfig('rc', { add: 'd' })] },
    });
    expect(of(fx, 'epoch')).toEqual([{ type: 'epoch', epoch: 1, members: FOUR }]);
    expect(a.reconfigs.get('rc')).toEqual({ ok: true, epoch: 1, members: FOUR });
    // The new group is not known up yet: nothing is proposed until its participants are seen.
    expect(of(fx, 'propose')).toEqual([]);
    const go = step(a, { type: 'peers', now: 3, replicas: [], participants: FOUR });
    expect(of(go, 'propose')).toEqual([
      { type: 'propose', inst: 1, entry: { ops: [add('r1')], epoch: 1 }, timeoutMs: 2000 },
    ]);
    // The old group decides instance 1 too (a ballot of epoch 0 still in flight): void.
    step(a, { type: 'decide', now: 4, inst: 1, value: { ops: [add('zz', 5)] } });
    expect(a.applied).toBe(1);
    expect(a.decided.size).toBe(0);
    // The old group's late answer to a's epoch-0 ballot does not touch its epoch-1 one.
    const late = step(a, {
      type: 'proposed',
      now: 5,
      inst: 1,
      epoch: 0,
      outcome: { outcome: 'aborted', reason: 'preempted' },
    });
    expect(late).toEqual([]);
    expect(a.inflight.get(1)?.outstanding).toBe(true);
    // The new group's decision is the one applied.
    const done = step(a, {
      type: 'proposed',
      now: 6,
      inst: 1,
      epoch: 1,
      outcome: { outcome: 'decided', value: { ops: [add('r1')], epoch: 1 } },
    });
    expect(of(done, 'answer').map((e) => e.result)).toEqual([{ ok: true, stock: { x: 1 } }]);
    expect(a.state.stock.get('zz')).toBeUndefined();
    // A snapshot starts the new epoch, with its configuration.
    expect(of(fx, 'save_snapshot').map((e) => e.snapshot)).toMatchObject([
      { inst: 1, epoch: 1, members: FOUR, reconfigs: [['rc', { ok: true }]] },
    ]);
  });

  it('an op settled by a decision that the stop sign then voids is proposed again (simulator, seed 6)', () => {
    const a = core('a', { batchMax: 1 });
    start(a, 0);
    step(a, { type: 'request', now: 1, from: 1, op: add('r0') });
    const p = of(step(a, { type: 'request', now: 1, from: 2, op: add('r1') }), 'propose');
    expect(p.map((e) => e.inst)).toEqual([1]);
    // Instance 1 decides r1 in epoch 0 (a's own ballot), before instance 0 is known.
    step(a, { type: 'decide', now: 2, inst: 1, value: { ops: [add('r1')] } });
    // Instance 0 is a reconfiguration: instance 1 of epoch 0 is void, r1 is not in the log.
    step(a, { type: 'decide', now: 3, inst: 0, value: { ops: [reconfig('rc', { add: 'd' })] } });
    expect(a.applied).toBe(1);
    const go = step(a, { type: 'peers', now: 4, replicas: [], participants: FOUR });
    expect(of(go, 'propose').flatMap((e) => e.entry.ops.map((op) => op.reqId))).toEqual([
      'r0',
      'r1',
    ]);
  });

  it('a removed replica answers its callers not_member, says so, and stops proposing', () => {
    const c = core('c');
    start(c, 0, new Map());
    step(c, { type: 'peers', now: 1, replicas: ['a', 'b'], participants: ALL });
    // A request waits at c (forwarded to the leader a).
    step(c, { type: 'request', now: 2, from: 9, op: add('r9') });
    const fx = step(c, {
      type: 'decide',
      now: 3,
      inst: 0,
      value: { ops: [reconfig('rc', { remove: 'c' })] },
    });
    expect(of(fx, 'epoch')).toEqual([{ type: 'epoch', epoch: 1, members: ['a', 'b'] }]);
    expect(of(fx, 'removed')).toHaveLength(1);
    expect(of(fx, 'reply')).toEqual([
      {
        type: 'reply',
        to: 9,
        message: {
          rsmError: {
            code: 'not_member',
            message: "inventory replica 'c' was removed from the service; call one of a, b",
          },
        },
      },
    ]);
    const again = step(c, { type: 'request', now: 4, from: 10, op: add('r10') });
    expect(of(again, 'reply')[0]?.message).toMatchObject({ rsmError: { code: 'not_member' } });
    expect(of(again, 'forward')).toEqual([]);
  });

  it('refuses a malformed reconfiguration, and applies a refused one as a remembered no-change', () => {
    const a = core('a');
    start(a, 0);
    const bad = step(a, {
      type: 'request',
      now: 1,
      from: 1,
      op: reconfig('x', { add: 'a', remove: 'b' }),
    });
    expect(of(bad, 'reply')[0]?.message).toMatchObject({ rsmError: { code: 'invalid_argument' } });
    expect(of(bad, 'propose')).toEqual([]);
    const fx = step(a, {
      type: 'decide',
      now: 2,
      inst: 0,
      value: { ops: [reconfig('r-add', { add: 'b' }), reconfig('r-rm', { remove: 'zz' })] },
    });
    expect(of(fx, 'epoch')).toEqual([]);
    expect(a.reconfigs.get('r-add')).toMatchObject({ ok: false, error: 'already_member' });
    expect(a.reconfigs.get('r-rm')).toMatchObject({ ok: false, error: 'not_member' });
    // A retry under the same reqId gets the remembered result, proposing nothing.
    const retry = step(a, {
      type: 'request',
      now: 3,
      from: 2,
      op: reconfig('r-add', { add: 'b' }),
    });
    expect(of(retry, 'reply')[0]?.message).toMatchObject({ ok: false, error: 'already_member' });
    expect(of(retry, 'propose')).toEqual([]);
  });

  it('a joining replica catches up (snapshot with its configuration), and serves once a member', () => {
    // b applied two operations and the reconfiguration adding d, snapshotted after it.
    const b = core('b', { snapshotEvery: 1000 });
    start(b, 0);
    step(b, { type: 'decide', now: 0, inst: 0, value: { ops: [add('o1')] } });
    const fx = step(b, {
      type: 'decide',
      now: 0,
      inst: 1,
      value: { ops: [reconfig('rc', { add: 'd' })] },
    });
    const save = of(fx, 'save_snapshot')[0]!; // a new epoch starts from a snapshot
    expect(save.snapshot).toMatchObject({ inst: 2, epoch: 1, members: FOUR });
    step(b, { type: 'snapshot_saved', now: 0, snapshot: save.snapshot });
    const d = joiner('d', ['b']);
    const servers = new Map([['b', b]]);
    step(d, { type: 'peers', now: 0, replicas: ['b'], participants: [] }, servers);
    const started = step(d, { type: 'start', now: 0 }, servers);
    // It starts with the replicas it was given, then learns the configuration from b's snapshot.
    expect(of(started, 'epoch')).toEqual([
      { type: 'epoch', epoch: 0, members: ['b'] },
      { type: 'epoch', epoch: 1, members: FOUR },
    ]);
    expect(of(started, 'ready')).toHaveLength(1);
    expect(d.applied).toBe(2);
    expect(d.state.stock.get('x')).toBe(1);
    expect(d.reconfigs.get('rc')).toMatchObject({ ok: true, epoch: 1 });
  });

  it('a joining replica whose old data says it is a member does not stop at its old removal', () => {
    // d was a member (its snapshot says so) and was removed; it is being added again, started to
    // join on its old data. Whether its store holds the removal or not, it must not stop there.
    const log = [
      { ops: [reconfig('r-add', { add: 'd' })] },
      { ops: [add('o1')], epoch: 1 },
      { ops: [reconfig('r-rm', { remove: 'd' })], epoch: 1 },
      { ops: [reconfig('r-again', { add: 'd' })], epoch: 2 },
    ];
    const old = (decided: Array<[number, unknown]>) =>
      createReplica<InventoryState, InventoryOp, InventoryResult, number>(
        { machine: inventoryMachine, name: 'd', procs: ['b'], join: true, random: () => 0.5 },
        {
          snapshot: {
            inst: 1,
            state: inventoryMachine.snapshot(inventoryMachine.empty()),
            epoch: 1,
            members: FOUR,
          },
          decided,
        },
      );
    const b = core('b');
    start(b, 0);
    for (const [inst, value] of log.slice(0, 3).entries())
      step(b, { type: 'decide', now: 0, inst, value });
    const servers = new Map([['b', b]]);
    // Its store holds the removal: replayed, it is no member, and it asks b again and again.
    const d1 = old([
      [1, log[1]],
      [2, log[2]],
    ]);
    step(d1, { type: 'peers', now: 0, replicas: ['b'], participants: [] }, servers);
    expect(of(step(d1, { type: 'start', now: 0 }, servers), 'removed')).toEqual([]);
    expect(d1.members).toEqual(ALL);
    step(b, { type: 'decide', now: 1, inst: 3, value: log[3] });
    expect(of(step(d1, { type: 'tick', now: 500 }, servers), 'ready')).toHaveLength(1);
    expect(d1.members).toEqual(FOUR);
    // Its store does not hold the removal: it learns it from b while catching up, goes on.
    const d2 = old([[1, log[1]]]);
    expect(d2.members).toEqual(FOUR); // a member, by its old data
    step(d2, { type: 'peers', now: 0, replicas: ['b'], participants: [] }, servers);
    const started = step(d2, { type: 'start', now: 0 }, servers);
    expect(of(started, 'removed')).toEqual([]);
    expect(of(started, 'ready')).toHaveLength(1);
    expect([d2.epoch, d2.members]).toEqual([3, FOUR]);
  });

  it('a joining replica that is no member yet refuses calls and asks again later', () => {
    const b = core('b');
    start(b, 0);
    const d = joiner('d', ['b']);
    const servers = new Map([['b', b]]);
    step(d, { type: 'peers', now: 0, replicas: ['b'], participants: [] }, servers);
    expect(of(step(d, { type: 'start', now: 0 }, servers), 'ready')).toEqual([]);
    const call = step(d, { type: 'request', now: 1, from: 3, op: add('r1') });
    expect(of(call, 'reply')[0]?.message).toMatchObject({ rsmError: { code: 'not_member' } });
    // b applies the reconfiguration; d, asking again on a tick, becomes a member and serves.
    step(b, { type: 'decide', now: 2, inst: 0, value: { ops: [reconfig('rc', { add: 'd' })] } });
    expect(of(step(d, { type: 'tick', now: 100 }, servers), 'ready')).toEqual([]); // too soon
    // b has no snapshot: its entries from position 0 come with epoch 0's replicas, which d
    // needs to apply the reconfiguration as b did.
    const later = step(d, { type: 'tick', now: 300 }, servers);
    expect(of(later, 'epoch')).toEqual([
      { type: 'epoch', epoch: 0, members: ALL },
      { type: 'epoch', epoch: 1, members: FOUR },
    ]);
    expect(of(later, 'ready')).toHaveLength(1);
    expect(d.members).toEqual(FOUR);
  });
});
