// The EPaxos shell and API: three replicas of a partition in one runtime, as the REPL runs them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ActorError, Global, isAlive, kill } from '../../actors/index.ts';
import { EPaxos, type EpaxosMachine, serverName } from '../../apps/epaxos/index.ts';
import { closeEpaxosStores } from '../../apps/epaxos/storage.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { resetRuntime, waitUntil } from '../helpers.ts';

const NODES = ['r1', 'r2', 'r3'];
let run = 0;
const started = new Set<string>();

/** A fresh partition id per test (memory stores are kept per partition and replica). */
function partition(): string {
  const p = `t${++run}`;
  started.add(p);
  return p;
}

afterEach(async () => {
  for (const p of started) await EPaxos.stop(p);
  started.clear();
  await resetRuntime();
});

/** Appends the op to one list: every replica must end with the same list. */
const listMachine: EpaxosMachine<string[], number> = {
  empty: () => [],
  apply: (state, op) => {
    state.push(op as string);
    return state.length;
  },
  describe: (state) => [...state],
};

/** listMachine with snapshots (checkpoints, and a joining replica's start). */
const snapList = {
  ...listMachine,
  snapshot: (state: string[]) => [...state],
  restore: (saved: unknown) => [...(saved as string[])],
} as EpaxosMachine;

async function startAll(p: string, options: Parameters<typeof EPaxos.init>[3] = {}) {
  for (let i = 1; i <= NODES.length; i++)
    expect(EPaxos.init(p, NODES, i, { machine: listMachine as EpaxosMachine, ...options })).toBe(
      'ok',
    );
  expect(await EPaxos.startCluster('all', scaledMs(5000))).toBe('ok');
}

async function lists(p: string, replicas = NODES): Promise<string[][]> {
  const out: string[][] = [];
  for (const r of replicas) out.push((await EPaxos.status(p, { replica: r })).machine as string[]);
  return out;
}

/** Waits until every replica has executed `count` commands, then returns their lists. */
async function converged(p: string, count: number): Promise<string[][]> {
  await waitUntil(async () => {
    const ls = await lists(p);
    return ls.every((l) => l.length === count);
  }, `every replica of ${p} to execute ${count} commands`);
  return await lists(p);
}

describe('EPaxos replicas (in one runtime)', () => {
  it('init + start_cluster, then a call executes everywhere', async () => {
    const p = partition();
    await startAll(p);
    expect(await EPaxos.start_cluster('minimum', 1000)).toBe('ok');
    expect(await EPaxos.call(p, { keys: ['k'], op: 'a' })).toEqual({ ok: true, result: 1 });
    expect(await converged(p, 1)).toEqual([['a'], ['a'], ['a']]);
    const status = await EPaxos.status(p, { replica: 'r1' });
    expect(status).toMatchObject({
      partitionId: p,
      replica: 'r1',
      replicas: NODES,
      instances: { committed: 1, executed: 1 },
      waiting: 0,
    });
    expect(status.commits.fast + status.commits.slow).toBe(1);
    // the recent commits, for the live view: the command, its attributes and the path taken
    expect(status.recent).toHaveLength(1);
    expect(status.recent[0]).toMatchObject({ id: expect.any(String), keys: ['k'], op: '"a"' });
    expect(status.recent[0]!.inst).toMatch(/^r1\.\d+$/);
    expect(['fast', 'slow']).toContain(status.recent[0]!.path);
    expect(Array.isArray(status.recent[0]!.deps)).toBe(true);
    expect(EPaxos.replicas(p)).toEqual(NODES);
  });

  it('50 concurrent conflicting calls from 3 replicas execute in one order everywhere', async () => {
    const p = partition();
    await startAll(p);
    const ops = Array.from({ length: 50 }, (_, i) => `op${i}`);
    const outcomes = await Promise.all(
      ops.map((op, i) =>
        EPaxos.call(p, { keys: ['list'], op }, { replica: NODES[i % 3], timeoutMs: 20_000 }),
      ),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // The results are the positions each op got: 1..50, each once.
    const positions = outcomes.map((o) => (o.ok ? (o.result as number) : 0));
    expect([...positions].sort((a, b) => a - b)).toEqual(ops.map((_, i) => i + 1));
    const [a, b, c] = await converged(p, 50);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect([...a!].sort()).toEqual([...ops].sort());
    // Each op sits at the position its call returned.
    for (const [i, op] of ops.entries()) expect(a![positions[i]! - 1]).toBe(op);
  });

  it('cast returns a key at once; outcome resolves as call would; lookup reads it', async () => {
    const p = partition();
    await startAll(p);
    const key = EPaxos.cast(p, { keys: ['k'], op: 'x' }, { replica: 'r2' });
    expect(typeof key).toBe('string');
    expect(await EPaxos.outcome(key)).toEqual({ ok: true, result: 1 });
    expect(EPaxos.lookup(key)).toEqual({ ok: true, result: 1 });
    expect(EPaxos.lookup('no-such-key')).toBeUndefined();
    expect(() => EPaxos.outcome('no-such-key')).toThrow(/no cast/);
  });

  it('with 2 of 3 replicas stopped, a call fails with exceed_failure_tolerant at once', async () => {
    const p = partition();
    await startAll(p);
    expect((await EPaxos.call(p, { keys: ['k'], op: 'before' })).ok).toBe(true);
    await EPaxos.stop(p, 'r2');
    await EPaxos.stop(p, 'r3');
    await waitUntil(() => Global.whereis(serverName(p, 'r2')) === undefined, 'r2 unregistered');
    const t0 = performance.now();
    expect(await EPaxos.call(p, { keys: ['k'], op: 'lonely' }, { timeoutMs: 10_000 })).toEqual({
      ok: false,
      error: 'exceed_failure_tolerant',
    });
    expect(performance.now() - t0).toBeLessThan(1000);
    const key = EPaxos.cast(p, { keys: ['k'], op: 'lonely' });
    expect(await EPaxos.outcome(key)).toEqual({ ok: false, error: 'exceed_failure_tolerant' });
    expect(await EPaxos.startCluster('minimum', 50)).toEqual({ ok: false, error: 'timeout' });
  });

  it('a replica process killed mid-load is restarted by its supervisor; every call completes', async () => {
    const p = partition();
    await startAll(p);
    // Three clients, one per replica, each calling one command after another.
    const perClient = 30;
    let done = 0;
    const client = async (replica: string) => {
      const out = [];
      for (let i = 0; i < perClient; i++) {
        out.push(
          await EPaxos.call(
            p,
            { keys: ['list'], op: `${replica}-${i}` },
            { replica, timeoutMs: 30_000 },
          ),
        );
        done++;
      }
      return out;
    };
    const clients = NODES.map(client);
    await waitUntil(() => done >= 20, 'the first 20 calls done');
    const victim = Global.whereis(serverName(p, 'r2'))!;
    kill(victim);
    await waitUntil(() => {
      const now = Global.whereis(serverName(p, 'r2'));
      return now !== undefined && !now.equals(victim);
    }, 'r2 restarted under its name');
    expect(isAlive(victim)).toBe(false);
    expect(done).toBeLessThan(3 * perClient); // it was killed mid-load
    const outcomes = (await Promise.all(clients)).flat();
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    const [a, b, c] = await converged(p, 3 * perClient);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const ops = NODES.flatMap((r) => Array.from({ length: perClient }, (_, i) => `${r}-${i}`));
    expect([...a!].sort()).toEqual([...ops].sort()); // each applied once
  });

  it('rejects bad arguments with invalid_argument and keeps its state', async () => {
    const p = partition();
    await startAll(p);
    expect((await EPaxos.call(p, { keys: ['k'], op: 'ok' })).ok).toBe(true);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof ActorError ? err.code : String(err);
      }
      return 'no error';
    };
    const acode = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        return err instanceof ActorError ? err.code : String(err);
      }
      return 'no error';
    };
    expect(code(() => EPaxos.init('', NODES, 1))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('a:b', NODES, 1))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('x', [], 1))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('x', ['a', 'a'], 1))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('x', NODES, 0))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('x', NODES, 4))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('x', NODES, 1.5))).toBe('invalid_argument');
    expect(code(() => EPaxos.init('x', NODES, 1, { machine: {} as never }))).toBe(
      'invalid_argument',
    );
    expect(code(() => EPaxos.init('x', NODES, 1, { storage: { kind: 'disk' as never } }))).toBe(
      'invalid_argument',
    );
    expect(code(() => EPaxos.init(p, ['r1', 'r2', 'r9'], 3))).toBe('invalid_argument');
    expect(code(() => EPaxos.init(p, NODES, 1))).toBe('already_running');
    expect(EPaxos.replicas('x')).toEqual([]); // nothing was started by the refused inits
    expect(await acode(() => EPaxos.call(p, { keys: [], op: 'a' }))).toBe('invalid_argument');
    expect(await acode(() => EPaxos.call(p, { keys: [''], op: 'a' }))).toBe('invalid_argument');
    expect(await acode(() => EPaxos.call(p, 'op' as never))).toBe('invalid_argument');
    expect(await acode(() => EPaxos.call(p, { keys: ['k'], op: () => 1 }))).toBe(
      'invalid_argument',
    );
    expect(await acode(() => EPaxos.call('nope', { keys: ['k'], op: 'a' }))).toBe(
      'invalid_argument',
    );
    expect(await acode(() => EPaxos.call(p, { keys: ['k'], op: 'a' }, { replica: 'r9' }))).toBe(
      'invalid_argument',
    );
    expect(await acode(() => EPaxos.call(p, { keys: ['k'], op: 'a' }, { timeoutMs: 0 }))).toBe(
      'invalid_argument',
    );
    expect(code(() => EPaxos.cast(p, { keys: 'k' as never, op: 'a' }))).toBe('invalid_argument');
    expect(await acode(() => EPaxos.startCluster('some' as never, 100))).toBe('invalid_argument');
    // A joining replica needs a machine that snapshots, and no data of its own.
    const lists3 = await lists(p);
    expect(
      await acode(() =>
        EPaxos.join(p, [...NODES, 'r4'], 4, { machine: listMachine as EpaxosMachine }),
      ),
    ).toBe('invalid_argument');
    // This partition's machine cannot checkpoint: refused once asked, and undone.
    expect(await acode(() => EPaxos.join(p, [...NODES, 'r4'], 4, { machine: snapList }))).toBe(
      'not_supported',
    );
    expect(await lists(p)).toEqual(lists3);
    expect(await acode(() => EPaxos.join(p, NODES, 1, { machine: snapList }))).toBe(
      'invalid_argument',
    );
    // The node list must be the partition's replicas and the new one: refused, and undone.
    expect(await acode(() => EPaxos.join(p, ['r1', 'r2', 'r4'], 3, { machine: snapList }))).toBe(
      'invalid_argument',
    );
    // The default machine validates its ops before anything is proposed.
    const q = partition();
    EPaxos.init(q, ['solo'], 1);
    expect(await EPaxos.startCluster('all', scaledMs(5000))).toBe('ok');
    expect(await acode(() => EPaxos.call(q, { keys: ['k'], op: { bad: 1 } }))).toBe(
      'invalid_argument',
    );
    expect(await EPaxos.call(q, { keys: ['k'], op: { add: 2 } })).toEqual({
      ok: true,
      result: { k: 2 },
    });
    // State intact: the partition still answers, and executed nothing refused.
    expect(await EPaxos.call(p, { keys: ['k'], op: 'after' })).toEqual({ ok: true, result: 2 });
    expect(await converged(p, 2)).toEqual(NODES.map(() => ['ok', 'after']));
  });
});

describe('EPaxos.join', () => {
  it('a replica joins a running partition under load, catches up, and counts in quorums', async () => {
    const p = partition();
    await startAll(p, { machine: snapList });
    for (let i = 0; i < 10; i++) await EPaxos.call(p, { keys: ['list'], op: `before${i}` });
    // Calls go on from the three replicas while r4 joins: they wait out the fence.
    const load = Array.from({ length: 30 }, (_, i) =>
      EPaxos.call(
        p,
        { keys: ['list'], op: `during${i}` },
        { replica: NODES[i % 3], timeoutMs: scaledMs(20_000) },
      ),
    );
    expect(await EPaxos.join(p, [...NODES, 'r4'], 4, { machine: snapList })).toBe('ok');
    expect((await Promise.all(load)).every((o) => o.ok)).toBe(true);
    const all = [...NODES, 'r4'];
    await waitUntil(async () => {
      const ls = await lists(p, all);
      return ls.every((l) => l.length === 40);
    }, 'every replica, r4 too, to hold the 40 commands');
    const ls = await lists(p, all);
    for (const l of ls) expect(l).toEqual(ls[0]);
    for (const r of all)
      expect((await EPaxos.status(p, { replica: r })).replicas.sort(), r).toEqual(all);
    // With r3 stopped, r1 needs 3 of the 4: itself, r2 and r4. It gets them: r4 counts.
    await EPaxos.stop(p, 'r3');
    await waitUntil(() => Global.whereis(serverName(p, 'r3')) === undefined, 'r3 unregistered');
    expect(await EPaxos.call(p, { keys: ['list'], op: 'with-r4' })).toEqual({
      ok: true,
      result: 41,
    });
    // And without r4 too, two of four are not enough: at once, exceed_failure_tolerant.
    await EPaxos.stop(p, 'r4');
    await waitUntil(() => Global.whereis(serverName(p, 'r4')) === undefined, 'r4 unregistered');
    expect(await EPaxos.call(p, { keys: ['list'], op: 'x' })).toEqual({
      ok: false,
      error: 'exceed_failure_tolerant',
    });
  });
});

describe('EPaxos replicas on LMDB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'epaxos-lmdb-'));
  afterAll(async () => {
    await closeEpaxosStores();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stopped and started again, every replica executes its committed commands again', async () => {
    const p = partition();
    const storage = { kind: 'lmdb' as const, dir, sync: true };
    await startAll(p, { storage });
    const ops = Array.from({ length: 20 }, (_, i) => `op${i}`);
    const outcomes = await Promise.all(
      ops.map((op, i) => EPaxos.call(p, { keys: ['list'], op }, { replica: NODES[i % 3] })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const before = await converged(p, 20);
    expect(before[1]).toEqual(before[0]);
    expect(before[2]).toEqual(before[0]);
    await EPaxos.stop(p);
    await waitUntil(
      () => NODES.every((r) => Global.whereis(serverName(p, r)) === undefined),
      'every replica unregistered',
    );
    await closeEpaxosStores(); // only the disk is left
    await startAll(p, { storage });
    expect(await converged(p, 20)).toEqual(before);
    // And it goes on from there.
    expect(await EPaxos.call(p, { keys: ['list'], op: 'next' })).toEqual({ ok: true, result: 21 });
  });

  it('with checkpoints, a restart restores the snapshot and executes only what came after it', async () => {
    const p = partition();
    const storage = { kind: 'lmdb' as const, dir, sync: true };
    let applied = 0;
    const machine: EpaxosMachine<string[], number> = {
      ...listMachine,
      apply: (state, op, cmd) => {
        applied++;
        return listMachine.apply(state, op, cmd);
      },
      snapshot: (state) => [...state],
      restore: (saved) => [...(saved as string[])],
    };
    const options = { storage, machine: machine as EpaxosMachine, checkpointEvery: 5 };
    await startAll(p, options);
    for (let i = 0; i < 23; i++)
      expect(
        (await EPaxos.call(p, { keys: ['list'], op: `op${i}` }, { replica: NODES[i % 3] })).ok,
      ).toBe(true);
    const before = await converged(p, 23);
    // Every replica checkpointed (after 5, 10, 15, 20 instances; calls one at a time are one
    // instance each), told the others, and trimmed what all their checkpoints cover.
    await waitUntil(async () => {
      for (const r of NODES) {
        const st = await EPaxos.status(p, { replica: r });
        if (st.checkpoints.written < 4 || st.checkpoints.trimmed < 15) return false;
      }
      return true;
    }, 'every replica to checkpoint 4 times and trim 15 records');
    await EPaxos.stop(p);
    await waitUntil(
      () => NODES.every((r) => Global.whereis(serverName(p, r)) === undefined),
      'every replica unregistered',
    );
    await closeEpaxosStores(); // only the disk is left
    applied = 0;
    await startAll(p, options);
    expect(await converged(p, 23)).toEqual(before);
    for (const r of NODES) {
      const st = await EPaxos.status(p, { replica: r });
      expect(st.checkpoints.covers, r).toBe(20);
      expect(st.instances.known, r).toBeLessThanOrEqual(3); // the 20 others trimmed
    }
    expect(applied).toBe(3 * 3); // op20..op22 at each replica, not all 23 again
    expect(await EPaxos.call(p, { keys: ['list'], op: 'next' })).toEqual({ ok: true, result: 24 });
  });
});
