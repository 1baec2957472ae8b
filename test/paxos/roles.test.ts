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
import { type DuelConfig, duel, type SimConfig, simulate } from './core-sim.ts';

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

describe('Multi-Paxos terms (the rules)', () => {
  const sent = (fx: Effect[]) =>
    fx.flatMap((e) => (e.type === 'broadcast' || e.type === 'send' ? [e.msg] : []));
  /** Delivers every message in `fx` to every participant (each reply back to the sender). */
  const deliverAll = (
    ps: Record<string, ReturnType<typeof createParticipant>>,
    from: string,
    fx: Effect[],
  ): Effect[] => {
    const out: Effect[] = [];
    for (const e of fx) {
      const targets = e.type === 'broadcast' ? three : e.type === 'send' ? [e.to] : [];
      for (const to of targets) {
        const replies = step(ps[to]!, {
          type: 'receive',
          from,
          msg: (e as unknown as { msg: never }).msg,
        });
        out.push(...deliverAll(ps, to, replies));
      }
      if (e.type !== 'broadcast' && e.type !== 'send') out.push(e);
    }
    return out;
  };

  it('a stable leader runs phase 1 once for the term, then phase 2 alone for every later instance', () => {
    const ps = Object.fromEntries(
      three.map((n) => [n, createParticipant(n, three, undefined, undefined, { terms: true })]),
    );
    for (let inst = 0; inst < 3; inst++) step(ps.a!, { type: 'propose', inst, value: `v${inst}` });
    const first = step(ps.a!, { type: 'start_ballot', inst: 0, now: 0 });
    expect(sent(first)).toEqual([{ type: 'prepare', inst: 0, ballot: ballot(1, 'a'), term: true }]);
    const settled = deliverAll(ps, 'a', first).filter((e) => e.type === 'settled');
    expect(settled).toEqual([{ type: 'settled', inst: 0, value: 'v0' }]);
    for (const inst of [1, 2]) {
      const fx = step(ps.a!, { type: 'start_ballot', inst, now: 1 });
      // No prepare: the accept goes out at once, under the term's ballot, and carries the
      // decision of the instance before it (piggybacked).
      expect(sent(fx)).toEqual([
        { type: 'accept', inst, ballot: ballot(1, 'a'), value: `v${inst}`, chosen: [inst - 1] },
      ]);
      expect(deliverAll(ps, 'a', fx).filter((e) => e.type === 'settled')).toEqual([
        { type: 'settled', inst, value: `v${inst}` },
      ]);
    }
    for (const n of three)
      expect(ps[n]!.acceptor.lead).toEqual({ from: 0, ballot: ballot(1, 'a') });
  });

  it("an acceptor's term promise refuses lower ballots in later instances and reports what it accepted there", () => {
    const a = createAcceptor('a', three);
    acceptorStep(a, {
      type: 'receive',
      from: 'b',
      msg: { type: 'accept', inst: 5, ballot: ballot(2, 'b'), value: 'x' },
    });
    const fx = acceptorStep(a, {
      type: 'receive',
      from: 'c',
      msg: { type: 'prepare', inst: 3, ballot: ballot(4, 'c'), term: true },
    });
    expect(fx.map((e) => e.type)).toEqual(['round_seen', 'persist_lead', 'send']);
    expect(sent(fx)).toEqual([
      {
        type: 'promise',
        inst: 3,
        ballot: ballot(4, 'c'),
        accepted: null,
        later: [[5, { ballot: ballot(2, 'b'), value: 'x' }]],
      },
    ]);
    // instance 9 was never mentioned, yet the term covers it
    expect(
      sent(
        acceptorStep(a, {
          type: 'receive',
          from: 'b',
          msg: { type: 'accept', inst: 9, ballot: ballot(3, 'b'), value: 'y' },
        }),
      ),
    ).toEqual([{ type: 'nack', inst: 9, ballot: ballot(3, 'b'), promised: ballot(4, 'c') }]);
    // below the term's first instance, a lower ballot is still accepted
    expect(
      sent(
        acceptorStep(a, {
          type: 'receive',
          from: 'b',
          msg: { type: 'accept', inst: 1, ballot: ballot(3, 'b'), value: 'z' },
        }),
      ),
    ).toEqual([{ type: 'accepted', inst: 1, ballot: ballot(3, 'b') }]);
    // a term below a higher promise in a later instance is refused
    acceptorStep(a, {
      type: 'receive',
      from: 'b',
      msg: { type: 'prepare', inst: 7, ballot: ballot(9, 'b') },
    });
    expect(
      sent(
        acceptorStep(a, {
          type: 'receive',
          from: 'c',
          msg: { type: 'prepare', inst: 2, ballot: ballot(6, 'c'), term: true },
        }),
      ),
    ).toEqual([{ type: 'nack', inst: 2, ballot: ballot(6, 'c'), promised: ballot(9, 'b') }]);
  });

  it('a new leader re-proposes what a promiser accepted in a later instance, not its own value', () => {
    const ps = Object.fromEntries(
      three.map((n) => [n, createParticipant(n, three, undefined, undefined, { terms: true })]),
    );
    // a has seen round 1 (its next ballot is 2.a); b accepted 'old' at instance 2 under 1.c
    step(ps.a!, {
      type: 'receive',
      from: 'c',
      msg: { type: 'prepare', inst: 9, ballot: ballot(1, 'c') },
    });
    step(ps.b!, {
      type: 'receive',
      from: 'c',
      msg: { type: 'accept', inst: 2, ballot: ballot(1, 'c'), value: 'old' },
    });
    step(ps.a!, { type: 'propose', inst: 0, value: 'v0' });
    step(ps.a!, { type: 'propose', inst: 2, value: 'mine' });
    deliverAll(ps, 'a', step(ps.a!, { type: 'start_ballot', inst: 0, now: 0 }));
    const fx = step(ps.a!, { type: 'start_ballot', inst: 2, now: 1 });
    expect(sent(fx)).toEqual([
      { type: 'accept', inst: 2, ballot: ballot(2, 'a'), value: 'old', chosen: [0] },
    ]);
  });

  it('a nack ends the term: every ballot of it gives up, and the next start begins a higher term', () => {
    const p = createProposer('a', three, undefined, undefined, { terms: true });
    for (const inst of [0, 1]) proposerStep(p, { type: 'propose', inst, value: inst });
    const fx0 = proposerStep(p, { type: 'start_ballot', inst: 0, now: 0 });
    const b = ballot(1, 'a');
    expect(sent(fx0)).toEqual([{ type: 'prepare', inst: 0, ballot: b, term: true }]);
    // instance 1 waits for the term's phase 1 (no message of its own)
    expect(sent(proposerStep(p, { type: 'start_ballot', inst: 1, now: 1 }))).toEqual([]);
    const aborts = proposerStep(p, {
      type: 'receive',
      from: 'b',
      msg: { type: 'nack', inst: 0, ballot: b, promised: ballot(5, 'c') },
    });
    expect(aborts.map((e) => e.type === 'abort' && [e.inst, e.reason])).toEqual([
      [0, 'preempted'],
      [1, 'preempted'],
    ]);
    expect(sent(proposerStep(p, { type: 'start_ballot', inst: 1, now: 2 }))).toEqual([
      { type: 'prepare', inst: 1, ballot: ballot(6, 'a'), term: true },
    ]);
  });

  /** Three participants with terms, a's term won and instance 0 decided at a only. */
  const termWon = () => {
    const ps = Object.fromEntries(
      three.map((n) => [n, createParticipant(n, three, undefined, undefined, { terms: true })]),
    );
    step(ps.a!, { type: 'propose', inst: 0, value: 'v0' });
    deliverAll(ps, 'a', step(ps.a!, { type: 'start_ballot', inst: 0, now: 0 }));
    return ps;
  };
  const decidedAt = (ps: Record<string, ReturnType<typeof createParticipant>>, inst: number) =>
    three.filter((n) => ps[n]!.learner.decided.has(inst));

  it("decisions are piggybacked: the leader learns at once, the others with the term's next accept", () => {
    const ps = termWon();
    expect(decidedAt(ps, 0)).toEqual(['a']); // no decided message went out
    step(ps.a!, { type: 'propose', inst: 1, value: 'v1' });
    const fx = step(ps.a!, { type: 'start_ballot', inst: 1, now: 1 });
    expect(sent(fx).map((m) => m.type)).toEqual(['accept']);
    deliverAll(ps, 'a', fx);
    expect(decidedAt(ps, 0)).toEqual(three);
    for (const n of three) expect(ps[n]!.learner.decided.get(0)).toBe('v0');
    // nothing else is coming: a flush announces instance 1 in a value-less `chosen`
    expect(decidedAt(ps, 1)).toEqual(['a']);
    const flushed = step(ps.a!, { type: 'flush' });
    expect(sent(flushed)).toEqual([{ type: 'chosen', inst: 1, ballot: ballot(1, 'a') }]);
    deliverAll(ps, 'a', flushed);
    expect(decidedAt(ps, 1)).toEqual(three);
    expect(step(ps.a!, { type: 'flush' })).toEqual([]); // said once
  });

  it('a participant that did not accept under the announced ballot learns nothing from it, and says it missed the instance', () => {
    const ps = termWon();
    // c accepted another value in instance 1 under an older ballot; a's accept never reaches it
    step(ps.c!, {
      type: 'receive',
      from: 'b',
      msg: { type: 'accept', inst: 1, ballot: ballot(0, 'b'), value: 'other' },
    });
    step(ps.a!, { type: 'propose', inst: 1, value: 'v1' });
    const fx = step(ps.a!, { type: 'start_ballot', inst: 1, now: 1 });
    const accept = sent(fx)[0]!;
    for (const to of ['a', 'b']) {
      const replies = step(ps[to]!, { type: 'receive', from: 'a', msg: accept });
      for (const r of sent(replies)) step(ps.a!, { type: 'receive', from: to, msg: r });
    }
    expect(decidedAt(ps, 1)).toEqual(['a']);
    const chosen = sent(step(ps.a!, { type: 'flush' }));
    expect(chosen).toEqual([{ type: 'chosen', inst: 1, ballot: ballot(1, 'a') }]);
    const told = Object.fromEntries(
      ['b', 'c'].map((to) => [to, step(ps[to]!, { type: 'receive', from: 'a', msg: chosen[0]! })]),
    );
    expect(decidedAt(ps, 1)).toEqual(['a', 'b']); // c did not accept under 1.a: not 'other'
    expect(ps.c!.learner.decided.has(1)).toBe(false);
    // c's upper layer hears that instance 1 was decided without it (found by a flaky kill-restart
    // run: the restarted replica missed the last accept, saw no hole after it, and never caught up)
    expect(told.c).toEqual([{ type: 'missed', inst: 1 }]);
    expect(told.b!.filter((e) => e.type === 'missed')).toEqual([]);
  });

  it("a new term first announces the old term's decisions no accept carried", () => {
    const ps = termWon();
    const nack = {
      type: 'nack' as const,
      inst: 0,
      ballot: ballot(1, 'a'),
      promised: ballot(5, 'c'),
    };
    step(ps.a!, { type: 'receive', from: 'b', msg: nack });
    step(ps.a!, { type: 'propose', inst: 1, value: 'v1' });
    const fx = sent(step(ps.a!, { type: 'start_ballot', inst: 1, now: 1 }));
    expect(fx).toEqual([
      { type: 'chosen', inst: 0, ballot: ballot(1, 'a') },
      { type: 'prepare', inst: 1, ballot: ballot(6, 'a'), term: true },
    ]);
  });

  it('a retried instance under the same term gets the value it was sent with, never another', () => {
    const ps = Object.fromEntries(
      three.map((n) => [n, createParticipant(n, three, undefined, undefined, { terms: true })]),
    );
    step(ps.a!, { type: 'propose', inst: 0, value: 'v0' });
    deliverAll(ps, 'a', step(ps.a!, { type: 'start_ballot', inst: 0, now: 0 }));
    step(ps.a!, { type: 'propose', inst: 1, value: 'first' });
    const fx = step(ps.a!, { type: 'start_ballot', inst: 1, now: 1 }); // accept lost
    expect(sent(fx)).toEqual([
      { type: 'accept', inst: 1, ballot: ballot(1, 'a'), value: 'first', chosen: [0] },
    ]);
    step(ps.a!, { type: 'propose', inst: 1, value: 'second' }); // the caller changed its mind
    const again = step(ps.a!, { type: 'start_ballot', inst: 1, now: 10_000 });
    expect(sent(again)).toEqual([
      { type: 'accept', inst: 1, ballot: ballot(1, 'a'), value: 'first' },
    ]);
  });
});

describe('mutations: each broken rule is caught by a randomised duel', () => {
  // Seeded schedules of three duelling participants with reordering and crash/restart (see
  // core-sim.ts duel), with phase 1 per instance and with Multi-Paxos terms. The settings that
  // make each bug likely; the un-mutated core passes every sweep.
  type DuelMutation = Exclude<PaxosMutation, 'forget-later'>;
  const settings: Record<DuelMutation, Omit<DuelConfig, 'seed' | 'mutations'>> = {
    'ignore-accepted': { proposers: ['a', 'b', 'c'], crashP: 0.03, phase2CrashP: 0, steps: 400 },
    'accept-below-promise': {
      proposers: ['a', 'b', 'c'],
      crashP: 0.03,
      phase2CrashP: 0,
      steps: 400,
    },
    'no-reservation': { proposers: ['a'], crashP: 0.1, phase2CrashP: 0.3, steps: 400 },
    'forget-accepted-on-promise': {
      proposers: ['a', 'b', 'c'],
      crashP: 0.03,
      phase2CrashP: 0,
      steps: 400,
    },
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
  const cases = (Object.keys(settings) as DuelMutation[]).flatMap((m) =>
    [false, true].map((terms) => [m, terms] as const),
  );

  it.each(cases)('the un-mutated core passes the sweep of %s (terms: %s)', (mutation, terms) => {
    expect(sweep({ ...settings[mutation], terms })).toEqual([]);
  });

  it.each(cases)('%s is caught (terms: %s)', (mutation, terms) => {
    const caught = sweep({ ...settings[mutation], terms, mutations: new Set([mutation]) });
    expect(caught.length, `no seed of ${SEEDS} caught ${mutation}`).toBeGreaterThan(0);
    expect(caught[0]).toMatch(/agreement|invariant/);
  });

  it('every mutation has a sweep that catches it', () => {
    expect([...Object.keys(settings), 'forget-later'].sort()).toEqual([...PAXOS_MUTATIONS].sort());
  });
});

describe('Multi-Paxos terms: a promise covers the instances after it', () => {
  // Several instances, concurrent leaders on random instances, loss, duplication, crashes.
  const cfg = (seed: number, mutations?: ReadonlySet<PaxosMutation>): SimConfig => ({
    seed,
    n: 3,
    instances: 4,
    lossP: 0.1,
    dupP: 0.05,
    crashP: 0.02,
    faultSteps: 600,
    calmSteps: 20_000,
    terms: true,
    mutations,
  });
  const SEEDS = 600;

  it('the un-mutated core keeps agreement and decides every instance in every seed', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = simulate(cfg(seed));
      expect(r.calmStepsUsed, `seed ${seed}`).toBeGreaterThanOrEqual(0);
    }
  });

  it('forget-later (a term promise without the later instances) is caught', () => {
    const caught: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      try {
        simulate(cfg(seed, new Set(['forget-later'])));
      } catch (err) {
        caught.push(`seed ${seed}: ${(err as Error).message}`);
      }
    }
    expect(caught.length, `no seed of ${SEEDS} caught forget-later`).toBeGreaterThan(0);
    expect(caught[0]).toMatch(/agreement/);
  });
});
