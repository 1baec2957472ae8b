import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { EpaxosMutation } from '../../apps/epaxos/replica.ts';
import {
  DEFAULT_EPAXOS_SIM,
  type EpaxosSimOptions,
  simulateEpaxos,
} from '../../apps/sim/epaxos-sim.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const TSX = ['--import', 'tsx'];

/** A sweep of seeds 1..seeds: the violations found, and the metrics added up. */
function sweep(seeds: number, options: Partial<EpaxosSimOptions>) {
  const violations: string[] = [];
  const sum = {
    fast: 0,
    slow: 0,
    recoveries: 0,
    crashes: 0,
    powerLosses: 0,
    partitions: 0,
    checkpoints: 0,
    trimmed: 0,
    restored: 0,
    joins: 0,
  };
  let dropped = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, ...options, seed });
    if (!r.ok) violations.push(`seed ${seed}: ${r.violation!.kind}: ${r.violation!.message}`);
    else expect(r.metrics.executed).toBe(r.metrics.submitted);
    sum.fast += r.metrics.fastPath;
    sum.slow += r.metrics.slowPath;
    sum.recoveries += r.metrics.recoveries;
    sum.crashes += r.metrics.crashes;
    sum.powerLosses += r.metrics.powerLosses;
    sum.partitions += r.metrics.partitions;
    sum.checkpoints += r.metrics.checkpoints;
    sum.trimmed += r.metrics.trimmed;
    sum.restored += r.metrics.restored;
    sum.joins += r.metrics.joins;
    dropped += r.metrics.dropped;
  }
  return { violations, sum, dropped };
}

/** The first violation of a sweep of seeds 1..seeds, with its seed. */
function firstViolation(seeds: number, options: Partial<EpaxosSimOptions>) {
  for (let seed = 1; seed <= seeds; seed++) {
    const r = simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, ...options, seed });
    if (!r.ok) return { seed, ...r.violation! };
  }
  return undefined;
}

/**
 * The options under which majority-fast-quorum shows: 7 nodes (a majority is 4, the fast quorum
 * 5), slow flushes, and two partitions. In the first, {n1..n4} can only commit with all four:
 * the mutated fast path does so from PreAccept alone (the real one must Accept). The second
 * keeps n2, which may have missed the commit, with n5..n7, which never saw the PreAccept: its
 * recovery finds one unchanged reply of three and picks new attributes.
 */
const SEVEN: Partial<EpaxosSimOptions> = {
  nodes: 7,
  conflict: 0.3,
  flush: { minMs: 5, maxMs: 20 },
  crashRate: 0,
  partitionRate: 0,
  powerLossRate: 0,
  schedule: [
    {
      atMs: 200,
      kind: 'partition',
      groups: [
        ['n1', 'n2', 'n3', 'n4'],
        ['n5', 'n6', 'n7'],
      ],
      forMs: 100,
    },
    {
      atMs: 300,
      kind: 'partition',
      groups: [
        ['n1', 'n3', 'n4'],
        ['n2', 'n5', 'n6', 'n7'],
      ],
    },
  ],
};

describe('the EPaxos simulation (the shipping core under faults)', () => {
  it(
    '300 seeds of 3 nodes: no invariant broken, every command executed',
    () => {
      const { violations, sum, dropped } = sweep(300, { nodes: 3 });
      expect(violations).toEqual([]);
      // The faults did happen, and every path of the protocol was taken.
      expect(sum.crashes).toBeGreaterThan(300);
      expect(sum.powerLosses).toBeGreaterThan(150);
      expect(sum.partitions).toBeGreaterThan(300);
      expect(dropped).toBeGreaterThan(10_000);
      expect(sum.fast).toBeGreaterThan(0);
      expect(sum.slow).toBeGreaterThan(0);
      expect(sum.recoveries).toBeGreaterThan(0);
      // Checkpoints were written, records trimmed after them, and restarts restored them.
      expect(sum.checkpoints).toBeGreaterThan(1000);
      expect(sum.trimmed).toBeGreaterThan(10_000);
      expect(sum.restored).toBeGreaterThan(300);
    },
    scaledMs(120_000),
  );

  it(
    'a checkpoint after every execution, with power losses 5 times as often: 40 seeds clean',
    () => {
      const { violations, sum } = sweep(40, { checkpointEvery: 1, powerLossRate: 5 });
      expect(violations).toEqual([]);
      expect(sum.restored).toBeGreaterThan(100);
    },
    scaledMs(120_000),
  );

  it(
    'a replica joins during faults (a crash while draining undoes it): 60 seeds each of 3 and 5 clean',
    () => {
      for (const nodes of [3, 5]) {
        const { violations, sum } = sweep(60, { nodes, joinAtMs: 500 });
        expect(violations).toEqual([]);
        expect(sum.joins, `${nodes} nodes`).toBe(60); // every seed's join went through
      }
    },
    scaledMs(120_000),
  );

  it(
    '100 seeds of 5 nodes: no invariant broken, every command executed',
    () => {
      const { violations, sum } = sweep(100, { nodes: 5 });
      expect(violations).toEqual([]);
      expect(sum.fast).toBeGreaterThan(sum.slow);
      expect(sum.recoveries).toBeGreaterThan(0);
    },
    scaledMs(120_000),
  );

  it(
    'an even number of replicas (4, conflicts 70%): quorums are strict majorities, 40 seeds clean',
    () => {
      // Before the fix, quorums of N/2 let two halves commit different things: 75 of 100 seeds.
      const { violations } = sweep(40, { nodes: 4, conflict: 0.7 });
      expect(violations).toEqual([]);
    },
    scaledMs(120_000),
  );

  it('same seed, same run; another seed, another run', () => {
    const a = simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, seed: 99 });
    const b = simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, seed: 99 });
    const c = simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, seed: 100 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(c.digest).not.toBe(a.digest);
  });

  it(
    "catches each of the core's mutations within a bounded sweep",
    () => {
      const caught = (mutate: EpaxosMutation, seeds: number, o: Partial<EpaxosSimOptions> = {}) =>
        firstViolation(seeds, { ...o, mutate });
      expect(caught('execute-before-commit', 1)?.kind).toBe('executed-uncommitted');
      // A dependency left out: two replicas execute interfering commands in different orders.
      const dropped = caught('drop-dependency', 5, { nodes: 3 });
      expect(dropped?.kind).toBe('order');
      expect(dropped!.trace.length).toBeGreaterThan(0);
      // A fast path on a majority of 7: the leader commits with 4, and a recovery that sees
      // only one of those 3 acceptors commits otherwise.
      const fast = caught('majority-fast-quorum', 50, SEVEN); // seed 11 (7 of 60 seeds catch it)
      expect(fast?.kind).toMatch(/^(committed|invariant)$/);
      expect(fast!.trace.some((l) => l.includes(`inst=${fast!.inst} `))).toBe(true);
      // The same options without the mutation: clean.
      expect(firstViolation(10, SEVEN)).toBeUndefined();
      // Records trimmed once this replica's own checkpoint covers them: a replica that lagged
      // behind finds dependencies nobody holds any more and never executes past them.
      const trimmed = caught('trim-own-checkpoint', 3, { nodes: 3 });
      expect(trimmed?.kind).toBe('liveness');
      expect(trimmed?.message).toMatch(/replicas still waiting to execute committed commands/);
    },
    scaledMs(60_000),
  );

  it('liveness is checked: an impossible bound is reported with where each node stands', () => {
    // 2000 commands: some are still running when faults stop, and 1 ms is too short for them.
    const r = simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, seed: 3, ops: 2000, livenessMs: 1 });
    expect(r.violation?.kind).toBe('liveness');
    expect(r.violation?.message).toMatch(/n1: (up|down), life \d+, \d+ committed/);
  });

  it(
    'npm run sim -- --protocol epaxos: one seed, a caught mutation with its replay, bad options',
    () => {
      const one = execFileSync(
        process.execPath,
        [...TSX, 'scripts/sim.ts', '--protocol', 'epaxos', '--seed', '1'],
        { encoding: 'utf8' },
      );
      expect(one).toContain('sim seed=1 protocol=epaxos nodes=5');
      expect(one).toMatch(/commands: 200 submitted, 200 executed where submitted/);
      expect(one).toMatch(/execution latency p50 [\d.]+ ms, p99 [\d.]+ ms/);
      expect(one).toMatch(/\d+ on the fast path, \d+ on the slow path/);
      expect(one).toMatch(/\d+ recoveries/);
      expect(one).toMatch(/[\d.]+ messages per command/);
      expect(one).toContain('liveness: OK');
      const digest = /digest ([0-9a-f]{8})/.exec(one)![1];
      expect(digest).toBe(simulateEpaxos({ ...DEFAULT_EPAXOS_SIM, seed: 1 }).digest);
      const bad = spawnSync(
        process.execPath,
        [
          ...TSX,
          'scripts/sim.ts',
          ...['--protocol', 'epaxos', '--seeds', '5', '--nodes', '3'],
          ...['--mutate', 'drop-dependency'],
        ],
        { encoding: 'utf8' },
      );
      expect(bad.status).toBe(1);
      expect(bad.stdout).toMatch(/VIOLATION \(order\) with seed \d+: on key /);
      const replay = /replay: npm run sim -- (.*)/.exec(bad.stdout)![1]!;
      expect(replay).toMatch(/^--protocol epaxos --seed \d+ --nodes 3 .*--mutate drop-dependency$/);
      // The replay command reproduces the violation.
      const again = spawnSync(process.execPath, [...TSX, 'scripts/sim.ts', ...replay.split(' ')], {
        encoding: 'utf8',
      });
      expect(again.status).toBe(1);
      expect(again.stdout).toContain(/VIOLATION .*/.exec(bad.stdout)![0]);
      const wrong = spawnSync(
        process.execPath,
        [...TSX, 'scripts/sim.ts', '--protocol', 'epaxos', '--batch', '4'],
        { encoding: 'utf8' },
      );
      expect(wrong.status).toBe(2);
      expect(wrong.stderr.split('\n')[0]).toBe(
        '--batch is a Paxos option: not with --protocol epaxos',
      );
    },
    scaledMs(60_000),
  );
});
