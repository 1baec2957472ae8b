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
  // `npm run sim -- --protocol epaxos --nodes 4 --conflict 0.7 --seed 46` (and --nodes 6)
  // found this: with an even number of replicas, quorums of N/2 (f + 1 with f = floor((N-1)/2))
  // need not meet. a committed on the fast path with b's reply alone, then c recovered the
  // instance from c's and d's reports and committed a no-op in it. Quorums are now strict
  // majorities (3 of 4) and the fast quorum never smaller.
  it('4 replicas: no commit with half the replicas; recovery waits for a majority and keeps the value', () => {
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
    expect(committedOf(atA)).toEqual([]); // a and b are half of 4, not a quorum

    // c never heard of the instance; it recovers it (an executor waiting on it would).
    const rec = replicaStep(r.c!, { type: 'recover', inst });
    const selfOk = replicaStep(r.c!, {
      type: 'receive',
      from: 'c',
      msg: sent(rec, 'c', 'prepare'),
    });
    const dOk = replicaStep(r.d!, { type: 'receive', from: 'c', msg: sent(rec, 'd', 'prepare') });
    const bOk = replicaStep(r.b!, { type: 'receive', from: 'c', msg: sent(rec, 'b', 'prepare') });
    replicaStep(r.c!, { type: 'receive', from: 'c', msg: sent(selfOk, 'c', 'prepare_ok') });
    const two = replicaStep(r.c!, {
      type: 'receive',
      from: 'd',
      msg: sent(dOk, 'c', 'prepare_ok'),
    });
    expect(two.filter((e) => e.type === 'send')).toEqual([]); // 2 reports of 4: not yet
    // b's report (pre-accepted, unchanged) makes a majority: a's attributes, through Accept.
    const acc = replicaStep(r.c!, {
      type: 'receive',
      from: 'b',
      msg: sent(bOk, 'c', 'prepare_ok'),
    });
    const accept = sent(acc, 'd', 'accept');
    expect(accept).toMatchObject({ cmd, seq: 0, deps: [] });
  });
});
