// The simulator's fault knobs: explicit schedules, power loss, the random proposer, the delay
// distributions, and the reply-before-flush mutation that only power loss can expose.
import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../../apps/sim/schedule.ts';
import { DEFAULT_SIM, type SimOptions, simulate } from '../../apps/sim/simulator.ts';

const QUIET = { crashRate: 0, partitionRate: 0, powerLossRate: 0 };
const names = ['n1', 'n2', 'n3'];

describe('simulator faults', () => {
  it('an explicit schedule happens, and only it', () => {
    const schedule = parseSchedule(
      `at 500 crash n2 for 300
       at 800 power-loss n1 for 200
       at 1000 partition n1,n2 | n3 for 400
       at 1500 power-loss n1,n3 for 100`,
      { names, faultMs: DEFAULT_SIM.faultMs },
    );
    const r = simulate({ ...DEFAULT_SIM, ...QUIET, seed: 4, nodes: 3, ops: 100, schedule });
    expect(r.violation).toBeUndefined();
    expect(r.metrics).toMatchObject({ crashes: 1, powerLosses: 3, partitions: 1 });
    const none = simulate({ ...DEFAULT_SIM, ...QUIET, seed: 4, nodes: 3, ops: 100 });
    expect(none.metrics).toMatchObject({ crashes: 0, powerLosses: 0, partitions: 0 });
  });

  it('a fault without "for" lasts until the faults end; a node two outages hit comes back last', () => {
    const schedule = parseSchedule(
      `at 100 crash n1
       at 200 crash n2 for 50
       at 220 power-loss n2 for 500`,
      { names, faultMs: 1000 },
    );
    const r = simulate({
      ...DEFAULT_SIM,
      ...QUIET,
      seed: 2,
      nodes: 3,
      ops: 50,
      faultMs: 1000,
      schedule,
    });
    expect(r.violation).toBeUndefined();
    expect(r.metrics).toMatchObject({ crashes: 2, powerLosses: 1 });
  });

  it('random power losses, several nodes at once: writes are lost, no invariant broken', () => {
    let lost = 0;
    let powerLosses = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = simulate({
        ...DEFAULT_SIM,
        seed,
        nodes: 3,
        ops: 60,
        powerLossRate: 10,
        powerLossNodes: 2,
      });
      expect(r.violation, `seed ${seed}`).toBeUndefined();
      lost += r.metrics.lostWrites;
      powerLosses += r.metrics.powerLosses;
    }
    expect(powerLosses).toBeGreaterThan(20 * 20);
    expect(lost).toBeGreaterThan(25);
  });

  it('reply-before-flush is caught by a bounded sweep; the same sweep without it is clean', () => {
    // The command-line equivalent: npm run sim -- --seeds 60 --nodes 3 --ops 60
    //   --power-loss-rate 10 --power-loss-nodes 2 --flush-ms 1..5 --mutate reply-before-flush
    const o: Omit<SimOptions, 'seed'> = {
      ...DEFAULT_SIM,
      nodes: 3,
      ops: 60,
      powerLossRate: 10,
      powerLossNodes: 2,
      flush: { minMs: 1, maxMs: 5 },
    };
    const seeds = Array.from({ length: 60 }, (_, i) => i + 1);
    const caught = seeds
      .map((seed) => simulate({ ...o, seed, mutate: 'reply-before-flush' }))
      .filter((r) => !r.ok);
    expect(caught.length).toBeGreaterThanOrEqual(3);
    for (const r of caught) expect(['agreement', 'invariant', 'logs']).toContain(r.violation!.kind);
    // The story shows the power losses that took the unflushed accepts.
    expect(caught[0]!.violation!.trace.some((l) => l.includes('loses power'))).toBe(true);
    const clean = seeds.map((seed) => simulate({ ...o, seed })).filter((r) => !r.ok);
    expect(clean.map((r) => r.violation!.message)).toEqual([]);
  });

  it('the random proposer duels: more ballots per decision, no invariant broken', () => {
    let ballots = 0;
    let duels = 0;
    let calm = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const o = { ...DEFAULT_SIM, seed, nodes: 3, ops: 60 };
      const r = simulate({ ...o, randomProposer: 0.5 });
      expect(r.violation, `seed ${seed}`).toBeUndefined();
      ballots += r.metrics.ballots / r.metrics.decisions;
      duels += r.metrics.randomBallots;
      const c = simulate(o).metrics;
      calm += c.ballots / c.decisions;
      expect(c.randomBallots).toBe(0);
    }
    expect(duels).toBeGreaterThan(20 * 100);
    expect(ballots).toBeGreaterThan(calm * 1.5);
  });

  it('every delay distribution runs clean', () => {
    for (const delay of [
      { kind: 'fixed', ms: 1 },
      { kind: 'uniform', minMs: 0.5, maxMs: 4 },
      { kind: 'long-tail', meanMs: 2 },
    ] as const) {
      for (let seed = 1; seed <= 10; seed++) {
        const r = simulate({ ...DEFAULT_SIM, seed, nodes: 3, ops: 60, delay });
        expect(r.violation, `${delay.kind} seed ${seed}`).toBeUndefined();
      }
    }
  });

  it('same seed, same run, with every knob turned', () => {
    const o: SimOptions = {
      ...DEFAULT_SIM,
      seed: 11,
      nodes: 3,
      delay: { kind: 'long-tail', meanMs: 2 },
      powerLossRate: 5,
      powerLossNodes: 2,
      randomProposer: 0.2,
      flush: { minMs: 0.5, maxMs: 3 },
      schedule: parseSchedule('at 300 partition n1 | n2 for 100', { names }),
    };
    const a = simulate(o);
    expect(a.ok).toBe(true);
    expect(JSON.stringify(simulate(o))).toBe(JSON.stringify(a));
    expect(simulate({ ...o, seed: 12 }).digest).not.toBe(a.digest);
    expect(simulate({ ...o, flush: { minMs: 0.5, maxMs: 4 } }).digest).not.toBe(a.digest);
  });
});
