// The merged search on worker threads (apps/model/parallel.ts): the workers together cover
// exactly what one thread covers (every configuration with the same network, compared as text),
// a possible violation or a bound stops every worker, and a worker that cannot start is an error.
import { describe, expect, it } from 'vitest';
import { exploreMerged } from '../../apps/model/merged.ts';
import { exploreMergedParallel, type SpaceSpec } from '../../apps/model/parallel.ts';
import {
  DEFAULT_PAXOS_MODEL,
  type PaxosModelOptions,
  paxosModel,
} from '../../apps/model/paxos-model.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const LONG_MS = scaledMs(180_000);
const MODEL = new URL('../../apps/model/paxos-model.ts', import.meta.url).href;
const opts = (o: Partial<PaxosModelOptions>): PaxosModelOptions => ({
  ...DEFAULT_PAXOS_MODEL,
  ghostSends: true,
  ...o,
});
const spec = (o: PaxosModelOptions): SpaceSpec => ({
  module: MODEL,
  name: 'paxosMergedSpace',
  args: { options: o },
});

describe('the parallel merged search', () => {
  it.each([
    ['2 workers, 3 participants, 2 ballots, the A/B symmetry', 2, { ballots: 2, crashes: 0 }],
    ['3 workers, 3 participants, 1 ballot, 1 crash', 3, { ballots: 1, crashes: 1 }],
    [
      '2 workers, 2 participants, 2 ballots, 1 crash, no symmetry',
      2,
      { participants: 2, ballots: 2, crashes: 1, symmetry: false },
    ],
  ] as const)(
    'covers exactly what one thread covers (%s)',
    async (_, workers, bounds) => {
      const o = opts(bounds);
      const one = exploreMerged(paxosModel(o).mergedSpace());
      const many = await exploreMergedParallel(spec(o), { workers, dump: true });
      expect(one.kind).toBe('clean');
      expect(many.kind).toBe('clean');
      expect(many.configurations).toBe(one.configurations);
      expect(many.workers).toHaveLength(workers);
      // Each worker owns a share, and the shares are disjoint and make up the whole.
      for (const w of many.workers) expect(w.configurations).toBeGreaterThan(0);
      const mine = new Set(one.dump());
      const theirs = many.dump!;
      expect(new Set(theirs).size).toBe(theirs.length);
      expect(theirs.length).toBe(mine.size);
      expect(theirs.filter((c) => !mine.has(c))).toEqual([]);
    },
    LONG_MS,
  );

  it(
    'a possible violation in one worker stops them all',
    async () => {
      const o = opts({ ballots: 2, crashes: 1, mutations: ['no-reservation'] });
      const r = await exploreMergedParallel(spec(o), { workers: 2 });
      expect(r.kind).toBe('possible');
      if (r.kind === 'possible') expect(r.violation).toMatch(/two values proposed under ballot/);
    },
    LONG_MS,
  );

  it(
    'a bound on configurations counts every worker, and stops them all',
    async () => {
      const r = await exploreMergedParallel(spec(opts({ ballots: 2, crashes: 1 })), {
        workers: 2,
        maxStates: 20_000,
      });
      expect(r.kind).toBe('bound');
      if (r.kind === 'bound') expect(r.bound).toBe('states');
      expect(r.configurations).toBeGreaterThanOrEqual(20_000);
      expect(r.configurations).toBeLessThan(306_859);
    },
    LONG_MS,
  );

  it('refuses a bad number of workers, and reports a worker that cannot build its model', async () => {
    await expect(exploreMergedParallel(spec(opts({})), { workers: 0 })).rejects.toThrow(
      /workers must be 1 or more/,
    );
    await expect(
      exploreMergedParallel({ module: MODEL, name: 'noSuchExport', args: {} }, { workers: 2 }),
    ).rejects.toThrow(/does not export a function noSuchExport/);
  });
});
