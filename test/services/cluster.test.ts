// Both services across real node processes (one replica per node, LMDB on disk), with a node
// crashed by SIGKILL mid-load and relaunched on the same data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pid } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { SeatReserve } from '../../apps/seats/index.ts';
import { LocalCluster } from '../../scripts/support/local-cluster.ts';
import { until } from '../helpers.ts';
import { COOKIE, DOWN_AFTER_MS, HEARTBEAT_MS, startHere } from '../transport/cluster-helpers.ts';

let cluster: LocalCluster;

beforeAll(async () => {
  await startHere();
  cluster = await LocalCluster.start({
    cookie: COOKIE,
    heartbeatIntervalMs: HEARTBEAT_MS,
    nodeDownAfterMs: DOWN_AFTER_MS,
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

const inventory = () => cluster.pids('inventory') as Pid[];

describe('replicated services across node processes', () => {
  it('the seed session and the last-unit race, replicas on three nodes', async () => {
    const pids = inventory();
    expect(await InventoryServer.add(pids[0]!, 'apple', 10)).toEqual({
      ok: true,
      stock: { apple: 10 },
    });
    expect(await InventoryServer.view(pids[2]!)).toEqual({ apple: 10 });
    for (let round = 0; round < 20; round++) {
      await InventoryServer.add(pids[round % 3]!, 'last', 1);
      const results = await Promise.all(pids.map((p) => InventoryServer.remove(p, 'last', 1)));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
    }
    for (const p of pids) expect(await InventoryServer.get(p, 'last')).toBe(0);
  });

  it('one seat reserved at three nodes at once: one winner everywhere', async () => {
    const srs = cluster.pids('seats') as Pid[];
    const results = await Promise.all(srs.map((s, i) => SeatReserve.reserve(s, 7, 7, `u${i}`)));
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const { holder } = winners[0] as { holder: string };
    for (const s of srs)
      expect(await SeatReserve.getStatus(s, 7, 7)).toEqual({ status: 'taken', holder });
  });

  it('a node SIGKILLed mid-load: every request completes; relaunched, it catches up from disk and peers', async () => {
    const pids = inventory();
    const load = async (server: Pid, item: string) => {
      for (let i = 0; i < 100; i++) {
        const r = await InventoryServer.add(server, item, 1);
        expect(r.ok).toBe(true);
      }
    };
    const clients = [load(pids[1]!, 'b'), load(pids[2]!, 'c')];
    await until(async () => (await InventoryServer.get(pids[1]!, 'b')) >= 10); // load under way
    await cluster.killNode('p1'); // the leader's node
    await Promise.all(clients);
    const expected = { apple: 10, b: 100, c: 100 };
    expect(await InventoryServer.view(pids[1]!)).toEqual(expected);
    await cluster.startNode('p1');
    const p1 = cluster.pids('inventory')[0]!;
    expect(await InventoryServer.view(p1)).toEqual(expected);
    // Both replicas reach the same log position (status is a local look, so wait for it).
    await until(async () => {
      const [s1, s2] = await Promise.all([p1, pids[1]!].map((p) => InventoryServer.status(p)));
      return s1!.applied === s2!.applied && s1!.waiting === 0;
    }, 10_000);
    // The seat taken before the crash is still taken at the relaunched node.
    const seats = cluster.pids('seats')[0]!;
    expect(await SeatReserve.getStatus(seats, 7, 7)).toMatchObject({ status: 'taken' });
  });

  it("a replica added on a fourth node process, and a dead node's replica removed, through the log", async () => {
    const pids = inventory();
    const before = await InventoryServer.view(pids[0]!);
    const p4 = await cluster.startNode('p4', { services: [] });
    const added = await InventoryServer.addReplica(pids[1]!, 'p4', { node: p4.name });
    expect(added.members).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(added.pid?.node).toBe(p4.name);
    expect(await InventoryServer.view('p4')).toEqual(before);
    // p3's node dies; its replica is removed; the service goes on with p1, p2 and p4.
    await cluster.killNode('p3');
    const removed = await InventoryServer.removeReplica('p4', 'p3');
    expect(removed).toEqual({ epoch: added.epoch + 1, members: ['p1', 'p2', 'p4'] });
    expect(await InventoryServer.add('p4', 'kiwi', 3)).toEqual({ ok: true, stock: { kiwi: 3 } });
    for (const p of ['p1', 'p2', 'p4'])
      expect(await InventoryServer.view(p)).toEqual({ ...before, kiwi: 3 });
  });
});
