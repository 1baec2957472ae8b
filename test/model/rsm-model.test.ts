// The replicated log's model: the real replica core (apps/rsm/core.ts) over an append machine,
// consensus abstracted as one proposed value per instance. The default bounds and a crash are
// exhausted with no violation; the apply-past-gap mutation is caught with a shortest trace; the
// command line refuses options that are not the rsm model's.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { explore } from '../../apps/model/explore.ts';
import { DEFAULT_RSM_MODEL, type RsmModelOptions, rsmModel } from '../../apps/model/rsm-model.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const check = (o: Partial<RsmModelOptions>) => {
  const model = rsmModel({ ...DEFAULT_RSM_MODEL, ...o });
  return { model, result: explore(model) };
};

describe('the replicated log model (npm run check:model -- --protocol rsm)', () => {
  it(
    'exhausts the default bounds, and a crash, with no violation',
    () => {
      const a = check({}).result;
      expect(a.kind).toBe('clean');
      expect(a.states).toBeGreaterThan(3000); // 3,232 here
      const b = check({ timers: 0, crashes: 1 }).result;
      expect(b.kind).toBe('clean');
      expect(b.states).toBeGreaterThan(25_000); // 25,569 here
      const c = check({ replicas: 3, timers: 0 }).result;
      expect(c.kind).toBe('clean');
      expect(c.states).toBeGreaterThan(2000);
    },
    scaledMs(60_000),
  );

  it('catches apply-past-gap with a shortest trace of 4 steps', () => {
    const { model, result } = check({ mutations: ['apply-past-gap'] });
    if (result.kind !== 'violation') throw new Error(`expected a violation, got ${result.kind}`);
    expect(result.violation).toBe(
      'log: p1 applied up to instance 1 but has no entry at 0 (undecided)',
    );
    let g = model.initial();
    const words = result.trace.map((step) => {
      const said = model.describe(g, step);
      g = model.successors(g).find((x) => model.stepKey(x.step) === model.stepKey(step))!.next;
      return said;
    });
    expect(words).toEqual([
      'a client submits o1 to p1',
      'a client submits o2 to p1',
      'instance 1 is decided: [o2]',
      "p1's proposal for instance 1 is answered: decided [o2]",
    ]);
  });

  it(
    'the command line: the mutation caught, options of other models refused',
    () => {
      const tsx = ['--import', 'tsx', 'scripts/check-model.ts', '--protocol', 'rsm'];
      const run = (...a: string[]) =>
        spawnSync(process.execPath, [...tsx, ...a], { encoding: 'utf8' });
      const found = run('--mutate', 'apply-past-gap', '--quiet');
      expect(found.status).toBe(1);
      expect(found.stdout).toMatch(/VIOLATION \(log: .*\) after 4 steps \(a shortest trace\)/);
      expect(found.stdout).toContain("  4. p1's proposal for instance 1 is answered: decided [o2]");
      const refusals: Array<[string[], string]> = [
        [
          ['--ballots', '2'],
          '--ballots is not an rsm option (rsm: --participants, --ops, --timers, --crashes)',
        ],
        [
          ['--impl', 'x.ts'],
          '--impl is not an rsm option (rsm: --participants, --ops, --timers, --crashes)',
        ],
        [
          ['--mutate', 'no-reservation'],
          "--mutate must be one of apply-past-gap, none, got 'no-reservation'",
        ],
        [['--ops', '0'], "--ops must be an integer from 1 to 5, got '0'"],
      ];
      for (const [args, line] of refusals) {
        const r = run(...args);
        expect(r.status).toBe(2);
        expect(r.stderr.split('\n')[0]).toBe(line);
      }
      const paxos = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/check-model.ts', '--ops', '2'],
        {
          encoding: 'utf8',
        },
      );
      expect(paxos.status).toBe(2);
      expect(paxos.stderr.split('\n')[0]).toBe('--ops is an rsm option: give --protocol rsm');
    },
    scaledMs(60_000),
  );
});
