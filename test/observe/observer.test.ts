import { afterEach, describe, expect, it } from 'vitest';
import {
  Global,
  kill,
  processInfo,
  recentEvents,
  recordEvent,
  self,
  spawn,
} from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { snapshot } from '../../scripts/support/observer.ts';
import { resetRuntime, waitUntil } from '../helpers.ts';

afterEach(resetRuntime);

describe('what a node shows about itself', () => {
  it('processes know their parent: a supervision tree can be drawn', async () => {
    const child = spawn(async () => {
      await new Promise(() => {});
    });
    expect(processInfo(child)?.parent?.equals(self())).toBe(true);
    kill(child);
  });

  it('replicas and Paxos participants describe themselves; Paxos messages are recorded', async () => {
    const procs = ['o1', 'o2', 'o3'];
    const pids = procs.map((p) => InventoryServer.start(p, procs));
    await waitUntil(
      () => procs.every((p) => Global.whereis(`inventory:${p}`)),
      'every replica registered',
    );
    await InventoryServer.add(pids[0]!, 'apple', 3);
    // The reply comes once one replica applied the decision; the others, and the participants'
    // records of the messages, follow in their own time.
    let snap = snapshot();
    await waitUntil(() => {
      snap = snapshot();
      const states = snap.probes
        .filter((p) => p.kind === 'replica')
        .map((r) => JSON.stringify((r.data as { state: unknown }).state));
      const types = new Set((snap.paxos as Array<{ type: string }>).map((e) => e.type));
      return (
        states.length === 3 &&
        states.every((st) => st === JSON.stringify({ apple: 3 })) &&
        ['prepare', 'promise', 'accept', 'accepted', 'chosen'].every((t) => types.has(t))
      );
    }, 'every replica to apply the add and every Paxos message type to be recorded');
    const replicas = snap.probes.filter((p) => p.kind === 'replica');
    expect(replicas).toHaveLength(3);
    for (const r of replicas) expect((r.data as { state: unknown }).state).toEqual({ apple: 3 });
    const paxos = snap.probes.filter((p) => p.kind === 'paxos');
    expect(paxos).toHaveLength(3);
    const withBallot = paxos.filter((p) =>
      (p.data as { instances: Array<{ ballots: string[]; decided?: string }> }).instances.some(
        (i) => i.decided?.includes('apple') && i.ballots.length > 0,
      ),
    );
    expect(
      withBallot.length,
      'participants showing the decided add and its ballot',
    ).toBeGreaterThan(0);
    const types = new Set((snap.paxos as Array<{ type: string }>).map((e) => e.type));
    for (const t of ['prepare', 'promise', 'accept', 'accepted', 'chosen'])
      expect(types).toContain(t);
    // The supervision tree: each participant's supervisor has the participant as parent.
    const supervisors = snap.processes.filter((p) => p.label === 'Supervisor');
    expect(supervisors.length).toBeGreaterThanOrEqual(3);
    for (const s of supervisors) expect(snap.processes.some((p) => p.pid === s.parent)).toBe(true);
    // A killed replica's probe is gone.
    kill(pids[0]!);
    await waitUntil(
      () => snapshot().probes.filter((p) => p.kind === 'replica').length === 2,
      "the killed replica's probe to go",
    );
  });

  it('event rings keep the most recent events', () => {
    for (let i = 0; i < 50; i++) recordEvent('test-ring', { i }, 10);
    const events = recentEvents('test-ring') as Array<{ i: number; seq: number }>;
    expect(events.map((e) => e.i)).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    expect(events[1]!.seq).toBeGreaterThan(events[0]!.seq);
  });
});
