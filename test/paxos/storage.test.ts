import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Global, isAlive, kill, receive, self, TIMEOUT } from '../../actors/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { closeStores, configureStorage, openStore } from '../../apps/paxos/storage.ts';
import { until } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'paxos-lmdb-'));
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

describe('durable Paxos state in LMDB', () => {
  it('participants restarted on the same data keep their decisions and promises', async () => {
    configureStorage({ kind: 'lmdb', dir, sync: true });
    const names = ['d1', 'd2', 'd3'];
    let pids = await startAll(names);
    expect(await Paxos.proposeInstance(pids[0]!, 0, 'durable', 5000)).toEqual({
      outcome: 'decided',
      value: 'durable',
    });
    for (let i = 0; i < 3; i++) await receive({ type: 'decide' }, 2000);
    // Crash every participant and forget everything in memory: only the disk is left.
    for (const p of pids) kill(p);
    await until(
      () => pids.every((p) => !isAlive(p)) && names.every((n) => Global.whereis(n) === undefined),
    );
    await closeStores();
    const reopened = openStore('d2');
    expect(reopened.decided.get(0)).toBe('durable');
    expect(reopened.records.get(0)?.promised?.round).toBeGreaterThan(0);
    pids = await startAll(names);
    // The decision is known from disk: a new proposal for instance 0 gets the old value, and
    // no upper is told again.
    expect(await Paxos.proposeInstance(pids[1]!, 0, 'other', 5000)).toEqual({
      outcome: 'decided',
      value: 'durable',
    });
    expect(await receive({ type: 'decide' }, 200)).toBe(TIMEOUT);
    expect(await Paxos.getDecision(pids[2]!, 0, 1000)).toBe('durable');
    // A restarted proposer goes above the rounds it reserved before the crash.
    expect(openStore('d1').reservedRound).toBeGreaterThan(0);
    expect(await Paxos.proposeInstance(pids[0]!, 1, 'next', 5000)).toEqual({
      outcome: 'decided',
      value: 'next',
    });
    for (const p of pids) kill(p);
  });

  it('the no-sync mode stores the same data (without waiting for the disk)', async () => {
    configureStorage({ kind: 'lmdb', dir: join(dir, 'nosync'), sync: false });
    const names = ['n1', 'n2', 'n3'];
    const pids = await startAll(names);
    expect(await Paxos.proposeInstance(pids[2]!, 4, { order: 1 }, 5000)).toEqual({
      outcome: 'decided',
      value: { order: 1 },
    });
    expect(openStore('n1').decided.get(4)).toEqual({ order: 1 });
    for (const p of pids) kill(p);
    configureStorage({});
  });

  it('compaction forgets instances below a floor, durably; proposals there are refused', async () => {
    configureStorage({ kind: 'lmdb', dir: join(dir, 'compact'), sync: true });
    const names = ['c1', 'c2', 'c3'];
    const pids = await startAll(names);
    for (let inst = 0; inst < 4; inst++)
      expect(await Paxos.proposeInstance(pids[0]!, inst, `v${inst}`, 5000)).toMatchObject({
        outcome: 'decided',
      });
    await until(() => names.every((n) => openStore(n).decided.size === 4));
    expect(await Paxos.compact(pids[0]!, 3)).toBe(3);
    expect(await Paxos.proposeInstance(pids[0]!, 1, 'late', 5000)).toEqual({
      outcome: 'aborted',
      reason: 'compacted',
    });
    // Compaction never moves the floor down.
    expect(await Paxos.compact(pids[0]!, 2)).toBe(3);
    for (const p of pids) kill(p);
    await until(() => pids.every((p) => !isAlive(p)) && Global.whereis('c1') === undefined);
    await closeStores();
    const reopened = openStore('c1');
    expect(reopened.floor).toBe(3);
    expect([...reopened.decided.keys()]).toEqual([3]);
    expect([...reopened.records.keys()].every((i) => i >= 3)).toBe(true);
    // The others kept everything: compaction is each participant's own business.
    expect(openStore('c2').decided.size).toBe(4);
    configureStorage({});
  });
});
