// Duelling proposers: participants that keep pre-empting each other. Safety never depends on
// it; liveness comes back as soon as the duel stops, or is broken by randomised backoff.
import { afterEach, describe, expect, it } from 'vitest';
import {
  Global,
  kill,
  type Pid,
  receive,
  registry,
  self,
  sleep,
  TIMEOUT,
} from '../../actors/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { seededRandom } from '../../transport/faults.ts';
import { resetRuntime, untilQuiet, WAIT_MS, waitUntil } from '../helpers.ts';

afterEach(resetRuntime);
let run = 0;

async function participants(n: number): Promise<Pid[]> {
  run++;
  const names = Array.from({ length: n }, (_, i) => `duel${run}p${i + 1}`);
  const pids = names.map((name) => Paxos.start(name, names, self()));
  await waitUntil(
    () => names.every((x) => Global.whereis(x) && Global.whereis(`${x}/beb`)),
    'every participant and its broadcast process registered',
  );
  return pids;
}

/** Nacks received so far by the participants whose names start with `prefix`. */
async function nacks(prefix: string): Promise<number> {
  const data = await registry.getSingleMetric('actorcluster_paxos_nacks_total')?.get();
  return (data?.values ?? [])
    .filter((v) => String(v.labels.participant).startsWith(prefix))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('duelling proposers', () => {
  it('five participants calling startBallot in a loop: a decision, once the loop stops', async () => {
    const pids = await participants(5);
    for (const [i, p] of pids.entries()) Paxos.propose(p, `value-${i}`);
    const random = seededRandom(7);
    const nacksBefore = await nacks(`duel${run}p`);
    // A fixed number of bursts (not a fixed time: a loaded machine would start fewer), one every
    // 0-2 ms: 2 to 5 ballots at random participants in the same turn, so that they overlap
    // whatever the machine's speed (none sees another's before it starts) and all but the highest
    // are pre-empted. One ballot at a time every 0-2 ms did not always overlap: on a fast run each
    // could finish before the next began, and no proposer was nacked (CI saw that once).
    for (let burst = 0; burst < 100; burst++) {
      const n = 2 + Math.floor(random() * 4);
      for (let k = 0; k < n; k++) Paxos.startBallot(pids[Math.floor(random() * pids.length)]!);
      await sleep(random() * 2); // the duel's pace, not a wait for anything
    }
    expect(await nacks(`duel${run}p`), 'proposers pre-empted (nacked)').toBeGreaterThan(
      nacksBefore,
    );
    // The loop has stopped: the highest ballot in flight meets no higher one and completes.
    const told: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await receive<{ type: 'decide'; value: unknown }>({ type: 'decide' }, WAIT_MS);
      expect(m).not.toBe(TIMEOUT);
      told.push((m as { value: unknown }).value);
    }
    expect(new Set(told).size).toBe(1);
    expect(pids.map((_, i) => `value-${i}`)).toContain(told[0]);
    // Exactly once each: no second decide, once every retry has run its course.
    await untilQuiet('the duel over');
    expect(await receive({ type: 'decide' }, 0)).toBe(TIMEOUT);
  });

  it('Paxos.decide at every participant at once, on 20 instances: all agree (randomised backoff)', async () => {
    const pids = await participants(5);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, inst) =>
        Promise.all(
          pids.map((p, i) => Paxos.decide(p, inst, `${inst}:${i}`, { timeoutMs: 20_000 })),
        ),
      ),
    );
    for (const [inst, values] of results.entries()) {
      expect(new Set(values).size, `instance ${inst}`).toBe(1);
      expect(String(values[0]).startsWith(`${inst}:`)).toBe(true);
    }
  });

  it('without backoff the duel is real: concurrent one-shot proposals get pre-empted', async () => {
    const pids = await participants(5);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, inst) =>
        Promise.all(pids.map((p, i) => Paxos.proposeInstance(p, 100 + inst, i, 2000))),
      ),
    );
    const flat = outcomes.flat();
    expect(flat.some((o) => o.outcome === 'aborted')).toBe(true);
    // Whatever happened, no two different values were decided for one instance.
    for (const perInst of outcomes) {
      const decided = perInst
        .filter((o) => o.outcome === 'decided')
        .map((o) => (o as { value: unknown }).value);
      expect(new Set(decided).size).toBeLessThanOrEqual(1);
    }
    // No quorum left: decide gives up with a typed timeout.
    for (const p of pids.slice(1, 4)) kill(p);
    await expect(Paxos.decide(pids[0]!, 999, 'x', { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'timeout',
    });
  });
});
