import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Global, isAlive, kill, receive, self, TIMEOUT } from '../../actors/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { closeStores, configureStorage, environment, openStore } from '../../apps/paxos/storage.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { untilQuiet, WAIT_MS, waitUntil } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'paxos-lmdb-'));
afterAll(async () => {
  await closeStores();
  rmSync(dir, { recursive: true, force: true });
});

async function startAll(names: string[]) {
  const pids = names.map((n) => Paxos.start(n, names, self()));
  await waitUntil(
    () =>
      names.every(
        (n) => Global.whereis(n) !== undefined && Global.whereis(`${n}/beb`) !== undefined,
      ),
    'every participant and its broadcast process registered',
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
    for (let i = 0; i < 3; i++)
      expect(await receive({ type: 'decide' }, WAIT_MS)).toMatchObject({ value: 'durable' });
    // Crash every participant and forget everything in memory: only the disk is left.
    for (const p of pids) kill(p);
    await waitUntil(
      () => pids.every((p) => !isAlive(p)) && names.every((n) => Global.whereis(n) === undefined),
      'every participant dead and unregistered',
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
    await untilQuiet('the second proposal done');
    expect(await receive({ type: 'decide' }, 0)).toBe(TIMEOUT);
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
    // n1 learns the decision in its own time (n3 proposed it).
    await waitUntil(() => openStore('n1').decided.has(4), 'n1 to store decision 4');
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
    await waitUntil(
      () => names.every((n) => openStore(n).decided.size === 4),
      'every participant to store four decisions',
    );
    expect(await Paxos.compact(pids[0]!, 3)).toBe(3);
    expect(await Paxos.proposeInstance(pids[0]!, 1, 'late', 5000)).toEqual({
      outcome: 'aborted',
      reason: 'compacted',
    });
    // Compaction never moves the floor down.
    expect(await Paxos.compact(pids[0]!, 2)).toBe(3);
    for (const p of pids) kill(p);
    await waitUntil(
      () => pids.every((p) => !isAlive(p)) && Global.whereis('c1') === undefined,
      'every participant dead and c1 unregistered',
    );
    await closeStores();
    const reopened = openStore('c1');
    expect(reopened.floor).toBe(3);
    expect([...reopened.decided.keys()]).toEqual([3]);
    expect([...reopened.records.keys()]).toEqual([3]); // only what is above the floor
    // The others kept everything: compaction is each participant's own business.
    expect(openStore('c2').decided.size).toBe(4);
    configureStorage({});
  });
});

describe('durability: a write a reply depends on is flushed, not only committed', () => {
  it('persistRecord, persistDecision and persistReserved resolve after db.flushed (50 of 50)', async () => {
    configureStorage({ kind: 'lmdb', dir: join(dir, 'flush'), sync: true });
    const store = openStore('f1');
    const db = environment(join(dir, 'flush'), true);
    let flushedFirst = 0;
    for (let i = 0; i < 50; i++) {
      const write =
        i % 3 === 0
          ? store.persistRecord(i, { promised: { round: i + 1, leader: 'f1' }, accepted: null })
          : i % 3 === 1
            ? store.persistDecision(i, `v${i}`)
            : store.persistReserved(i);
      let flushed = false;
      void db.flushed.then(() => {
        flushed = true;
      });
      await write;
      // db.flushed, asked for after the write was issued, has settled by the time the write has
      if (flushed) flushedFirst++;
    }
    expect(flushedFirst).toBe(50);
    configureStorage({});
  });
});

describe('a data directory belongs to one cluster', () => {
  it('refuses to start a participant whose kept data belong to another membership', async () => {
    const data = join(dir, 'members');
    configureStorage({ kind: 'lmdb', dir: data, sync: true });
    const names = ['m1', 'm2', 'm3'];
    const pids = await startAll(names);
    expect(await Paxos.proposeInstance(pids[0]!, 0, 'ours', 5000)).toMatchObject({
      outcome: 'decided',
    });
    for (const p of pids) kill(p);
    await waitUntil(() => names.every((n) => Global.whereis(n) === undefined), 'names released');
    await closeStores(); // as after a restart of the node: only the disk is left
    // the same name in another cluster, on the same data directory
    expect(() => Paxos.start('m1', ['m1', 'x2', 'x3'], self())).toThrow(
      /holds participant 'm1' of the cluster \[m1, m2, m3\], not \[m1, x2, x3\]/,
    );
    expect(Global.whereis('m1')).toBeUndefined();
    // the right membership (in any order) is fine, and finds its decision
    const again = await startAll(['m3', 'm1', 'm2']);
    expect(await Paxos.getDecision(again[1]!, 0, 2000)).toBe('ours');
    for (const p of again) kill(p);
    configureStorage({});
  });
});

// lmdb-js runs an async transaction's callback on the main thread, from its write thread; a
// process.exit while the write thread waits for that callback never returns (the exit joins the
// write thread). Seen as a node that did not stop on SIGTERM after a compaction (chaos --replace).
describe('an exit while a compaction is being written', () => {
  it.each(['paxos', 'epaxos'])(
    '%s: the process exits at once, and the store opens again',
    (kind) => {
      const data = join(dir, `exit-${kind}`);
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'test/fixtures/storage/exit-while-writing.ts', data, kind],
        { encoding: 'utf8', timeout: scaledMs(30_000), killSignal: 'SIGKILL' },
      );
      expect(run.signal, `it hung; it printed: ${run.stdout}${run.stderr}`).toBeNull();
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain('exiting');
      // Its data are intact: every write before the compaction, and the compaction all or nothing
      // (the exit may come before its commit).
      const again = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'test/fixtures/storage/exit-while-writing.ts', data, kind, '--read'],
        { encoding: 'utf8', timeout: scaledMs(30_000), killSignal: 'SIGKILL' },
      );
      expect(again.status, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/^kept (0|10)\.\.19$/m);
    },
  );
});

describe('the data directory', () => {
  // lmdb-js takes a path with an extension for a file; ours is always a directory.
  it('may have a dot in its name (data.v2, /tmp/tmp.XXXX)', async () => {
    configureStorage({ kind: 'lmdb', dir: join(dir, 'data.v2'), sync: true });
    try {
      await openStore('dotted').persistDecision(0, 'kept');
      await closeStores();
      expect(openStore('dotted').decided.get(0)).toBe('kept');
    } finally {
      configureStorage({});
    }
  });
});
