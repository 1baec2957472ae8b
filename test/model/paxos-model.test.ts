// The model checker on the real Paxos core: a bounded clean run, each mutation caught with a
// shortest counterexample of the length the README states, the trace file replayed, the CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeState, encodeState } from '../../apps/model/codec.ts';
import { explore } from '../../apps/model/explore.ts';
import { exploreMerged } from '../../apps/model/merged.ts';
import {
  DEFAULT_PAXOS_MODEL,
  type PaxosCore,
  type PaxosModelOptions,
  paxosModel,
} from '../../apps/model/paxos-model.ts';
import { readTrace, replayTrace, writeTrace } from '../../apps/model/trace.ts';
import type { PaxosMutation } from '../../apps/paxos/mutations.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LONG_MS = scaledMs(120_000);
const dir = mkdtempSync(join(tmpdir(), 'model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opts = (o: Partial<PaxosModelOptions>): PaxosModelOptions => ({
  ...DEFAULT_PAXOS_MODEL,
  ...o,
});

describe('the state codec', () => {
  it('round-trips Maps, Sets and undefined, canonically', () => {
    const a = { b: new Map([[0, { x: undefined, s: new Set(['p2', 'p1']) }]]), a: [1, null] };
    const b = { a: [1, null], b: new Map([[0, { s: new Set(['p1', 'p2']), x: undefined }]]) };
    expect(encodeState(a)).toBe(encodeState(b));
    expect(decodeState(encodeState(a))).toEqual(a);
  });

  it('refuses what is not plain data', () => {
    expect(() => encodeState({ f: () => 1 })).toThrow(/plain data/);
    expect(() => encodeState({ d: new Date(0) })).toThrow(/Date/);
    expect(() => encodeState({ $x: 1 })).toThrow(/reserved/);
  });

  // The specification the one-pass encoder keeps: JSON.stringify of the plain form.
  const plain = (v: unknown): unknown => {
    if (v === undefined) return { $u: 0 };
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)))
      return { $n: Object.is(v, -0) ? '-0' : String(v) };
    if (typeof v === 'bigint') return { $b: v.toString() };
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(plain);
    if (v instanceof Map) return { $m: [...v].map(([k, x]) => [plain(k), plain(x)]) };
    if (v instanceof Set)
      return {
        $s: [...v].map(plain).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
      };
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = plain((v as Record<string, unknown>)[k]);
    return out;
  };
  it('encodes in one pass exactly as JSON.stringify of the plain form, and decodes back', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.bigInt(),
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node')),
        fc.dictionary(
          fc.string().filter((k) => !k.startsWith('$') && k !== '__proto__'),
          tie('node'),
          { noNullPrototype: true },
        ),
        fc.array(fc.tuple(leaf, tie('node'))).map((kv) => new Map(kv)),
        fc.array(leaf).map((xs) => new Set(xs)),
      ),
    })).node;
    fc.assert(
      fc.property(tree, (v) => {
        const text = encodeState(v);
        expect(text).toBe(JSON.stringify(plain(v)));
        expect(encodeState(decodeState(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Paxos, exhaustively within small bounds', () => {
  it(
    'the shipping core: 3 participants, 2 values, 1 ballot, 1 crash: no violation',
    () => {
      const r = explore(paxosModel(opts({ ballots: 1, crashes: 1 })));
      expect(r.kind).toBe('clean');
      expect(r.states).toBeGreaterThan(10_000);
    },
    LONG_MS,
  );

  it(
    'the multiset network with a duplicate and a loss: no violation',
    () => {
      const r = explore(
        paxosModel(opts({ ballots: 1, crashes: 0, network: 'multiset', dup: 1, loss: 1 })),
      );
      expect(r.kind).toBe('clean');
    },
    LONG_MS,
  );

  it('a bound stops cleanly, with the depth fully explored', () => {
    const r = explore(paxosModel(opts({})), { maxStates: 2000 });
    expect(r.kind).toBe('bound');
    if (r.kind === 'bound') expect(r.depth).toBeGreaterThan(2);
    // A memory bound (the heap holds more than 1 MB at once): stopped, not run out of memory.
    const m = explore(paxosModel(opts({})), { maxHeapMb: 1 });
    expect(m.kind === 'bound' && m.bound).toBe('memory');
  });
});

describe('the invariants over a whole configuration', () => {
  // The verdicts are cached by a key of each participant's votes and decision and the values
  // used: a number while it fits, else text. Keys that collided would make a verdict depend on
  // which configuration was asked first; two models asked in opposite orders must agree.
  it.each([
    ['3 participants (number keys)', 3, 2],
    ['4 participants (text keys)', 4, 1],
  ] as const)(
    'give the same verdict whatever was asked before (%s)',
    (_, participants, ballots) => {
      const o = opts({ participants, ballots, crashes: 0, ghostSends: true, symmetry: false });
      const spaces = [paxosModel(o), paxosModel(o)].map((m) => {
        // Interns the same participant states, in the same order.
        exploreMerged(m.mergedSpace(), { maxStates: 20_000 });
        return { space: m.mergedSpace(), states: m.stats().nodeStates };
      });
      const states = spaces[0]!.states;
      expect(spaces[1]!.states).toBe(states);
      let x = 0x2545f491;
      const rnd = (n: number) => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) % n;
      };
      const asked = Array.from({ length: 4000 }, () => ({
        ids: Array.from({ length: participants }, () => rnd(states)),
        budgets: [0, 0, rnd(3)],
      }));
      const forward = asked.map((a) => spaces[0]!.space.violation(a.ids, a.budgets));
      const backward = asked
        .toReversed()
        .map((a) => spaces[1]!.space.violation(a.ids, a.budgets))
        .toReversed();
      expect(backward).toEqual(forward);
      // Not a vacuous check: both kinds of verdict occur.
      expect(forward.filter((v) => v === null).length).toBeGreaterThan(0);
      expect(forward.filter((v) => v !== null).length).toBeGreaterThan(0);
    },
  );
});

describe("a student's core on the same interface", () => {
  it('the template (roles still TODO) is model-checked: it decides nothing, so breaks nothing', async () => {
    const template = (await import('../../examples/student-paxos/core.ts')) as unknown as PaxosCore;
    const r = explore(paxosModel(opts({ core: template })));
    expect(r.kind).toBe('clean');
  });
});

describe('each mutation yields a shortest counterexample', () => {
  const cases: Array<[PaxosMutation, Partial<PaxosModelOptions>, number, RegExp]> = [
    ['accept-below-promise', { participants: 2, ballots: 2, crashes: 0 }, 14, /two values chosen/],
    [
      'forget-accepted-on-promise',
      { participants: 2, ballots: 2, crashes: 0 },
      14,
      /two values chosen/,
    ],
    // A restarted proposer reuses ballot 1.p1 with another value: the acceptor's assertion.
    [
      'no-reservation',
      { participants: 3, ballots: 2, crashes: 1 },
      11,
      /threw: Paxos invariant broken: two values proposed under ballot 1\.p1/,
    ],
  ];
  it.each(cases)(
    '%s',
    (mutation, bounds, length, violation) => {
      const options = opts({ ...bounds, mutations: [mutation] });
      const r = explore(paxosModel(options));
      expect(r.kind).toBe('violation');
      if (r.kind !== 'violation') return;
      expect(r.violation).toMatch(violation);
      expect(r.trace).toHaveLength(length);
      // The trace file replays through the same step functions to the same violation.
      const file = join(dir, `${mutation}.json`);
      writeTrace(file, {
        protocol: 'paxos',
        options: { ...options, loss: null },
        violation: r.violation,
        steps: r.trace,
      });
      const replayed = replayTrace(readTrace(file));
      expect(replayed.violation).toBe(r.violation);
      expect(replayed.lines).toHaveLength(length);
      expect(replayed.lines[0]).toMatch(/^ {2}1\. p\d (proposes "A" and )?starts a ballot/);
    },
    LONG_MS,
  );
});

describe('npm run check:model', () => {
  const run = (args: string[]) =>
    spawnSync('npx', ['tsx', 'scripts/check-model.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });

  it(
    'finds a mutation, prints the trace in words and writes the file; sim --replay re-runs it',
    () => {
      const file = join(dir, 'cli.json');
      const r = run(
        [
          '--participants',
          '2',
          '--ballots',
          '2',
          '--crashes',
          '0',
          '--mutate',
          'accept-below-promise',
        ].concat(['--quiet', '--trace-out', file]),
      );
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/VIOLATION \(agreement: two values chosen.*\) after 14 steps/);
      expect(r.stdout).toMatch(/^ {2}2\. p\d/m);
      const replay = spawnSync('npx', ['tsx', 'scripts/sim.ts', '--replay', file], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(replay.status).toBe(1);
      expect(replay.stdout).toMatch(/ 14\. p\d receives/);
      expect(replay.stdout).toMatch(/VIOLATION \(agreement/);
    },
    LONG_MS,
  );

  it(
    'a clean bounded run exits 0 with the totals, for paxos and for epaxos',
    () => {
      const r = run(['--ballots', '1', '--crashes', '0', '--quiet']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(
        /result: no violation; every reachable state covered: [\d,]+ configurations/,
      );
      const exact = run(['--ballots', '1', '--crashes', '0', '--search', 'exact', '--quiet']);
      expect(exact.status).toBe(0);
      expect(exact.stdout).toMatch(
        /result: no violation; every reachable state explored: [\d,]+ states/,
      );
      // The EPaxos model's defaults are exhausted too (3 replicas, 1 command, 1 crash).
      const e = run(['--protocol', 'epaxos', '--quiet']);
      expect(e.status).toBe(0);
      expect(e.stdout).toContain('3 replicas, 1 command on one key, 0 timer firings, 1 crash');
      expect(e.stdout).toMatch(
        /result: no violation; every reachable state explored: 1,363 states/,
      );
    },
    LONG_MS,
  );
});
