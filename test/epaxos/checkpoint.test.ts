// Checkpoints of the pure EPaxos core: what is executed described in a few numbers, the
// checkpoint effect placed after exactly the executions it covers, records trimmed only once
// every replica's checkpoint covers them, and a restart that restores a checkpoint and pulls
// the commits it missed from the others (sync) instead of executing everything again.
import { describe, expect, it } from 'vitest';
import { ExecutedSet } from '../../apps/epaxos/executed.ts';
import type {
  Checkpoint,
  Command,
  Effect,
  EpaxosMsg,
  InstanceKey,
  InstanceRecord,
} from '../../apps/epaxos/messages.ts';
import {
  createReplica,
  type DurableState,
  drained,
  propose,
  type ReplicaState,
  replicaStep,
  restartEffects,
} from '../../apps/epaxos/replica.ts';

const cmd = (id: string, ...keys: string[]): Command => ({ id, keys, op: null });

describe('ExecutedSet', () => {
  it('keeps a frontier per leader and the instances above it', () => {
    const x = new ExecutedSet();
    for (const i of ['a.0', 'a.1', 'a.3', 'b.2']) x.add(i);
    expect(x.size).toBe(4);
    expect(x.summary()).toEqual({ upTo: { a: 1 }, above: ['a.3', 'b.2'] });
    expect(x.has('a.1') && x.has('a.3') && !x.has('a.2') && !x.has('b.0')).toBe(true);
    x.add('a.2'); // fills the hole: the frontier moves past a.3
    x.add('a.2'); // twice is once
    expect(x.summary()).toEqual({ upTo: { a: 3 }, above: ['b.2'] });
    expect(x.size).toBe(5);
    expect([x.frontier('a'), x.highest('b'), x.frontier('b'), x.highest('c')]).toEqual([
      3, 2, -1, -1,
    ]);
    const y = ExecutedSet.from(x.summary());
    expect([y.size, y.summary()]).toEqual([5, x.summary()]);
  });

  it('names with dots are leaders too (the number is after the last dot)', () => {
    const x = new ExecutedSet();
    x.add('p1@127.0.0.1:4000.0');
    expect(x.summary().upTo).toEqual({ 'p1@127.0.0.1:4000': 0 });
  });
});

type Disk = DurableState & {
  records: Map<InstanceKey, InstanceRecord>;
  checkpoint?: Checkpoint;
  /** The machine's state saved with the checkpoint: the commands it executed. */
  saved?: string[];
};
const emptyDisk = (): Disk => ({ records: new Map(), ballotN: 0 });

/** Replicas with disks (every write lands at once) and a queue delivered in order. */
function cluster(n: number, checkpointEvery: number) {
  const names = Array.from({ length: n }, (_, i) => `r${i + 1}`);
  const disks = new Map(names.map((r) => [r, emptyDisk()]));
  const nodes = new Map<string, ReplicaState>(
    names.map((r) => [r, createReplica(r, names, undefined, { checkpointEvery })]),
  );
  /** Each replica's machine: the command ids it applied, in order (restored from a checkpoint). */
  const machines = new Map(names.map((r) => [r, [] as string[]]));
  const queue: Array<{ from: string; to: string; msg: EpaxosMsg }> = [];
  const down = new Set<string>();
  const effectsSeen = new Map(names.map((r) => [r, [] as Effect[]]));
  const carry = (at: string, effects: Effect[]) => {
    const disk = disks.get(at)!;
    for (const e of effects) {
      effectsSeen.get(at)!.push(e);
      if (e.type === 'persist') disk.records.set(e.inst, e.record);
      else if (e.type === 'reserve') disk.ballotN = e.ballotN;
      else if (e.type === 'checkpoint') {
        disk.checkpoint = e.checkpoint;
        disk.saved = [...machines.get(at)!];
      } else if (e.type === 'trim') for (const i of e.insts) disk.records.delete(i);
      else if (e.type === 'send') queue.push({ from: at, to: e.to, msg: e.msg });
      else if (e.type === 'execute' && e.cmd.id !== '') machines.get(at)!.push(e.cmd.id);
    }
  };
  return {
    names,
    nodes,
    disks,
    machines,
    queue,
    down,
    effectsSeen,
    propose(at: string, c: Command) {
      carry(at, propose(nodes.get(at)!, c).effects);
    },
    step(at: string, event: Parameters<typeof replicaStep>[1]) {
      carry(at, replicaStep(nodes.get(at)!, event));
    },
    /** Delivers every message in order, dropping those `lost` picks, until none is left. */
    run(lost: (p: { to: string; msg: EpaxosMsg }) => boolean = () => false) {
      for (let i = 0; i < 100_000; i++) {
        const p = queue.shift();
        if (!p) return;
        if (down.has(p.to) || lost(p)) continue; // a replica that is down hears nothing
        carry(
          p!.to,
          replicaStep(nodes.get(p!.to)!, { type: 'receive', from: p!.from, msg: p!.msg }),
        );
      }
      throw new Error('did not settle');
    },
    crash(at: string) {
      down.add(at);
    },
    /**
     * A new life from the disk: the machine restored from the checkpoint's snapshot; with
     * `members`, in that configuration (a replica joins).
     */
    restart(at: string, members: string[] = names) {
      down.delete(at);
      if (!disks.has(at)) disks.set(at, emptyDisk());
      if (!effectsSeen.has(at)) effectsSeen.set(at, []);
      const disk = disks.get(at)!;
      machines.set(at, [...(disk.saved ?? [])]);
      const replica = createReplica(
        at,
        members,
        { records: new Map(disk.records), ballotN: disk.ballotN, checkpoint: disk.checkpoint },
        { checkpointEvery },
      );
      nodes.set(at, replica);
      carry(at, restartEffects(replica));
      return replica;
    },
  };
}

describe('EPaxos checkpoints', () => {
  it('a checkpoint comes right after the executions it covers, and says which they are', () => {
    const c = cluster(3, 2);
    for (let i = 0; i < 5; i++) c.propose('r1', cmd(`c${i}`, 'k'));
    c.run();
    const seen = c.effectsSeen.get('r2')!;
    const cps = seen.filter((e) => e.type === 'checkpoint');
    expect(cps.length).toBe(2); // after 2 and after 4 executions
    for (const cp of cps) {
      const at = seen.indexOf(cp);
      const before = seen.slice(0, at).filter((e) => e.type === 'execute');
      const said = ExecutedSet.from(cp.checkpoint.executed);
      expect(said.size).toBe(before.length);
      for (const e of before) expect(said.has(e.inst)).toBe(true);
      // The last executed instance on the key is where new dependencies start.
      expect(cp.checkpoint.lastByKey.k).toBe(before.at(-1)!.inst);
    }
  });

  it('records are trimmed only once every replica checkpointed them', () => {
    const c = cluster(3, 2);
    c.crash('r3');
    for (let i = 0; i < 6; i++) c.propose('r1', cmd(`c${i}`, `k${i}`));
    c.run();
    // r1 and r2 checkpointed, r3 did not (it is down): nothing may be trimmed yet.
    expect(c.disks.get('r1')!.checkpoint).toBeDefined();
    expect(c.disks.get('r1')!.records.size).toBe(6);
    expect(c.disks.get('r2')!.records.size).toBe(6);
    // r3 comes back with nothing executed: it pulls the six commits, executes them,
    // checkpoints, and tells the others, who then trim what all three checkpoints cover.
    c.restart('r3');
    c.run();
    expect(c.machines.get('r3')).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    for (const r of c.names) expect(c.disks.get(r)!.records.size, r).toBe(0);
    // A late duplicate of a trimmed instance's message leaves no record behind.
    const r2 = c.nodes.get('r2')!;
    const stale = replicaStep(r2, {
      type: 'receive',
      from: 'r1',
      msg: {
        type: 'preaccept',
        inst: 'r1.0',
        ballot: { n: 0, replica: 'r1' },
        cmd: cmd('c0', 'k0'),
        seq: 0,
        deps: [],
      },
    });
    expect(stale).toEqual([]);
    expect(r2.records.has('r1.0')).toBe(false);
  });

  it('a restart restores the checkpoint, executes only what it does not cover, and never reuses an instance number', () => {
    const c = cluster(3, 3);
    for (let i = 0; i < 4; i++) c.propose('r2', cmd(`a${i}`, 'k'));
    c.run();
    // r2 checkpointed after 3 executions; its machine then applied a3 too.
    expect(c.disks.get('r2')!.saved).toEqual(['a0', 'a1', 'a2']);
    c.crash('r2');
    const back = c.restart('r2');
    expect(c.machines.get('r2')).toEqual(['a0', 'a1', 'a2', 'a3']); // a3 only, not all again
    expect(back.executed.size).toBe(4);
    for (let i = 0; i < 4; i++) c.propose('r1', cmd(`b${i}`, 'k'));
    c.run();
    // Every trimmed record: a new proposal at r2 takes the next number, not r2.0.
    c.propose('r2', cmd('z', 'k'));
    c.run();
    expect(
      c.nodes.get('r1')!.committed.has('r2.4') || c.nodes.get('r1')!.executed.has('r2.4'),
    ).toBe(true);
    const expected = ['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'z'];
    for (const r of c.names) expect(c.machines.get(r), r).toEqual(expected);
  });

  it('a replica that missed commits while down pulls them (sync) and catches up without new traffic', () => {
    const c = cluster(5, 0);
    c.crash('r5');
    for (let i = 0; i < 10; i++) c.propose(`r${(i % 4) + 1}`, cmd(`c${i}`, 'hot'));
    c.run();
    const reference = c.machines.get('r1')!;
    expect(reference.length).toBe(10);
    c.restart('r5');
    c.run(); // no timers fire here: only the sync replies can bring the commits
    expect(c.machines.get('r5')).toEqual(reference);
  });
});

describe('EPaxos join (the pure core)', () => {
  it('fence, drain, checkpoint, switch: the new replica starts from the checkpoint and counts in quorums', () => {
    const c = cluster(3, 0);
    for (let i = 0; i < 6; i++) c.propose(`r${(i % 3) + 1}`, cmd(`a${i}`, 'hot'));
    c.run();
    // r3 loses the commits of the next two commands (it saw their PreAccept or Accept).
    c.propose('r1', cmd('b0', 'hot'));
    c.propose('r2', cmd('b1', 'hot'));
    c.run((p) => p.to === 'r3' && p.msg.type === 'commit');
    expect(c.machines.get('r3')!.length).toBeLessThan(8);
    // Every replica stops proposing; each leader's last instance is the fence.
    const upTo = Object.fromEntries(c.names.map((r) => [r, c.nodes.get(r)!.nextN - 1]));
    for (const r of c.names) c.step(r, { type: 'drain', upTo });
    c.run(); // r3 asks for what it misses
    for (const r of c.names) expect(drained(c.nodes.get(r)!, upTo), r).toBe(true);
    const reference = c.machines.get('r1')!;
    expect(reference.length).toBe(8);
    for (const r of c.names) expect(c.machines.get(r), r).toEqual(reference);
    // r1 checkpoints; r4 starts from it; r1..r3 switch to the four-replica configuration.
    c.step('r1', { type: 'checkpoint_now' });
    const members = ['r1', 'r2', 'r3', 'r4'];
    c.disks.set('r4', {
      ...emptyDisk(),
      checkpoint: c.disks.get('r1')!.checkpoint,
      saved: [...reference],
    });
    for (const r of members) c.restart(r, members);
    c.run(); // the syncs of the restarts
    expect(c.machines.get('r4')).toEqual(reference);
    // With r3 down, r1 needs 3 of 4: itself, r2 and r4. It commits: r4 counts in quorums.
    c.crash('r3');
    c.propose('r1', cmd('c0', 'hot'));
    c.propose('r4', cmd('c1', 'hot'));
    c.run();
    const after = c.machines.get('r1')!;
    expect(after.slice(0, 8)).toEqual(reference);
    expect(new Set(after.slice(8))).toEqual(new Set(['c0', 'c1']));
    for (const r of ['r2', 'r4']) expect(c.machines.get(r), r).toEqual(after);
    // Without r4, r1 and r2 alone are not a quorum of four any more.
    c.crash('r4');
    c.propose('r1', cmd('d0', 'hot'));
    c.run();
    expect(c.machines.get('r1')!.includes('d0')).toBe(false);
  });
});
