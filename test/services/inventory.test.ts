import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ActorError,
  Global,
  isAlive,
  kill,
  type Pid,
  register,
  unregister,
  whereis,
} from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { bebName } from '../../apps/paxos/participant.ts';
import { closeStores, configureStorage } from '../../apps/paxos/storage.ts';
import { paxosName } from '../../apps/rsm/replica.ts';
import { resetRuntime, until } from '../helpers.ts';

let group = 0;
/** Fresh replica names per test (the in-memory stores are kept by name within this file). */
function replicas(n = 3, options?: Parameters<typeof InventoryServer.start>[2]) {
  group++;
  const procs = Array.from({ length: n }, (_, i) => `g${group}p${i + 1}`);
  return { procs, pids: procs.map((p) => InventoryServer.start(p, procs, options)) };
}

async function ready(procs: string[]): Promise<void> {
  await until(() => procs.every((p) => Global.whereis(`inventory:${p}`) !== undefined), 10_000);
}

afterEach(async () => {
  await resetRuntime();
  configureStorage({});
});

const dir = mkdtempSync(join(tmpdir(), 'inventory-lmdb-'));
afterAll(async () => {
  await closeStores();
  rmSync(dir, { recursive: true, force: true });
});

describe('InventoryServer (replicas in one process)', () => {
  it('runs the seed session: add at one replica, read it at the others', async () => {
    const { pids } = replicas();
    expect(await InventoryServer.add(pids[0]!, 'apple', 10)).toEqual({
      ok: true,
      stock: { apple: 10 },
    });
    expect(await InventoryServer.addToInventory(pids[1]!, 'pear', 2)).toEqual({
      ok: true,
      stock: { pear: 2 },
    });
    // Reads go through the log: every acknowledged operation is visible at every replica.
    for (const pid of pids) {
      expect(await InventoryServer.view(pid)).toEqual({ apple: 10, pear: 2 });
      expect(await InventoryServer.get(pid, 'apple')).toBe(10);
    }
    expect(await InventoryServer.removeFromInventory(pids[2]!, 'apple', 4)).toEqual({
      ok: true,
      stock: { apple: 6 },
    });
    expect(await InventoryServer.viewInventory(pids[0]!)).toEqual({ apple: 6, pear: 2 });
    expect(await InventoryServer.get(pids[0]!, 'plum')).toBe(0);
  });

  it('the last unit, removed at two replicas at once: exactly one wins, every round', async () => {
    const { pids } = replicas();
    let stockSeen = 0;
    for (let round = 0; round < 40; round++) {
      await InventoryServer.add(pids[round % 3]!, 'last', 1);
      const [a, b] = await Promise.all([
        InventoryServer.remove(pids[(round + 1) % 3]!, 'last', 1),
        InventoryServer.remove(pids[(round + 2) % 3]!, 'last', 1),
      ]);
      const wins = [a, b].filter((r) => r.ok);
      expect(wins).toHaveLength(1);
      expect([a, b].find((r) => !r.ok)).toMatchObject({
        ok: false,
        error: 'insufficient_stock',
        available: 0,
      });
      stockSeen += await InventoryServer.get(pids[round % 3]!, 'last');
    }
    expect(stockSeen).toBe(0);
  });

  it('an order applies wholly or not at all', async () => {
    const { pids } = replicas();
    await InventoryServer.add(pids[0]!, 'apple', 5);
    await InventoryServer.add(pids[0]!, 'pear', 1);
    expect(
      await InventoryServer.order(pids[1]!, [
        { item: 'apple', qty: 2 },
        { item: 'pear', qty: 2 },
      ]),
    ).toMatchObject({ ok: false, error: 'insufficient_stock', item: 'pear', available: 1 });
    expect(await InventoryServer.view(pids[2]!)).toEqual({ apple: 5, pear: 1 });
    expect(
      await InventoryServer.order(pids[2]!, [
        { item: 'apple', qty: 2 },
        { item: 'pear', qty: 1 },
      ]),
    ).toEqual({ ok: true, stock: { apple: 3, pear: 0 } });
    expect(await InventoryServer.view(pids[0]!)).toEqual({ apple: 3 });
  });

  it('a retry under the same request id is applied once, at any replica', async () => {
    const { pids } = replicas();
    const first = await InventoryServer.add(pids[0]!, 'apple', 3, { reqId: 'client-7' });
    const again = await InventoryServer.add(pids[1]!, 'apple', 3, { reqId: 'client-7' });
    const concurrent = await Promise.all(
      pids.map((p) => InventoryServer.remove(p, 'apple', 1, { reqId: 'client-8' })),
    );
    expect(again).toEqual(first);
    expect(concurrent).toEqual([concurrent[0], concurrent[0], concurrent[0]]);
    expect(await InventoryServer.get(pids[2]!, 'apple')).toBe(2);
  });

  it('rejects bad input with typed errors, before anything is proposed', async () => {
    const { procs, pids } = replicas();
    await ready(procs);
    await InventoryServer.add(pids[0]!, 'apple', 1);
    const before = await InventoryServer.status(pids[0]!);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => (e instanceof ActorError ? e.code : String(e)),
      );
    const bad: Array<() => Promise<unknown>> = [
      () => InventoryServer.add(pids[0]!, 'apple', 0),
      () => InventoryServer.add(pids[0]!, 'apple', -2),
      () => InventoryServer.add(pids[0]!, 'apple', 1.5),
      () => InventoryServer.add(pids[0]!, 'apple', '3' as never),
      () => InventoryServer.add(pids[0]!, '', 1),
      () => InventoryServer.add(pids[0]!, 7 as never, 1),
      () => InventoryServer.remove(pids[0]!, 'apple', Number.NaN),
      () => InventoryServer.order(pids[0]!, []),
      () => InventoryServer.get(pids[0]!, '  '),
    ];
    for (const f of bad) expect(await code(Promise.resolve().then(f))).toBe('invalid_argument');
    expect(await code(Promise.resolve().then(() => InventoryServer.add('nobody', 'a', 1)))).toBe(
      'unknown_name',
    );
    expect(await code(Promise.resolve().then(() => InventoryServer.view(42 as never)))).toBe(
      'invalid_argument',
    );
    expect(() => InventoryServer.start('x', ['y'])).toThrow(ActorError);
    expect(() => InventoryServer.start(procs[0]!, procs)).toThrow(/already running/);
    expect((await InventoryServer.status(pids[0]!)).applied).toBe(before.applied);
    expect(await InventoryServer.view(procs[1]!)).toEqual({ apple: 1 });
    // A dead server: the call fails with noproc.
    kill(pids[2]!);
    await until(() => !isAlive(pids[2]!));
    expect(await code(InventoryServer.view(pids[2]!))).toBe('noproc');
  });

  it('a replica killed mid-load: every request completes; restarted, it catches up', async () => {
    // Small snapshots: the restarted replica catches up from a snapshot and compacted logs.
    const { procs, pids } = replicas(3, { snapshotEvery: 20 });
    await ready(procs);
    const load = async (server: Pid, tag: string) => {
      const results = [];
      for (let i = 0; i < 150; i++) results.push(await InventoryServer.add(server, tag, 1));
      return results;
    };
    const clients = [load(pids[1]!, 'b'), load(pids[2]!, 'c')];
    await until(async () => (await InventoryServer.get(pids[1]!, 'b')) >= 10); // load under way
    kill(pids[0]!); // the leader
    const done = await Promise.all(clients);
    expect(done.flat().every((r) => r.ok)).toBe(true);
    expect(await InventoryServer.view(pids[1]!)).toEqual({ b: 150, c: 150 });
    await until(() => Global.whereis(`inventory:${procs[0]}`) === undefined);
    const restarted = InventoryServer.start(procs[0]!, procs, { snapshotEvery: 20 });
    await ready(procs);
    expect(await InventoryServer.view(restarted)).toEqual({ b: 150, c: 150 });
    // The restarted replica may itself have decided a no-op while filling holes; the others
    // learn it when its leader announces it, so the two logs meet rather than start equal.
    await until(async () => {
      const [s0, s1] = await Promise.all([
        InventoryServer.status(restarted),
        InventoryServer.status(pids[1]!),
      ]);
      return s0.applied === s1.applied && s1.snapshotAt > 0;
    });
  });

  it('with a majority gone, an operation is refused at once: exceed_failure_tolerant', async () => {
    const { procs, pids } = replicas(3);
    await ready(procs);
    expect(await InventoryServer.add(pids[0]!, 'a', 1)).toMatchObject({ ok: true });
    kill(pids[1]!);
    kill(pids[2]!);
    // The replica learns who is up from the registry: wait until both participants are gone.
    for (const p of [procs[1]!, procs[2]!])
      await until(() => Global.whereis(bebName(paxosName('inventory', p))) === undefined);
    const started = performance.now();
    const err = await InventoryServer.add(pids[0]!, 'a', 1, {
      timeoutMs: 20_000,
      attempts: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect((err as ActorError).code).toBe('exceed_failure_tolerant');
    expect((err as ActorError).message).toMatch(/fewer than 2 of the 3 inventory replicas/);
    // At once: not after the call's 20 s timeout.
    expect(performance.now() - started).toBeLessThan(10_000);
    // A read still answers only through the log: refused the same way, nothing is lost.
    expect(await InventoryServer.get(pids[0]!, 'a').catch((e: ActorError) => e.code)).toBe(
      'exceed_failure_tolerant',
    );
  });

  it('a replica that missed decisions fills the holes in its log', async () => {
    const { procs, pids } = replicas();
    await ready(procs);
    await InventoryServer.add(pids[2]!, 'x', 1);
    // Hide p3's Paxos learner: every decision meant for p3 is dropped (a lost message).
    const learnerName = `paxos:inventory:${procs[2]}/paxos:learner`;
    const learner = whereis(learnerName)!;
    unregister(learnerName);
    for (let i = 0; i < 20; i++) await InventoryServer.add(pids[i % 2]!, 'x', 1);
    const behind = await InventoryServer.status(pids[2]!);
    const ahead = await InventoryServer.status(pids[0]!);
    expect(behind.applied).toBeLessThan(ahead.applied);
    register(learnerName, learner);
    // The next operation at p3 is decided after the hole: p3 fills it, then answers.
    expect(await InventoryServer.get(pids[2]!, 'x')).toBe(21);
    expect((await InventoryServer.status(pids[2]!)).applied).toBeGreaterThan(ahead.applied);
  });

  it('state survives a restart of every replica (LMDB: log, snapshot, compaction)', async () => {
    configureStorage({ kind: 'lmdb', dir, sync: true });
    const { procs, pids } = replicas(3, { snapshotEvery: 5 });
    await ready(procs);
    for (let i = 0; i < 30; i++) await InventoryServer.add(pids[i % 3]!, 'durable', 1);
    await InventoryServer.remove(pids[0]!, 'durable', 7);
    for (const p of pids) kill(p);
    await until(() => procs.every((p) => Global.whereis(`inventory:${p}`) === undefined));
    await closeStores(); // nothing of the first run is left in memory
    const again = procs.map((p) => InventoryServer.start(p, procs, { snapshotEvery: 5 }));
    expect(await InventoryServer.get(again[2]!, 'durable')).toBe(23);
    expect(await InventoryServer.add(again[1]!, 'durable', 1)).toEqual({
      ok: true,
      stock: { durable: 24 },
    });
  });
});
