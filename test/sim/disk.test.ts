// The simulated disk (apps/sim/disk.ts): committed at once, flushed later in order; a process
// crash keeps committed writes, a power loss keeps only flushed ones; held effects wait a flush.
import { describe, expect, it } from 'vitest';
import { Disk, parseFlushTiming } from '../../apps/sim/disk.ts';
import { DEFAULT_SIM, PIGGYBACK_FLUSH_MS, simulate } from '../../apps/sim/simulator.ts';

const promise = (round: number) => ({
  type: 'persist' as const,
  inst: 0,
  record: { promised: { round, leader: 'n1' }, accepted: null },
});
/** A disk whose flushes take exactly `ms`. */
const disk = (ms = 1) => new Disk(() => 0.5, { minMs: ms, maxMs: ms });

describe('the simulated disk', () => {
  it('a write is committed at once and flushed later', () => {
    const d = disk();
    const f = d.write(promise(1), 10, 1)!;
    expect(f.at).toBe(11);
    expect(d.committed().records.get(0)?.promised?.round).toBe(1);
    expect(d.flushed().records.size).toBe(0);
    expect(d.unflushed).toBe(1);
    d.flush(f.id);
    expect(d.flushed().records.get(0)?.promised?.round).toBe(1);
    expect(d.unflushed).toBe(0);
  });

  it('power loss loses what is committed and not flushed; a crash keeps it', () => {
    const d = disk();
    d.flush(d.write(promise(1), 0, 1)!.id);
    d.write(promise(2), 5, 2);
    d.write({ type: 'reserve', round: 7 }, 5, 2);
    d.write({ type: 'learn', inst: 3, value: 'x' }, 6, 3);
    d.crash();
    expect(d.committed().records.get(0)?.promised?.round).toBe(2);
    expect(d.committed().reservedRound).toBe(7);
    expect(d.committed().decided.get(3)).toBe('x');
    expect(d.powerLoss()).toBe(3);
    expect(d.committed().records.get(0)?.promised?.round).toBe(1);
    expect(d.committed().reservedRound).toBe(0);
    expect(d.committed().decided.size).toBe(0);
    expect(d.stats).toEqual({ writes: 4, flushes: 1, lostWrites: 3 });
  });

  it('the writes of one turn share a flush; flushes end in order, each after the one before', () => {
    const times = [0.9, 0.1];
    const d = new Disk(() => times.shift()!, { minMs: 0, maxMs: 10 });
    const a = d.write(promise(1), 0, 1)!;
    expect(d.write({ type: 'reserve', round: 1 }, 0, 1)).toBeNull(); // same turn: same flush
    const b = d.write(promise(2), 1, 2)!;
    expect(a.at).toBe(9);
    expect(b.at).toBe(9); // it took 1 ms, but it cannot overtake the flush before it
    d.flush(b.id); // flushing b flushes a too: flushed is always a prefix of committed
    expect(d.stats.flushes).toBe(2);
    expect(d.flushed().records.get(0)?.promised?.round).toBe(2);
    expect(d.flush(a.id)).toEqual([]);
  });

  it('held effects are released by their flush, dropped by a crash, lost with a power loss', () => {
    const d = disk();
    const ran: string[] = [];
    const a = d.write(promise(1), 0, 1)!;
    d.afterFlush(() => ran.push('promise n1'));
    const b = d.write(promise(2), 0, 2)!;
    d.afterFlush(() => ran.push('promise n2'));
    for (const then of d.flush(a.id)) then();
    expect(ran).toEqual(['promise n1']);
    for (const then of d.flush(b.id)) then();
    expect(ran).toEqual(['promise n1', 'promise n2']);
    d.afterFlush(() => ran.push('nothing to wait for'));
    expect(ran.at(-1)).toBe('nothing to wait for');

    const c = d.write(promise(3), 5, 3)!;
    d.afterFlush(() => ran.push('after a crash'));
    d.crash();
    expect(d.flush(c.id)).toEqual([]); // the process that held it is gone...
    expect(d.flushed().records.get(0)?.promised?.round).toBe(3); // ...its write is not

    const e = d.write(promise(4), 9, 4)!;
    d.afterFlush(() => ran.push('after a power loss'));
    d.powerLoss();
    expect(d.flush(e.id)).toEqual([]);
    expect(d.committed().records.get(0)?.promised?.round).toBe(3);
  });

  it('parses flush times', () => {
    expect(parseFlushTiming('0.2..2')).toEqual({ minMs: 0.2, maxMs: 2 });
    expect(parseFlushTiming('1')).toEqual({ minMs: 1, maxMs: 1 });
    for (const bad of ['', 'x', '2..1', '-1', '1..2..3', '1..'])
      expect(() => parseFlushTiming(bad), bad).toThrow(/bad flush time/);
  });

  it('in the simulator, a reply waits for the flush of the write it depends on', () => {
    // One client, one operation, no faults, fixed delays: each durable step on the critical
    // path (reserve, promise, accept, learn) adds one flush to the operation's latency.
    const run = (flushMs: number, mutate?: 'reply-before-flush') =>
      simulate({
        ...DEFAULT_SIM,
        seed: 1,
        nodes: 3,
        ops: 1,
        clients: 1,
        delay: { kind: 'fixed', ms: 1 },
        faultMs: 0,
        crashRate: 0,
        partitionRate: 0,
        powerLossRate: 0,
        flush: { minMs: flushMs, maxMs: flushMs },
        mutate,
      }).metrics;
    const instant = run(0);
    const slow = run(10);
    expect(slow.acknowledged).toBe(1);
    // Four flushes of 10 ms; the two runs wait different random times (under
    // PIGGYBACK_FLUSH_MS) for the leader's idle flush that tells the client's replica.
    expect(slow.opLatencyP50 - instant.opLatencyP50).toBeGreaterThanOrEqual(
      40 - PIGGYBACK_FLUSH_MS,
    );
    expect(slow.diskWrites).toBeGreaterThan(0);
    expect(slow.flushes).toBeGreaterThan(0);
    // Without the hold, the flushes are off the critical path.
    expect(run(10, 'reply-before-flush').opLatencyP50).toBe(instant.opLatencyP50);
  });
});
