// The replica's actor: a thin shell around the pure core (core.ts). It turns messages, timers
// and the registry's view of the peers into events, and carries out the core's effects.
//
// Durable: decisions are in the Paxos store; the snapshot in the replica store (store.ts). A
// restart loads the snapshot, replays the decisions after it, then catches up from the others
// before it takes the lead (all of that decided by the core).
import {
  ActorError,
  type CallMessage,
  call,
  counter,
  type DownMessage,
  demonitor,
  type From,
  Global,
  isCall,
  isDown,
  link,
  logger,
  monitor,
  type Pid,
  type Ref,
  receive,
  registerProbe,
  reply,
  self,
  send,
  sendAfter,
  spawnLink,
} from '../../actors/index.ts';
import { Paxos, type ProposeOutcome } from '../paxos/index.ts';
import { bebName } from '../paxos/participant.ts';
import { decisionsFrom, openStore } from '../paxos/storage.ts';
import {
  type CatchupReply,
  type CatchupRequest,
  createReplica,
  type ReplicaEffect,
  type ReplicaEvent,
  type ReplicaOptions,
  replicaStatus,
  replicaStep,
  type Snapshot,
} from './core.ts';
import type { Machine, Op } from './machine.ts';
import { openReplicaStore } from './store.ts';

export type {
  CatchupReply,
  ReplicaError,
  ReplicaOptions,
  ReplicaStatus,
} from './core.ts';

/** How often the core gets a `tick`. */
const TICK_MS = 100;

export const replicaName = (service: string, name: string) => `${service}:${name}`;
export const paxosName = (service: string, name: string) => `${service}:${name}/paxos`;

/** Requests a replica answers. */
export type ReplicaRequest<O> =
  | { rsm: 'op'; op: O }
  | ({ rsm: 'catchup' } & CatchupRequest)
  | { rsm: 'status' };

/** Messages to the replica process besides calls: each becomes the core event of its type. */
type Internal =
  | { type: 'decide'; inst: number; value: unknown }
  | { type: 'forward'; ops: Op[] }
  | { type: 'proposed'; inst: number; outcome: ProposeOutcome | { outcome: 'error' } }
  | { type: 'catchup_reply'; peer: string; reply: CatchupReply }
  | { type: 'catchup_failed'; peer: string }
  | { type: 'snapshot_saved'; snapshot: Snapshot }
  | { type: 'snapshot_failed' }
  | { type: 'tick' }
  | { type: 'wake' };

const operations = counter(
  'actorcluster_service_operations_total',
  "Client operations answered by this node's replicas, by service, kind and outcome",
  ['service', 'kind', 'outcome'],
);

/** ok, or the error a result names (insufficient_stock, taken ...), for metrics. */
function outcomeOf(result: unknown): string {
  if (typeof result !== 'object' || result === null || !('ok' in result)) return 'ok';
  const r = result as { ok: unknown; error?: unknown };
  return r.ok === true ? 'ok' : typeof r.error === 'string' ? r.error : 'refused';
}

/** The replica's body (a process function): `spawn(replica, machine, name, procs, options)`. */
export async function replica<S, O extends Op, R>(
  machine: Machine<S, O, R>,
  name: string,
  procs: string[],
  options: ReplicaOptions = {},
): Promise<void> {
  const me = self();
  const log = logger().child({ service: machine.service, replica: name });
  const store = openReplicaStore(replicaName(machine.service, name));
  const snapshot = store.load();
  const core = createReplica<S, O, R, From>(
    { machine, name, procs, options, random: Math.random },
    {
      snapshot,
      decided: decisionsFrom(openStore(paxosName(machine.service, name)), snapshot?.inst ?? 0),
    },
  );

  // The participant of this replica's previous incarnation dies with it (linked): let it go.
  await waitUntilGone(paxosName(machine.service, name));
  const participant = Paxos.start(
    paxosName(machine.service, name),
    procs.map((p) => paxosName(machine.service, p)),
    me,
    { terms: true }, // Multi-Paxos: the leader runs phase 1 once per term
  );
  link(participant);

  // Who is up, as the registry says: told to the core whenever it changes.
  const others = procs.filter((p) => p !== name);
  const participantNames = procs.map((p) => bebName(paxosName(machine.service, p)));
  let peersSeen = '';
  const peersEvent = (now: number): ReplicaEvent<O, From> | undefined => {
    const replicas = others.filter((p) => Global.whereis(replicaName(machine.service, p)));
    const participants = procs.filter((_, i) => Global.whereis(participantNames[i]!));
    const key = `${replicas.join(',')}|${participants.join(',')}`;
    if (key === peersSeen) return undefined;
    peersSeen = key;
    return { type: 'peers', now, replicas, participants };
  };

  /** The leader this replica forwards to, monitored (the core asks with `watch`). */
  let watched: { name: string; ref: Ref } | undefined;
  const events: Array<ReplicaEvent<O, From>> = [];

  const carry = async (e: ReplicaEffect<O, R, From>): Promise<void> => {
    switch (e.type) {
      case 'answer':
        for (const from of e.to) reply(from, e.result);
        operations.inc({
          service: machine.service,
          kind: (e.op as { kind?: string }).kind ?? 'op',
          outcome: outcomeOf(e.result),
        });
        break;
      case 'reply':
        reply(e.to, e.message);
        break;
      case 'forward': {
        const pid = Global.whereis(replicaName(machine.service, e.to));
        if (pid) send(pid, { type: 'forward', ops: e.ops } satisfies Internal);
        else events.push({ type: 'leader_down', now: Date.now(), name: e.to });
        break;
      }
      case 'watch': {
        if (watched) demonitor(watched.ref, { flush: true });
        watched = undefined;
        const pid = Global.whereis(replicaName(machine.service, e.name));
        if (pid) watched = { name: e.name, ref: monitor(pid) };
        else events.push({ type: 'leader_down', now: Date.now(), name: e.name });
        break;
      }
      case 'propose': {
        const { inst } = e;
        Paxos.proposeInstance(participant, inst, e.entry, e.timeoutMs).then(
          (outcome) => send(me, { type: 'proposed', inst, outcome } satisfies Internal),
          () =>
            send(me, { type: 'proposed', inst, outcome: { outcome: 'error' } } satisfies Internal),
        );
        break;
      }
      case 'catchup_request':
        spawnLink(askPeer, me, replicaName(machine.service, e.to), e.to, e.request, e.timeoutMs);
        break;
      case 'save_snapshot': {
        const next = e.snapshot;
        void Promise.resolve(store.save(next))
          .then(() => Paxos.compact(participant, next.inst))
          .then(
            () => send(me, { type: 'snapshot_saved', snapshot: next } satisfies Internal),
            (err: unknown) => {
              log.warn({ err: String(err) }, 'snapshot or compaction failed; will retry');
              send(me, { type: 'snapshot_failed' } satisfies Internal);
            },
          );
        break;
      }
      case 'wake':
        sendAfter(me, { type: 'wake' } satisfies Internal, e.afterMs);
        break;
      case 'ready':
        if (!(await Global.register(replicaName(machine.service, name), me))) {
          throw new ActorError(
            'name_taken',
            `a ${machine.service} replica named '${name}' is already running`,
          );
        }
        log.debug({ applied: core.applied }, 'replica ready');
        break;
      default:
        e satisfies never;
    }
  };

  /** Steps the core with `event` (after a change of peers, if any) and what its effects raise. */
  const run = async (event: ReplicaEvent<O, From>): Promise<void> => {
    const peers = peersEvent(event.now);
    if (peers) events.push(peers);
    events.push(event);
    for (let next = events.shift(); next; next = events.shift())
      for (const effect of replicaStep(core, next)) await carry(effect);
  };

  registerProbe('replica', me, () => ({
    service: machine.service,
    ...replicaStatus(core),
    state: machine.describe?.(core.state),
  }));

  await run({ type: 'start', now: Date.now() });
  sendAfter(me, { type: 'tick' } satisfies Internal, TICK_MS);
  for (;;) {
    const m = await receive<Internal | CallMessage | DownMessage>();
    const now = Date.now();
    if (isDown(m)) {
      if (watched && m.ref.equals(watched.ref)) {
        const down = watched.name;
        watched = undefined;
        await run({ type: 'leader_down', now, name: down });
      }
      continue;
    }
    if (isCall(m)) {
      const req = m.request as ReplicaRequest<O>;
      if (req.rsm === 'op') await run({ type: 'request', now, from: m.from, op: req.op });
      else if (req.rsm === 'catchup') {
        const { rsm: _, ...request } = req;
        await run({ type: 'catchup_request', now, from: m.from, request });
      } else if (req.rsm === 'status') {
        const peers = peersEvent(now);
        if (peers) await run(peers);
        reply(m.from, replicaStatus(core));
      }
      continue;
    }
    await run({ ...m, now } as ReplicaEvent<O, From>);
    if (m.type === 'tick') sendAfter(me, { type: 'tick' } satisfies Internal, TICK_MS);
  }
}

/** Waits (up to 5 s) until no process holds global `name`. */
async function waitUntilGone(name: string): Promise<void> {
  const holder = Global.whereis(name);
  if (!holder) return;
  const ref = monitor(holder);
  await receive((m) => isDown(m) && m.ref.equals(ref), 5000);
  demonitor(ref, { flush: true });
}

/** One catch-up request to a peer, its answer sent back to `target` as an event. */
async function askPeer(
  target: Pid,
  global: string,
  peer: string,
  request: CatchupRequest,
  timeoutMs: number,
): Promise<void> {
  const pid = Global.whereis(global);
  try {
    if (!pid) throw new Error('down');
    const r = await call<CatchupReply>(
      pid,
      { rsm: 'catchup', ...request } satisfies ReplicaRequest<never>,
      timeoutMs,
    );
    send(target, { type: 'catchup_reply', peer, reply: r } satisfies Internal);
  } catch {
    send(target, { type: 'catchup_failed', peer } satisfies Internal); // down or slow: the next
  }
}
