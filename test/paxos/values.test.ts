// Issue 12: what a Paxos value may be, and that it comes back from disk as it went in; a
// refused duplicate start leaves the running participant alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkValue } from '../../actors/codec.ts';
import {
  ActorError,
  Global,
  isAlive,
  kill,
  monitor,
  receive,
  recentEvents,
  self,
  spawn,
  TIMEOUT,
  whereis,
} from '../../actors/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { participant } from '../../apps/paxos/participant.ts';
import { closeStores, configureStorage, openStore } from '../../apps/paxos/storage.ts';
import { barrier, expectReceive, resetRuntime, until } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'paxos-values-'));
afterEach(async () => {
  await resetRuntime();
  configureStorage({});
});
afterAll(async () => {
  await closeStores();
  rmSync(dir, { recursive: true, force: true });
});

async function startAll(names: string[]) {
  const pids = names.map((n) => Paxos.start(n, names, self()));
  await until(() =>
    names.every((n) => Global.whereis(n) !== undefined && Global.whereis(`${n}/beb`) !== undefined),
  );
  return pids;
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe('Paxos values', () => {
  it('refuses what would not cross the wire and the disk unchanged, with invalid_argument', async () => {
    const [p] = await startAll(['v1']);
    const f = () => 1;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: Array<[string, unknown]> = [
      ['a function', f],
      ['a symbol', Symbol('s')],
      ['an object with a function', { a: 1, f }],
      ['a class instance', new Point(1, 2)],
      ['an Error', new Error('e')],
      ['a cycle', cyclic],
      ['a lone surrogate', 'ab\ud800'],
      ['an own __proto__ key', JSON.parse('{"__proto__": 1}')],
      ['a symbol key', { [Symbol('k')]: 1 }],
      ['a function in a Map', new Map([['k', f]])],
    ];
    for (const [what, value] of bad) {
      expect(() => Paxos.propose(p!, value), what).toThrow(ActorError);
      await expect(Paxos.proposeInstance(p!, 0, value, 1000), what).rejects.toMatchObject({
        code: 'invalid_argument',
      });
    }
    // nothing was proposed by the refused calls: instance 0 is still open
    expect(await Paxos.getDecision(p!, 0, 50)).toBeNull();
    const good: unknown[] = [
      null,
      undefined,
      0,
      Number.NaN,
      2n ** 64n,
      'text',
      new Set([1, 2]),
      new Map([[1, { a: [1, 2] }]]),
      new Date(0),
      new Uint8Array([1]),
      self(),
      { nested: { list: [1, 'a', null] } },
    ];
    for (const value of good) expect(() => checkValue(value), String(value)).not.toThrow();
  });

  it('names the refused part by its path in the value', () => {
    const cases: Array<[unknown, string]> = [
      [{ a: [1, { b: () => 1 }] }, '.a[1].b is a function'],
      [new Map([['k', { x: Symbol('s') }]]), ".get('k').x is a symbol"],
      [{ s: '\uD800' }, '.s is a string with a lone surrogate'],
      [new Set([new Date(0), [new (class Point {})()]]), '<member>[0] is an instance of Point'],
      [() => 1, 'the value is a function'],
    ];
    for (const [value, part] of cases) expect(() => checkValue(value)).toThrow(part);
  });

  it('start refuses an upper that is not a pid', () => {
    expect(() => Paxos.start('u1', ['u1'], {} as never)).toThrow(/upper process/);
    expect(() => Paxos.start('u1', ['u1'], 'self' as never)).toThrow(ActorError);
    expect(Global.whereis('u1')).toBeUndefined();
  });

  it('a Set, a Map and a BigInt past 2^64 are decided and read back from LMDB after a restart, and a re-announced decision is no conflict', async () => {
    configureStorage({ kind: 'lmdb', dir, sync: true });
    const names = ['s1', 's2', 's3'];
    let pids = await startAll(names);
    const values = [new Set(['a', 'b']), 2n ** 64n + 1n, new Map([['k', new Set([1])]])];
    for (const [inst, value] of values.entries())
      expect(await Paxos.proposeInstance(pids[inst]!, inst, value, 5000)).toEqual({
        outcome: 'decided',
        value,
      });
    await until(() => names.every((n) => openStore(n).decided.size === values.length));
    for (const p of pids) kill(p);
    await until(() => pids.every((p) => !isAlive(p)) && Global.whereis('s1') === undefined);
    await closeStores(); // only the disk is left
    for (const [inst, value] of values.entries())
      expect(openStore('s2').decided.get(inst)).toEqual(value);
    pids = await startAll(names);
    const learner = whereis('paxos:s2:learner')!;
    const ref = monitor(learner);
    // s1 knows the decision: asked for a ballot it announces it again to every learner
    const seen = recentEvents('paxos').length;
    Paxos.startBallot(pids[0]!, 0);
    await until(() =>
      recentEvents('paxos')
        .slice(seen)
        .some((e) => {
          const ev = e as { participant: string; type: string; inst: number };
          return ev.participant === 's2' && ev.type === 'decided' && ev.inst === 0;
        }),
    );
    // the learner got the announcement before this call (the front forwards in order)
    expect(await Paxos.getDecision(pids[1]!, 0, 2000)).toEqual(values[0]);
    await barrier(); // every message already sent to this process has arrived
    expect(await receive({ type: 'DOWN', ref }, 0), 'the learner of s2 crashed').toBe(TIMEOUT);
    expect(await Paxos.getDecision(pids[2]!, 1, 2000)).toBe(2n ** 64n + 1n);
  });
});

describe('a refused duplicate start', () => {
  it('leaves the running participant untouched, however often it is tried', async () => {
    const [p] = await startAll(['dup']);
    const roles = ['acceptor', 'proposer', 'learner', 'beb'].map((r) => whereis(`paxos:dup:${r}`));
    for (let i = 0; i < 3; i++)
      expect(() => Paxos.start('dup', ['dup'], self())).toThrow(/already running/);
    expect(roles.map((r) => r !== undefined && isAlive(r))).toEqual([true, true, true, true]);
    expect(await Paxos.proposeInstance(p!, 0, 'still here', 3000)).toEqual({
      outcome: 'decided',
      value: 'still here',
    });
  });

  it('a start that got past the check (on another node, say) exits name_taken and touches nothing', async () => {
    const [first] = await startAll(['race']);
    const roles = ['acceptor', 'proposer', 'learner', 'beb'].map(
      (r) => whereis(`paxos:race:${r}`)!,
    );
    // The participant's body started directly, as a start on a node that had not yet heard of
    // the name would: three times, more than the roles' supervisor would forgive as crashes.
    for (let i = 0; i < 3; i++) {
      const ref = monitor(spawn(participant, 'race', ['race'], self()));
      const down = await expectReceive<{ reason: unknown }>(
        { type: 'DOWN', ref },
        'a duplicate participant to exit',
      );
      expect(String(down.reason)).toMatch(/already registered/);
    }
    expect(roles.map((r) => isAlive(r))).toEqual([true, true, true, true]);
    expect(Global.whereis('race')!.equals(first!)).toBe(true);
    expect(await Paxos.proposeInstance(first!, 0, 'v', 3000)).toEqual({
      outcome: 'decided',
      value: 'v',
    });
  });
});
