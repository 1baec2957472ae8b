import { afterEach, describe, expect, it } from 'vitest';
import {
  exit,
  Global,
  isAlive,
  kill,
  type Pid,
  receive,
  recentEvents,
  resume,
  self,
  suspend,
  TIMEOUT,
  whereis,
} from '../../actors/index.ts';
import { kernel } from '../../actors/kernel.ts';
import { BEB } from '../../apps/beb/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { openStore } from '../../apps/paxos/storage.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { resetRuntime, untilQuiet, waitUntil } from '../helpers.ts';

let run = 0;
afterEach(resetRuntime);

/** Fresh participant names per test (stores are per name). */
function names(n: number): string[] {
  run++;
  return Array.from({ length: n }, (_, i) => `r${run}p${i + 1}`);
}

async function started(ps: string[]): Promise<Pid[]> {
  const me = self();
  const pids = ps.map((n) => Paxos.start(n, ps, me));
  await waitUntil(
    () =>
      ps.every((n) => Global.whereis(n) !== undefined && Global.whereis(`${n}/beb`) !== undefined),
    'every participant and its broadcast process registered',
  );
  return pids;
}

async function decisions(count: number, timeoutMs = scaledMs(3000)): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const m = await receive<{ value: unknown }>({ type: 'decide' }, timeoutMs);
    if (m === TIMEOUT) break;
    out.push(m.value);
  }
  return out;
}

describe('best-effort broadcast', () => {
  it('delivers to every neighbour, itself included', async () => {
    const me = self();
    const ns = ['b1', 'b2', 'b3'];
    const pids = ns.map((n) => BEB.start(n, ns, me));
    await waitUntil(
      () => ns.every((n) => Global.whereis(n) !== undefined),
      'every broadcast process registered',
    );
    BEB.bcSend(pids[0]!, 'hello');
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await receive({ type: 'bc_receive' }, 1000));
    expect(got).toEqual(ns.map(() => ({ type: 'bc_receive', origin: 'b1', msg: 'hello' })));
  });
});

describe('Paxos participants (coursework interface)', () => {
  it('propose only stores; start_ballot decides; every upper is told once', async () => {
    const ps = names(3);
    const pids = await started(ps);
    for (const [i, p] of pids.entries()) Paxos.propose(p, 200 + i);
    await untilQuiet('the proposals stored');
    expect(await receive({ type: 'decide' }, 0)).toBe(TIMEOUT); // nothing without a ballot
    Paxos.start_ballot(pids[1]!);
    expect(await decisions(3)).toEqual([201, 201, 201]);
    await untilQuiet('the ballot done');
    expect(await receive({ type: 'decide' }, 0)).toBe(TIMEOUT); // exactly once
    Paxos.startBallot(pids[2]!); // after the decision: re-announced, not re-decided
    await untilQuiet('the second ballot done');
    expect(await receive({ type: 'decide' }, 0)).toBe(TIMEOUT);
  });

  it('concurrent ballots agree on one proposed value', async () => {
    const ps = names(5);
    const pids = await started(ps);
    for (const [i, p] of pids.entries()) Paxos.propose(p, i);
    for (const p of pids) Paxos.startBallot(p);
    let got = await decisions(5, 1000);
    for (let attempt = 0; attempt < 10 && got.length < 5; attempt++) {
      Paxos.startBallot(pids[0]!);
      got = got.concat(await decisions(5 - got.length, 1000));
    }
    expect(got).toHaveLength(5);
    expect(new Set(got).size).toBe(1);
    expect([0, 1, 2, 3, 4]).toContain(got[0]);
  });

  it('killing the participant pid stops the whole participant; a majority goes on', async () => {
    const ps = names(3);
    const pids = await started(ps);
    const roleOf = (n: string, r: string) => whereis(`paxos:${n}:${r}`);
    const acceptorBefore = roleOf(ps[2]!, 'acceptor')!;
    kill(pids[2]!);
    await waitUntil(() => !isAlive(acceptorBefore), "the killed participant's acceptor to die");
    expect(Global.whereis(ps[2]!)).toBeUndefined();
    Paxos.propose(pids[0]!, 'v');
    Paxos.startBallot(pids[0]!);
    expect(await decisions(2)).toEqual(['v', 'v']);
  });

  it('a suspended participant pid holds what its roles are sent until it is resumed', async () => {
    const ps = names(3);
    const pids = await started(ps);
    expect(await suspend(pids[2]!)).toBe(true);
    expect(await Paxos.proposeInstance(pids[0]!, 0, 'v', scaledMs(3000))).toEqual({
      outcome: 'decided',
      value: 'v',
    });
    expect(await decisions(2)).toEqual(['v', 'v']);
    // The decision reached the third participant's learner, which waits for its front.
    const learner = whereis(`paxos:${ps[2]}:learner`)!;
    await waitUntil(
      () => kernel.lookup(learner)?.waiter?.timer != null,
      'the learner of the suspended participant to hold the decision',
    );
    expect(openStore(ps[2]!).decided.has(0)).toBe(false);
    expect(await receive({ type: 'decide' }, 0)).toBe(TIMEOUT);
    expect(await resume(pids[2]!)).toBe(true);
    expect(await decisions(1)).toEqual(['v']);
    expect(openStore(ps[2]!).decided.get(0)).toBe('v');
  });

  it('a broadcast reaches every participant registered by name, its BEB name not needed', async () => {
    // As between a participant's global registration and its BEB's (a cluster-wide lock and
    // commit of its own, later): a decision broadcast then must not pass the participant by.
    const ps = names(3);
    const pids = await started(ps);
    await Global.unregister(`${ps[2]}/beb`);
    expect(await Paxos.proposeInstance(pids[0]!, 0, 'v', scaledMs(3000))).toEqual({
      outcome: 'decided',
      value: 'v',
    });
    expect(await decisions(3)).toEqual(['v', 'v', 'v']);
  });

  it('a reply waits for the write it depends on; the next messages are stepped meanwhile (their writes issued, their replies in order after)', async () => {
    const ps = names(3);
    const pids = await started(ps);
    // The third participant's disk: every acceptor write stays pending until the test lets it go.
    const store = openStore(ps[2]!);
    const writes: Array<{ inst: number; done: () => void }> = [];
    const persist = store.persistRecord;
    store.persistRecord = (inst, record) => {
      persist(inst, record);
      return new Promise<void>((done) => writes.push({ inst, done }));
    };
    const from = (type: string) =>
      (recentEvents('paxos') as Array<{ participant: string; from: string; type: string }>).some(
        (e) => e.participant === ps[0] && e.from === ps[2] && e.type === type,
      );
    try {
      // Decided by the other two; the third's acceptor promised and accepted meanwhile.
      expect(await Paxos.proposeInstance(pids[0]!, 0, 'v', scaledMs(3000))).toEqual({
        outcome: 'decided',
        value: 'v',
      });
      await waitUntil(() => writes.length === 2, 'both writes of the third acceptor issued');
      expect(from('promise') || from('accepted')).toBe(false);
      writes[0]!.done();
      await waitUntil(() => from('promise'), 'the promise, once its write is on disk');
      expect(from('accepted')).toBe(false);
      writes[1]!.done();
      await waitUntil(() => from('accepted'), 'the acceptance, once its write is on disk');
    } finally {
      store.persistRecord = persist;
      for (const w of writes) w.done();
    }
  });

  it('a killed role is restarted by its supervisor and keeps its promises', async () => {
    const ps = names(3);
    const pids = await started(ps);
    expect(await Paxos.proposeInstance(pids[0]!, 0, 'first', 3000)).toEqual({
      outcome: 'decided',
      value: 'first',
    });
    await decisions(3);
    const acceptor = whereis(`paxos:${ps[1]}:acceptor`)!;
    exit(acceptor, 'kill');
    await waitUntil(() => {
      const now = whereis(`paxos:${ps[1]}:acceptor`);
      return now !== undefined && !now.equals(acceptor);
    }, 'the acceptor restarted under its name');
    // The restarted acceptor answers from its stored record: instance 0 stays 'first'.
    expect(await Paxos.proposeInstance(pids[1]!, 0, 'second', 3000)).toEqual({
      outcome: 'decided',
      value: 'first',
    });
    expect(await Paxos.proposeInstance(pids[1]!, 1, 'next', 3000)).toEqual({
      outcome: 'decided',
      value: 'next',
    });
  });
});

describe('multi-instance API', () => {
  it('proposeInstance(pid, inst, value, timeout) resolves to a decision; getDecision reads it everywhere', async () => {
    const ps = names(3);
    const pids = await started(ps);
    const outcomes = await Promise.all(
      [0, 1, 2].map((inst) => Paxos.proposeInstance(pids[inst]!, inst, `v${inst}`, 3000)),
    );
    expect(outcomes.map((o) => o.outcome)).toEqual(['decided', 'decided', 'decided']);
    for (const p of pids) expect(await Paxos.getDecision(p, 2, 1000)).toBe('v2');
    expect(await Paxos.getDecision(pids[0]!, 99, 50)).toBeNull();
  });

  it('without a quorum a proposal times out', async () => {
    const ps = names(3);
    const pids = await started(ps);
    kill(pids[1]!);
    kill(pids[2]!);
    expect(await Paxos.proposeInstance(pids[0]!, 0, 'lonely', 300)).toEqual({ outcome: 'timeout' });
  });

  it('rejects bad arguments with typed errors', () => {
    expect(() => Paxos.start('', ['a'], self())).toThrow(/non-empty/);
    expect(() => Paxos.start('x', ['a', 'b'], self())).toThrow(/including 'x'/);
    expect(() => Paxos.start('a', ['a', 'a'], self())).toThrow(/distinct/);
    expect(() => Paxos.startBallot(self(), -1)).toThrow(/instance/);
    expect(() => Paxos.start('a', ['a'], self(), { terms: 'yes' as never })).toThrow(/terms/);
  });
});
