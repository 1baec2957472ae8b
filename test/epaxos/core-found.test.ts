// Core bugs the EPaxos simulator (apps/sim/epaxos-sim.ts) found, as focused scenarios on the pure
// core: skipped until the core is fixed (apps/epaxos is the lead's), then to be un-skipped.
import { describe, expect, it } from 'vitest';
import type { Effect, EpaxosMsg } from '../../apps/epaxos/messages.ts';
import {
  createReplica,
  propose,
  type ReplicaState,
  replicaStep,
} from '../../apps/epaxos/replica.ts';

const committedOf = (effects: Effect[]) =>
  effects
    .filter((e) => e.type === 'committed')
    .map((e) => ({ cmd: e.cmd, seq: e.seq, deps: e.deps }));

/** The message `from` sends `to` among `effects`. */
function sent(effects: Effect[], to: string, type: EpaxosMsg['type']): EpaxosMsg {
  const e = effects.find((x) => x.type === 'send' && x.to === to && x.msg.type === type);
  if (e?.type !== 'send') throw new Error(`no ${type} to ${to}`);
  return e.msg;
}

describe('EPaxos core: scenarios the simulator found', () => {
  // `npm run sim -- --protocol epaxos --nodes 4 --conflict 0.7 --seed 38` (and --nodes 6): with
  // an even number of replicas, `majority` is f + 1 = floor((N - 1) / 2) + 1, which is N / 2, not
  // a majority: two quorums of 2 out of 4 need not meet. Here a commits on the fast path with
  // b's reply (fast quorum 2), then c recovers the instance from c's and d's reports (2, its
  // "majority"), neither of which knows the command, and commits a no-op in the same instance.
  it.skip('4 replicas: an instance committed fast is recovered as a no-op (quorums of N/2)', () => {
    const names = ['a', 'b', 'c', 'd'];
    const r: Record<string, ReplicaState> = Object.fromEntries(
      names.map((n) => [n, createReplica(n, names)]),
    );
    const cmd = { id: 'x', keys: ['k'], op: null };
    const { inst, effects: p } = propose(r.a!, cmd);
    const atB = replicaStep(r.b!, { type: 'receive', from: 'a', msg: sent(p, 'b', 'preaccept') });
    const atA = replicaStep(r.a!, {
      type: 'receive',
      from: 'b',
      msg: sent(atB, 'a', 'preaccept_ok'),
    });
    const fast = committedOf(atA);
    expect(fast).toEqual([{ cmd, seq: 0, deps: [] }]); // a and b: the fast quorum of 4

    // c never heard of the instance; it recovers it (an executor waiting on it would).
    const rec = replicaStep(r.c!, { type: 'recover', inst });
    const selfOk = replicaStep(r.c!, {
      type: 'receive',
      from: 'c',
      msg: sent(rec, 'c', 'prepare'),
    });
    const dOk = replicaStep(r.d!, { type: 'receive', from: 'c', msg: sent(rec, 'd', 'prepare') });
    replicaStep(r.c!, { type: 'receive', from: 'c', msg: sent(selfOk, 'c', 'prepare_ok') });
    const acc = replicaStep(r.c!, {
      type: 'receive',
      from: 'd',
      msg: sent(dOk, 'c', 'prepare_ok'),
    });
    const dAcc = replicaStep(r.d!, { type: 'receive', from: 'c', msg: sent(acc, 'd', 'accept') });
    const done = replicaStep(r.c!, {
      type: 'receive',
      from: 'd',
      msg: sent(dAcc, 'c', 'accept_ok'),
    });
    // Whatever c commits for the instance must be what a committed.
    for (const c of committedOf(done)) expect(c).toEqual(fast[0]);
  });
});
