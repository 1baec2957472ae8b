// The merged-network search (apps/model/merged.ts): it covers every reachable state (checked
// state by state against the exact search), its ghost history changes nothing in the exact
// search, it finds the mutations, and a possible violation is confirmed by the exact search.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore } from '../../apps/model/explore.ts';
import { exploreMerged, type MergedSpace } from '../../apps/model/merged.ts';
import {
  DEFAULT_PAXOS_MODEL,
  type PaxosGlobal,
  type PaxosModelOptions,
  paxosModel,
} from '../../apps/model/paxos-model.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LONG_MS = scaledMs(120_000);
const opts = (o: Partial<PaxosModelOptions>): PaxosModelOptions => ({
  ...DEFAULT_PAXOS_MODEL,
  ...o,
});

/** Every reachable state of a model, breadth first (small bounds only). */
function allStates(o: PaxosModelOptions): {
  model: ReturnType<typeof paxosModel>;
  states: PaxosGlobal[];
} {
  const model = paxosModel(o);
  const seen = new Set<string>();
  const states: PaxosGlobal[] = [];
  let frontier = [model.initial()];
  seen.add(model.key(frontier[0]!));
  states.push(frontier[0]!);
  while (frontier.length > 0) {
    const next: PaxosGlobal[] = [];
    for (const g of frontier) {
      for (const s of model.successors(g)) {
        expect(s.violation).toBeNull();
        const k = model.key(s.next);
        if (seen.has(k)) continue;
        seen.add(k);
        states.push(s.next);
        next.push(s.next);
      }
    }
    frontier = next;
  }
  return { model, states };
}

describe('the merged-network search', () => {
  const COVERAGE = [
    ['3 participants, 1 ballot, 1 crash', { participants: 3, ballots: 1, crashes: 1 }, false],
    [
      '2 participants, 2 ballots, with the A/B symmetry',
      { participants: 2, ballots: 2, crashes: 0 },
      true,
    ],
  ] as const;
  it.each(
    COVERAGE.flatMap(([name, bounds, symmetry]) =>
      (['rank', 'fifo'] as const).map(
        (order) => [`${name}, order ${order}`, bounds, symmetry, order] as const,
      ),
    ),
  )(
    'covers every reachable state (%s): each has an entry whose network holds its own',
    (_, bounds, symmetry, order) => {
      const o = opts({ ...bounds, ghostSends: true, symmetry });
      const { model, states } = allStates(o);
      const space = model.mergedSpace();
      const r = exploreMerged(space, { order });
      expect(r.kind).toBe('clean');
      // Far fewer entries than states: that is the point.
      expect(r.configurations * 5).toBeLessThan(states.length);
      const sym = space.symmetry;
      if (symmetry) {
        // The swap applies and keeps fewer entries than the search without it.
        const plain = exploreMerged(paxosModel({ ...o, symmetry: false }).mergedSpace());
        expect(r.configurations).toBeLessThan(plain.configurations);
      } else expect(sym).toBeUndefined();
      // Covered: an entry for the same participant states, with no more budget used (a step that
      // only uses up budget is skipped: the entry it leaves can do all it can) and with a
      // network that holds this state's own; with the symmetry, that, or the same for its image.
      const coveredAsIs = (g: PaxosGlobal): boolean => {
        for (let started = g.started; started >= 0; started--) {
          for (let crashes = g.crashes; crashes >= 0; crashes--) {
            const net = r.networkOf(g.nodes, [started, crashes, g.used]);
            if (net === null) continue;
            const have = new Set(net);
            if (g.net.every((w) => have.has(w))) return true;
          }
        }
        return false;
      };
      let imaged = 0;
      const covered = (g: PaxosGlobal): boolean => {
        if (coveredAsIs(g)) return true;
        if (!sym?.applies([g.started, g.crashes, g.used])) return false;
        imaged++;
        return coveredAsIs({ ...g, nodes: g.nodes.map(sym.node), net: g.net.map(sym.wire) });
      };
      let checked = 0;
      for (const g of states) {
        expect(covered(g), `not covered: ${model.key(g)}`).toBe(true);
        checked++;
      }
      expect(checked).toBe(states.length);
      if (symmetry) expect(imaged).toBeGreaterThan(100);
    },
    LONG_MS,
  );

  it.each([false, true])(
    'the order changes how often a configuration is explored, not which are found (symmetry: %s): by rank, about once',
    (symmetry) => {
      const o = opts({ participants: 3, ballots: 2, crashes: 0, ghostSends: true, symmetry });
      const fifo = exploreMerged(paxosModel(o).mergedSpace(), { order: 'fifo' });
      const rank = exploreMerged(paxosModel(o).mergedSpace(), { order: 'rank' });
      expect(fifo.kind).toBe('clean');
      expect(rank.kind).toBe('clean');
      expect(rank.order).toBe('rank');
      expect(rank.configurations).toBe(fifo.configurations);
      expect(rank.messages).toBe(fifo.messages);
      // Measured: 131,899 configurations (151,492 without the symmetry); first in first out
      // explores 1.5 times as many times, by rank 1.02.
      expect(fifo.expansions).toBeGreaterThan(rank.configurations * 1.3);
      expect(rank.expansions).toBeLessThan(rank.configurations * 1.2);
    },
    LONG_MS,
  );

  it('a core whose receipts bring a state back (a cycle) is explored first in first out, fully', () => {
    // One participant whose state goes 0 -> 1 -> 2 -> 0 on each receipt of the one message,
    // which it sends again; a start (the one budget) sends it first.
    const space: MergedSpace = {
      participants: 1,
      initial: () => ({ nodes: [0], budgets: [0] }),
      wires: () => 1,
      wireTo: () => 0,
      receive: (_i, id) => ({ next: (id + 1) % 3, sends: [0], violation: null }),
      local: (i, id, budgets) =>
        budgets[0] === 0 ? [{ i, r: { next: id, sends: [0], violation: null }, budgets: [1] }] : [],
      violation: () => null,
      stats: () => ({ nodeStates: 3, nodeSteps: 4 }),
    };
    const rank = exploreMerged(space, { order: 'rank' });
    const fifo = exploreMerged(space, { order: 'fifo' });
    expect(rank.kind).toBe('clean');
    expect(rank.order).toBe('fifo');
    expect(rank.configurations).toBe(4);
    expect(fifo.configurations).toBe(4);
    for (const id of [0, 1, 2]) expect(rank.networkOf([id], [1])).toEqual([0]);
  });

  it(
    'the ghost history changes nothing in the exact search (the network holds it already)',
    () => {
      const plain = explore(paxosModel(opts({ participants: 2, ballots: 2, crashes: 0 })));
      const ghost = explore(
        paxosModel(opts({ participants: 2, ballots: 2, crashes: 0, ghostSends: true })),
      );
      expect(plain.kind).toBe('clean');
      expect(ghost.states).toBe(plain.states);
    },
    LONG_MS,
  );

  it(
    'the shipping core, 2 participants, 2 values, 2 ballots, 1 crash: every state covered, no violation',
    () => {
      const m = paxosModel(opts({ participants: 2, ballots: 2, crashes: 1, ghostSends: true }));
      const r = exploreMerged(m.mergedSpace());
      expect(r.kind).toBe('clean');
      expect(r.configurations).toBeGreaterThan(5_000);
    },
    LONG_MS,
  );

  it.each([
    ['accept-below-promise', { participants: 2, ballots: 2, crashes: 0 }],
    ['forget-accepted-on-promise', { participants: 2, ballots: 2, crashes: 0 }],
    ['no-reservation', { participants: 3, ballots: 2, crashes: 1 }],
  ] as const)(
    'the mutation %s is found possible',
    (mutation, bounds) => {
      const m = paxosModel(opts({ ...bounds, mutations: [mutation], ghostSends: true }));
      const r = exploreMerged(m.mergedSpace());
      expect(r.kind).toBe('possible');
    },
    LONG_MS,
  );

  it(
    'check:model: a possible violation is confirmed by the exact search, with its shortest trace',
    () => {
      const out = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/check-model.ts',
          '--participants',
          '2',
          '--ballots',
          '2',
          '--crashes',
          '0',
          '--mutate',
          'accept-below-promise',
          '--trace-out',
          '/dev/null',
          '--quiet',
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: LONG_MS },
      );
      expect(out.status, out.stderr).toBe(1);
      expect(out.stdout).toMatch(/^search: merged networks/m);
      expect(out.stdout).toMatch(/^possible violation in the merged search \(agreement/m);
      expect(out.stdout).toMatch(
        /^VIOLATION \(agreement: .*\) after 14 steps \(a shortest trace\)/m,
      );
      const bad = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'scripts/check-model.ts',
          '--network',
          'multiset',
          '--search',
          'merged',
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: LONG_MS },
      );
      expect(bad.status).toBe(2);
      expect(bad.stderr.split('\n')[0]).toBe(
        '--search merged needs the set network (it merges networks that only grow)',
      );
    },
    LONG_MS,
  );
});
