// The replicated services on EPaxos (`protocol: 'epaxos'`): the same API and answers as on
// Multi-Paxos, operations ordered by key, a killed replica restarted, no majority refused at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ActorError, Global, kill } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { closeStores, configureStorage } from '../../apps/paxos/storage.ts';
import { SeatReserve } from '../../apps/seats/index.ts';
import { resetRuntime, until } from '../helpers.ts';

let group = 0;
function inventory(n = 3) {
  group++;
  const procs = Array.from({ length: n }, (_, i) => `e${group}p${i + 1}`);
  return {
    procs,
    pids: procs.map((p) => InventoryServer.start(p, procs, { protocol: 'epaxos' })),
  };
}

afterEach(async () => {
  await resetRuntime();
  configureStorage({});
});

const dir = mkdtempSync(join(tmpdir(), 'epaxos-services-'));
afterAll(async () => {
  await closeStores();
  rmSync(dir, { recursive: true, force: true });
});

describe('InventoryServer on EPaxos', () => {
  it('the seed session: add at one replica, read it at the others; stock never negative', async () => {
    const { pids } = inventory();
    expect(await InventoryServer.add(pids[0]!, 'apple', 10)).toEqual({
      ok: true,
      stock: { apple: 10 },
    });
    expect(await InventoryServer.add(pids[1]!, 'pear', 2)).toEqual({
      ok: true,
      stock: { pear: 2 },
    });
    for (const pid of pids) {
      expect(await InventoryServer.view(pid)).toEqual({ apple: 10, pear: 2 });
      expect(await InventoryServer.get(pid, 'apple')).toBe(10);
    }
    expect(await InventoryServer.remove(pids[2]!, 'apple', 11)).toMatchObject({
      ok: false,
      error: 'insufficient_stock',
    });
    expect(
      await InventoryServer.order(pids[2]!, [
        { item: 'apple', qty: 4 },
        { item: 'pear', qty: 2 },
      ]),
    ).toMatchObject({ ok: true });
    expect(await InventoryServer.view(pids[0]!)).toEqual({ apple: 6 });
  });

  it('concurrent removes of one item from every replica: exactly the stock is sold', async () => {
    const { pids } = inventory();
    await InventoryServer.add(pids[0]!, 'hot', 30);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => InventoryServer.remove(pids[i % 3]!, 'hot', 1)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(30);
    for (const pid of pids) expect(await InventoryServer.get(pid, 'hot')).toBe(0);
  });

  it('a retry under the same reqId is applied once', async () => {
    const { pids } = inventory();
    const first = await InventoryServer.add(pids[0]!, 'x', 5, { reqId: 'same-1' });
    const again = await InventoryServer.add(pids[1]!, 'x', 5, { reqId: 'same-1' });
    expect(again).toEqual(first);
    expect(await InventoryServer.get(pids[2]!, 'x')).toBe(5);
  });

  it('a replica killed mid-load: every request at the others completes; restarted, it has it all', async () => {
    configureStorage({ kind: 'lmdb', dir, sync: false });
    const { procs, pids } = inventory();
    const load = async (i: number) => {
      for (let k = 0; k < 40; k++) await InventoryServer.add(pids[i]!, `item${k % 4}`, 1);
    };
    const clients = [load(1), load(2)];
    await until(async () => (await InventoryServer.get(pids[1]!, 'item0')) >= 2);
    kill(pids[0]!);
    await Promise.all(clients);
    await until(() => Global.whereis(`inventory:${procs[0]}`) === undefined);
    const restarted = InventoryServer.start(procs[0]!, procs, { protocol: 'epaxos' });
    expect(await InventoryServer.view(restarted)).toEqual({
      item0: 20,
      item1: 20,
      item2: 20,
      item3: 20,
    });
  });

  it('with a majority gone, an operation is refused at once: exceed_failure_tolerant', async () => {
    const { procs, pids } = inventory();
    await InventoryServer.add(pids[0]!, 'a', 1);
    kill(pids[1]!);
    kill(pids[2]!);
    await until(() => Global.whereis(`epaxos:inventory:${procs[2]}`) === undefined);
    await until(() => Global.whereis(`epaxos:inventory:${procs[1]}`) === undefined);
    const err = await InventoryServer.add(pids[0]!, 'a', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect((err as ActorError).code).toBe('exceed_failure_tolerant');
  });

  it('bad options are refused before anything starts', () => {
    expect(() => InventoryServer.start('z1', ['z1'], { protocol: 'raft' as never })).toThrow(
      /protocol must be 'paxos' or 'epaxos'/,
    );
  });
});

describe('SeatReserve on EPaxos', () => {
  it('two users race for one seat from different replicas: one gets it, everyone agrees', async () => {
    group++;
    const procs = ['s1', 's2', 's3'].map((p) => `e${group}${p}`);
    const pids = procs.map((p) => SeatReserve.start(p, procs, { protocol: 'epaxos' }));
    const [a, b] = await Promise.all([
      SeatReserve.reserve(pids[0]!, 3, 4, 'ann'),
      SeatReserve.reserve(pids[2]!, 3, 4, 'bob'),
    ]);
    expect([a.ok, b.ok].filter(Boolean)).toHaveLength(1);
    const holder = a.ok ? 'ann' : 'bob';
    for (const pid of pids)
      expect(await SeatReserve.getStatus(pid, 3, 4)).toEqual({ status: 'taken', holder });
  });
});
