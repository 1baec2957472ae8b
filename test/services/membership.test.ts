// Membership at run time (issue 17): InventoryServer.addReplica/removeReplica order a
// reconfiguration through the log; a new replica catches up from a member's snapshot; a removed
// one stops. Real replicas and Paxos participants in one process (the multi-process runs are in
// test/transport and the simulator).
import { afterEach, describe, expect, it } from 'vitest';
import { ActorError, Global, isAlive, kill } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { configureStorage, openStore } from '../../apps/paxos/storage.ts';
import { paxosName } from '../../apps/rsm/replica.ts';
import { SeatReserve } from '../../apps/seats/index.ts';
import { resetRuntime, until } from '../helpers.ts';

let group = 0;
function replicas(n = 3, options?: Parameters<typeof InventoryServer.start>[2]) {
  group++;
  const procs = Array.from({ length: n }, (_, i) => `m${group}p${i + 1}`);
  return {
    procs,
    pids: procs.map((p) => InventoryServer.start(p, procs, options)),
    fresh: (i: number) => `m${group}p${i}`,
  };
}

const up = (service: string, p: string) => Global.whereis(`${service}:${p}`) !== undefined;

async function ready(procs: string[], service = 'inventory'): Promise<void> {
  await until(() => procs.every((p) => up(service, p)), 20_000);
}

/** The error code a call fails with ('resolved' if it does not). */
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof ActorError ? e.code : String(e)),
  );

afterEach(async () => {
  await resetRuntime();
  configureStorage({});
});

describe('InventoryServer: adding and removing replicas while it runs', () => {
  it('adds a replica that catches up from a snapshot and serves, then removes the leader', async () => {
    const { procs, pids, fresh } = replicas(3, { snapshotEvery: 4 });
    await ready(procs);
    for (let i = 0; i < 10; i++) await InventoryServer.add(pids[i % 3]!, 'apple', 1);
    const p4 = fresh(4);
    const added = await InventoryServer.addReplica(procs[1]!, p4);
    expect(added).toMatchObject({ epoch: 1, members: [...procs, p4] });
    // The new replica serves: it has every earlier operation, and takes new ones.
    expect(await InventoryServer.view(p4)).toEqual({ apple: 10 });
    expect(await InventoryServer.add(p4, 'pear', 2)).toEqual({ ok: true, stock: { pear: 2 } });
    const st = await InventoryServer.status(p4);
    expect(st).toMatchObject({ epoch: 1, members: [...procs, p4], ready: true });
    expect(st.adopted).toBe(1); // it started from a member's snapshot
    for (const p of procs)
      expect(await InventoryServer.status(p)).toMatchObject({ epoch: 1, members: [...procs, p4] });
    // The first epoch's Paxos stores are emptied once a snapshot of the new epoch is saved.
    await until(() =>
      procs.every((p) => openStore(paxosName('inventory', p, 0)).decided.size === 0),
    );
    expect(openStore(paxosName('inventory', procs[0]!, 0)).floor).toBe(Number.MAX_SAFE_INTEGER);

    // Remove the leader (the first member): it stops, the others go on without it.
    const removed = await InventoryServer.removeReplica(procs[2]!, procs[0]!);
    expect(removed).toEqual({ epoch: 2, members: [procs[1], procs[2], p4] });
    await until(() => !isAlive(pids[0]!), 10_000);
    expect(up('inventory', procs[0]!)).toBe(false);
    expect(await InventoryServer.remove(procs[1]!, 'apple', 3)).toEqual({
      ok: true,
      stock: { apple: 7 },
    });
    for (const p of [procs[1]!, procs[2]!, p4])
      expect(await InventoryServer.view(p)).toEqual({ apple: 7, pear: 2 });
  });

  it('refuses bad reconfigurations with typed errors and leaves the configuration as it was', async () => {
    const { procs, pids, fresh } = replicas(2);
    await ready(procs);
    await InventoryServer.add(pids[0]!, 'apple', 5);
    expect(await code(InventoryServer.addReplica(pids[0]!, procs[1]!))).toBe('already_member');
    expect(await code(InventoryServer.removeReplica(pids[0]!, fresh(9)))).toBe('not_member');
    expect(await code(InventoryServer.addReplica(pids[0]!, 'bad name!'))).toBe('invalid_argument');
    expect(await code(InventoryServer.addReplica(pids[0]!, 42 as never))).toBe('invalid_argument');
    expect(await code(InventoryServer.removeReplica('nobody-here', procs[0]!))).toBe(
      'unknown_name',
    );
    // Down to one replica, then the last one cannot go.
    expect(await InventoryServer.removeReplica(pids[0]!, procs[1]!)).toEqual({
      epoch: 1,
      members: [procs[0]],
    });
    const last = InventoryServer.removeReplica(pids[0]!, procs[0]!);
    await expect(last).rejects.toThrow(/last inventory replica/);
    expect(await code(InventoryServer.removeReplica(pids[0]!, procs[0]!))).toBe('invalid_argument');
    expect(await InventoryServer.status(pids[0]!)).toMatchObject({ epoch: 1, members: [procs[0]] });
    expect(await InventoryServer.add(pids[0]!, 'apple', 1)).toEqual({
      ok: true,
      stock: { apple: 6 },
    });
  });

  it("a retried addReplica under the same reqId gets the first call's result", async () => {
    const { procs, fresh } = replicas(3);
    await ready(procs);
    const p4 = fresh(4);
    const first = await InventoryServer.addReplica(procs[0]!, p4, { reqId: 'add-p4' });
    expect(first).toMatchObject({ epoch: 1, members: [...procs, p4] });
    // Asked again at another member (the first answer lost, say): the same result, no second
    // replica; another request adding the same name is refused.
    const again = await InventoryServer.addReplica(procs[2]!, p4, { reqId: 'add-p4' });
    expect(again).toEqual(first);
    expect(await code(InventoryServer.addReplica(procs[1]!, p4, { reqId: 'another' }))).toBe(
      'already_member',
    );
    expect(await InventoryServer.status(p4)).toMatchObject({ epoch: 1, ready: true });
  });

  it('loses and duplicates nothing when replicas come and go under load', async () => {
    const { procs, fresh } = replicas(3, { snapshotEvery: 8 });
    await ready(procs);
    let members = [...procs];
    let acknowledged = 0;
    let stop = false;
    // Clients add one unit at a time at any live member; a refused or failed call is retried
    // under the same reqId at another member, so each unit counts once.
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const reqId = `load-${group}-${c}-${i}`;
        for (let attempt = 0; ; attempt++) {
          const at = members[(c + i + attempt) % members.length]!;
          try {
            await InventoryServer.add(at, 'unit', 1, { reqId, timeoutMs: 2000, attempts: 1 });
            acknowledged++;
            break;
          } catch {
            if (attempt > 50) throw new Error(`request ${reqId} never succeeded`);
          }
        }
      }
    };
    const clients = [0, 1, 2].map(client);
    const next = [4, 5, 6].map(fresh);
    for (const name of next) {
      members = (await InventoryServer.addReplica(members[0]!, name)).members;
      members = (await InventoryServer.removeReplica(members[1]!, members[0]!)).members;
    }
    stop = true;
    await Promise.all(clients);
    expect(members).toEqual(next);
    for (const p of members) {
      const stock = await InventoryServer.view(p);
      expect(stock.unit ?? 0).toBe(acknowledged);
    }
    expect(acknowledged).toBeGreaterThan(0);
  });

  it('a replica asked to remove itself answers, then stops', async () => {
    const { procs, pids } = replicas(3);
    await ready(procs);
    await InventoryServer.add(pids[2]!, 'apple', 4);
    expect(await InventoryServer.removeReplica(pids[2]!, procs[2]!)).toEqual({
      epoch: 1,
      members: [procs[0], procs[1]],
    });
    await until(() => !isAlive(pids[2]!), 10_000);
    await expect(InventoryServer.view(procs[2]!)).rejects.toMatchObject({ code: 'unknown_name' });
    expect(await InventoryServer.view(pids[1]!)).toEqual({ apple: 4 });
  });

  it('a removed name added again comes back from its old data and serves', async () => {
    const { procs, pids } = replicas(3);
    await ready(procs);
    await InventoryServer.add(pids[0]!, 'apple', 1);
    await InventoryServer.removeReplica(pids[0]!, procs[2]!);
    await until(() => !up('inventory', procs[2]!), 10_000);
    await InventoryServer.add(pids[0]!, 'apple', 1);
    // Its store (memory, kept by name in this process) says it was removed: it joins anew.
    const again = await InventoryServer.addReplica(pids[1]!, procs[2]!);
    expect(again).toMatchObject({ epoch: 2, members: procs });
    expect(await InventoryServer.view(procs[2]!)).toEqual({ apple: 2 });
  });

  it('a member that restarts after a reconfiguration comes back in the new configuration', async () => {
    const { procs, pids, fresh } = replicas(3);
    await ready(procs);
    await InventoryServer.add(pids[0]!, 'apple', 2);
    const p4 = fresh(4);
    await InventoryServer.addReplica(pids[0]!, p4);
    await InventoryServer.add(p4, 'apple', 1);
    // p2 restarts with the replicas it was first started with: its snapshot says otherwise.
    kill(pids[1]!);
    await until(() => !up('inventory', procs[1]!), 10_000);
    InventoryServer.start(procs[1]!, procs);
    await ready([procs[1]!]);
    expect(await InventoryServer.status(procs[1]!)).toMatchObject({
      epoch: 1,
      members: [...procs, p4],
    });
    expect(await InventoryServer.view(procs[1]!)).toEqual({ apple: 3 });
  });
});

describe('InventoryServer: a replica that missed reconfigurations', () => {
  it('down while every member it knew was replaced, it catches up from the new ones', async () => {
    const { procs, pids, fresh } = replicas(3);
    await ready(procs);
    await InventoryServer.add(pids[0]!, 'apple', 1);
    kill(pids[2]!);
    await until(() => !up('inventory', procs[2]!), 10_000);
    const [p4, p5] = [fresh(4), fresh(5)];
    await InventoryServer.addReplica(pids[0]!, p4);
    await InventoryServer.addReplica(pids[0]!, p5);
    await InventoryServer.removeReplica(p4, procs[0]!);
    const last = await InventoryServer.removeReplica(p4, procs[1]!);
    expect(last).toEqual({ epoch: 4, members: [procs[2], p4, p5] });
    await InventoryServer.add(p5, 'apple', 2);
    // procs[2] comes back knowing only procs[0] and procs[1], both gone: it finds p4 and p5 in
    // the registry (or is told by a forward from them) and catches up to configuration 4.
    InventoryServer.start(procs[2]!, procs);
    const epoch = () =>
      InventoryServer.status(procs[2]!).then(
        (st) => st.epoch,
        () => undefined, // not registered yet (it registers once caught up)
      );
    await until(async () => (await epoch()) === 4, 20_000);
    expect(await InventoryServer.view(procs[2]!)).toEqual({ apple: 3 });
    expect(await InventoryServer.add(procs[2]!, 'apple', 1)).toEqual({
      ok: true,
      stock: { apple: 4 },
    });
  });
});

describe('SeatReserve: the same reconfiguration', () => {
  it('adds a replica that knows every reservation', async () => {
    group++;
    const procs = [`s${group}a`, `s${group}b`, `s${group}c`];
    const pids = procs.map((p) => SeatReserve.start(p, procs));
    await ready(procs, 'seats');
    await SeatReserve.reserve(pids[0]!, 1, 1, 'ada');
    const added = await SeatReserve.addReplica(pids[0]!, `s${group}d`);
    expect(added.members).toEqual([...procs, `s${group}d`]);
    expect(await SeatReserve.getStatus(`s${group}d`, 1, 1)).toEqual({
      status: 'taken',
      holder: 'ada',
    });
  });
});
