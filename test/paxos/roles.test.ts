// The per-role cores (acceptor.ts, proposer.ts, learner.ts): each owns its state and applies
// every rule itself (membership, durable before reply, round bump), and the composed core wires
// them as the actors do. The mutations of apps/paxos/mutations.ts are caught by the property sim.
import { describe, expect, it } from 'vitest';
import { acceptorStep, createAcceptor } from '../../apps/paxos/acceptor.ts';
import { createParticipant, step } from '../../apps/paxos/core.ts';
import { createLearner, learnerStep } from '../../apps/paxos/learner.ts';
import type { Effect } from '../../apps/paxos/messages.ts';
import { PAXOS_MUTATIONS, type PaxosMutation } from '../../apps/paxos/mutations.ts';
import { createProposer, proposerStep } from '../../apps/paxos/proposer.ts';
import { localEvents, routeMessage } from '../../apps/paxos/roles.ts';
import { type DuelConfig, duel } from './core-sim.ts';

const three = ['a', 'b', 'c'];
const ballot = (round: number, leader: string) => ({ round, leader });

describe('each role applies its own rules', () => {
  it('every role ignores a sender that is not a participant', () => {
    const a = createAcceptor('a', three);
    expect(
      acceptorStep(a, {
        type: 'receive',
        from: 'x',
        msg: { type: 'prepare', inst: 0, ballot: ballot(1, 'x') },
      }),
    ).toEqual([]);
    expect(a.records.size).toBe(0);

    const p = createProposer('a', three);
    proposerStep(p, { type: 'propose', inst: 0, value: 'v' });
    const b = (proposerStep(p, { type: 'start_ballot', inst: 0 }).find(
      (e) => e.type === 'broadcast',
    ) as Extract<Effect, { type: 'broadcast' }>)!.msg as {
      ballot: { round: number; leader: string };
    };
    for (const from of ['x', 'y']) {
      expect(
        proposerStep(p, {
          type: 'receive',
          from,
          msg: { type: 'promise', inst: 0, ballot: b.ballot, accepted: null },
        }),
      ).toEqual([]);
    }
    expect(p.ballots.get(0)!.promises.size).toBe(0);

    const l = createLearner(three);
    expect(
      learnerStep(l, { type: 'receive', from: 'x', msg: { type: 'decided', inst: 0, value: 'w' } }),
    ).toEqual([]);
    expect(l.decided.size).toBe(0);
  });

  it('the acceptor persists before it replies, and tells its proposer of a higher round once', () => {
    const a = createAcceptor('a', three);
    const fx = acceptorStep(a, {
      type: 'receive',
      from: 'b',
      msg: { type: 'prepare', inst: 0, ballot: ballot(7, 'b') },
    });
    expect(fx.map((e) => e.type)).toEqual(['round_seen', 'persist', 'send']);
    // The same round again (an accept of it, a retransmission): no second round_seen.
    const again = acceptorStep(a, {
      type: 'receive',
      from: 'b',
      msg: { type: 'accept', inst: 0, ballot: ballot(7, 'b'), value: 'v' },
    });
    expect(again.map((e) => e.type)).toEqual(['persist', 'send']);
    // A lower ballot is refused, and nothing is written.
    const low = acceptorStep(a, {
      type: 'receive',
      from: 'c',
      msg: { type: 'accept', inst: 0, ballot: ballot(3, 'c'), value: 'w' },
    });
    expect(low).toEqual([
      {
        type: 'send',
        to: 'c',
        msg: { type: 'nack', inst: 0, ballot: ballot(3, 'c'), promised: ballot(7, 'b') },
      },
    ]);
  });

  it('routing: the round an acceptor saw reaches its proposer, whose next ballot goes above', () => {
    const a = createParticipant('a', three);
    step(a, {
      type: 'receive',
      from: 'c',
      msg: { type: 'prepare', inst: 5, ballot: ballot(41, 'c') },
    });
    step(a, { type: 'propose', inst: 6, value: 'v' });
    const fx = step(a, { type: 'start_ballot', inst: 6 });
    const prepare = fx.find((e) => e.type === 'broadcast') as Extract<
      Effect,
      { type: 'broadcast' }
    >;
    expect(prepare.msg).toEqual({ type: 'prepare', inst: 6, ballot: ballot(42, 'a') });
    // round_seen stays inside the participant: it is never an effect the caller carries out.
    expect(fx.some((e) => e.type === 'round_seen')).toBe(false);
  });

  it('routing: a decision on disk reaches the proposer (settles) and the acceptor (answers with it)', () => {
    expect(routeMessage('b', { type: 'decided', inst: 0, value: 1 }).role).toBe('learner');
    expect(localEvents({ type: 'learn', inst: 0, value: 1 }).map((e) => e.role)).toEqual([
      'proposer',
      'acceptor',
    ]);
    const a = createParticipant('a', three);
    step(a, { type: 'propose', inst: 0, value: 'mine' });
    const fx = step(a, {
      type: 'receive',
      from: 'b',
      msg: { type: 'decided', inst: 0, value: 'theirs' },
    });
    expect(fx).toEqual([
      { type: 'learn', inst: 0, value: 'theirs' },
      { type: 'settled', inst: 0, value: 'theirs' },
    ]);
    expect(a.proposer.proposals.size).toBe(0);
    expect(
      step(a, {
        type: 'receive',
        from: 'c',
        msg: { type: 'prepare', inst: 0, ballot: ballot(9, 'c') },
      }),
    ).toEqual([{ type: 'send', to: 'c', msg: { type: 'decided', inst: 0, value: 'theirs' } }]);
  });

  it('below its floor an acceptor says so, and the proposer gives up with reason compacted', () => {
    // A compacted instance was decided (a snapshot covers it): silence would leave a proposer
    // that missed the decision retrying for ever (found by the simulator, seed 412).
    const b = createParticipant('b', three);
    step(b, { type: 'compact', below: 10 });
    const fx = step(b, {
      type: 'receive',
      from: 'a',
      msg: { type: 'prepare', inst: 4, ballot: ballot(3, 'a') },
    });
    expect(fx).toEqual([
      {
        type: 'send',
        to: 'a',
        msg: { type: 'compacted', inst: 4, ballot: ballot(3, 'a'), floor: 10 },
      },
    ]);
    const a = createParticipant('a', three);
    step(a, { type: 'propose', inst: 4, value: 'v' });
    const start = step(a, { type: 'start_ballot', inst: 4 });
    const prepare = start.find((e) => e.type === 'broadcast') as Extract<
      Effect,
      { type: 'broadcast' }
    >;
    const own = (prepare.msg as { ballot: { round: number; leader: string } }).ballot;
    expect(
      step(a, {
        type: 'receive',
        from: 'b',
        msg: { type: 'compacted', inst: 4, ballot: own, floor: 10 },
      }),
    ).toEqual([{ type: 'abort', inst: 4, ballot: own, reason: 'compacted', by: null }]);
  });

  it('compaction: every role forgets below the floor and takes no part there (it says so)', () => {
    const a = createParticipant('a', three);
    step(a, { type: 'receive', from: 'b', msg: { type: 'decided', inst: 0, value: 'v' } });
    step(a, { type: 'compact', below: 1 });
    expect(a.learner.decided.size + a.acceptor.decided.size + a.proposer.decided.size).toBe(0);
    expect(
      step(a, {
        type: 'receive',
        from: 'c',
        msg: { type: 'prepare', inst: 0, ballot: ballot(9, 'c') },
      }),
    ).toEqual([
      {
        type: 'send',
        to: 'c',
        msg: { type: 'compacted', inst: 0, ballot: ballot(9, 'c'), floor: 1 },
      },
    ]);
    expect(a.acceptor.records.size).toBe(0);
    expect(step(a, { type: 'propose', inst: 0, value: 'late' })).toEqual([
      { type: 'abort', inst: 0, ballot: null, reason: 'compacted', by: null },
    ]);
  });
});

describe('mutations: each broken rule is caught by a randomised duel', () => {
  // Seeded schedules of three duelling participants with reordering and crash/restart (see
  // core-sim.ts duel). The settings that make each bug likely; the un-mutated core passes both.
  const settings: Record<PaxosMutation, Omit<DuelConfig, 'seed' | 'mutations'>> = {
    'ignore-accepted': { proposers: ['a', 'b', 'c'], crashP: 0.03, phase2CrashP: 0, steps: 400 },
    'accept-below-promise': {
      proposers: ['a', 'b', 'c'],
      crashP: 0.03,
      phase2CrashP: 0,
      steps: 400,
    },
    'no-reservation': { proposers: ['a'], crashP: 0.1, phase2CrashP: 0.3, steps: 400 },
  };
  const SEEDS = 2000;
  const sweep = (cfg: Omit<DuelConfig, 'seed'>) => {
    const caught: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      try {
        duel({ ...cfg, seed });
      } catch (err) {
        caught.push(`seed ${seed}: ${(err as Error).message}`);
      }
    }
    return caught;
  };

  it.each(Object.keys(settings).map((m) => [m]))(
    'the un-mutated core passes the sweep of %s',
    (mutation) => {
      expect(sweep(settings[mutation as PaxosMutation])).toEqual([]);
    },
  );

  it.each(PAXOS_MUTATIONS.map((m) => [m]))('%s is caught', (mutation) => {
    const caught = sweep({ ...settings[mutation], mutations: new Set([mutation]) });
    expect(caught.length, `no seed of ${SEEDS} caught ${mutation}`).toBeGreaterThan(0);
    expect(caught[0]).toMatch(/agreement|invariant/);
  });
});
