import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBallots } from '../../apps/paxos/ballot.ts';
import { createParticipant, InvariantError, step } from '../../apps/paxos/core.ts';
import type { Effect, PaxosMsg } from '../../apps/paxos/messages.ts';
import { type SimConfig, simulate } from './core-sim.ts';

const config = fc.record<SimConfig>({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  n: fc.integer({ min: 3, max: 7 }),
  instances: fc.integer({ min: 1, max: 3 }),
  lossP: fc.double({ min: 0, max: 0.4, noNaN: true }),
  dupP: fc.double({ min: 0, max: 0.3, noNaN: true }),
  crashP: fc.double({ min: 0, max: 0.05, noNaN: true }),
  faultSteps: fc.integer({ min: 50, max: 1500 }),
  calmSteps: fc.constant(20_000),
  terms: fc.boolean(), // phase 1 per instance, or Multi-Paxos terms
});

describe('Paxos core under random schedules (fast-check)', () => {
  it('agreement and validity hold under loss, duplication, reordering, concurrent proposers and crash/restart; a single leader then decides', () => {
    fc.assert(
      fc.property(config, (cfg) => {
        const result = simulate(cfg); // throws on an agreement or validity violation
        expect(
          result.calmStepsUsed,
          `not every participant learned every decision (seed ${cfg.seed})`,
        ).toBeGreaterThanOrEqual(0);
        for (const [, learned] of result.learnedBy) {
          for (const [inst, value] of learned) expect(value).toEqual(result.decided.get(inst));
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('heavy loss and crashes still never break agreement', () => {
    fc.assert(
      fc.property(
        config,
        fc.double({ min: 0.4, max: 0.8, noNaN: true }),
        fc.double({ min: 0.05, max: 0.2, noNaN: true }),
        (cfg, lossP, crashP) => {
          simulate({ ...cfg, lossP, crashP, calmSteps: 0 });
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Paxos core scenarios', () => {
  const three = ['a', 'b', 'c'];

  it('a lone proposer decides its own value with two rounds to a quorum', () => {
    const ps = Object.fromEntries(three.map((n) => [n, createParticipant(n, three)]));
    step(ps.a!, { type: 'propose', inst: 0, value: 'x' });
    const fx = step(ps.a!, { type: 'start_ballot', inst: 0 });
    expect(fx.map((e) => e.type)).toEqual(['reserve', 'broadcast', 'timer']);
    const prepare = fx[1]!.type === 'broadcast' ? fx[1]!.msg : null;
    const promises = three.map((n) => step(ps[n]!, { type: 'receive', from: 'a', msg: prepare! }));
    expect(promises[1]!.map((e) => e.type)).toEqual(['persist', 'send']); // persist before the reply
    let accept = null;
    for (const [i, n] of three.entries()) {
      const reply = promises[i]!.find((e) => e.type === 'send');
      if (reply?.type !== 'send') continue;
      const out = step(ps.a!, { type: 'receive', from: n, msg: reply.msg });
      accept ??= out.find((e) => e.type === 'broadcast');
    }
    expect(accept).toMatchObject({ msg: { type: 'accept', value: 'x' } });
  });

  it('a stale leader is nacked and gives up at once', () => {
    const b = createParticipant('b', three);
    step(b, {
      type: 'receive',
      from: 'c',
      msg: { type: 'prepare', inst: 0, ballot: { round: 5, leader: 'c' } },
    });
    const out = step(b, {
      type: 'receive',
      from: 'a',
      msg: { type: 'prepare', inst: 0, ballot: { round: 1, leader: 'a' } },
    });
    expect(out).toEqual([
      {
        type: 'send',
        to: 'a',
        msg: {
          type: 'nack',
          inst: 0,
          ballot: { round: 1, leader: 'a' },
          promised: { round: 5, leader: 'c' },
        },
      },
    ]);
    const a = createParticipant('a', three);
    step(a, { type: 'propose', inst: 0, value: 1 });
    step(a, { type: 'start_ballot', inst: 0 });
    const abort = step(a, {
      type: 'receive',
      from: 'b',
      msg: out[0]!.type === 'send' ? out[0]!.msg : (null as never),
    });
    expect(abort).toMatchObject([{ type: 'abort', reason: 'preempted', by: { round: 5 } }]);
    // Its next ballot goes above what it was nacked with.
    const next = step(a, { type: 'start_ballot', inst: 0 });
    const prep = next.find((e) => e.type === 'broadcast');
    expect(
      prep?.type === 'broadcast' &&
        prep.msg.type === 'prepare' &&
        compareBallots(prep.msg.ballot, { round: 5, leader: 'c' }) > 0,
    ).toBe(true);
  });

  it('a participant that knows the decision re-announces it instead of competing', () => {
    const a = createParticipant('a', three);
    step(a, { type: 'receive', from: 'b', msg: { type: 'decided', inst: 0, value: 'v' } });
    expect(step(a, { type: 'start_ballot', inst: 0 })).toEqual([
      { type: 'broadcast', msg: { type: 'decided', inst: 0, value: 'v' } },
      { type: 'settled', inst: 0, value: 'v' },
    ]);
  });

  it('a restarted proposer never reuses a ballot it reserved before the crash', () => {
    const a = createParticipant('a', three);
    step(a, { type: 'propose', inst: 0, value: 1 });
    step(a, { type: 'start_ballot', inst: 0 });
    const restarted = createParticipant('a', three, {
      records: new Map(),
      decided: new Map(),
      reservedRound: a.proposer.reservedRound,
    });
    step(restarted, { type: 'propose', inst: 0, value: 2 });
    const fx = step(restarted, { type: 'start_ballot', inst: 0 });
    const prep = fx.find((e) => e.type === 'broadcast');
    expect(
      prep?.type === 'broadcast' && prep.msg.type === 'prepare' && prep.msg.ballot.round,
    ).toBeGreaterThan(a.proposer.reservedRound);
  });

  it('two different decisions for one instance crash the learner (let it crash)', () => {
    const a = createParticipant('a', three);
    step(a, { type: 'receive', from: 'b', msg: { type: 'decided', inst: 0, value: 'v' } });
    expect(() =>
      step(a, { type: 'receive', from: 'c', msg: { type: 'decided', inst: 0, value: 'w' } }),
    ).toThrow(InvariantError);
  });

  it('messages from non-members are ignored', () => {
    const a = createParticipant('a', three);
    expect(
      step(a, {
        type: 'receive',
        from: 'mallory',
        msg: { type: 'decided', inst: 0, value: 'evil' },
      }),
    ).toEqual([]);
    expect(a.learner.decided.size).toBe(0);
  });
});

describe('proposer memory', () => {
  it('forgets the ballot and the proposal of every decided instance', () => {
    const names = ['a', 'b', 'c'];
    const ps = names.map((n) => createParticipant(n, names));
    const net: Array<{ from: string; to: string; msg: PaxosMsg }> = [];
    const deliver = (from: string, fx: Effect[]) => {
      for (const e of fx) {
        if (e.type === 'broadcast') for (const to of names) net.push({ from, to, msg: e.msg });
        if (e.type === 'send') net.push({ from, to: e.to, msg: e.msg });
      }
    };
    for (let inst = 0; inst < 100; inst++) {
      step(ps[0]!, { type: 'propose', inst, value: inst });
      deliver('a', step(ps[0]!, { type: 'start_ballot', inst }));
    }
    while (net.length > 0) {
      const m = net.shift()!;
      const to = ps[names.indexOf(m.to)]!;
      deliver(m.to, step(to, { type: 'receive', from: m.from, msg: m.msg }));
    }
    expect(ps[0]!.learner.decided.size).toBe(100);
    expect(ps[0]!.proposer.ballots.size).toBe(0);
    expect(ps[0]!.proposer.proposals.size).toBe(0);
  });
});
