// The replica's actor: a thin shell around the pure core (core.ts). It turns messages, timers
// and the registry's view of the peers into events, and carries out the core's effects.
//
// Durable: decisions are in the Paxos store; the snapshot in the replica store (store.ts). A
// restart loads the snapshot, replays the decisions after it, then catches up from the others
// before it takes the lead (all of that decided by the core).
import { checkValue } from '../../actors/codec.ts';
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
  kill,
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
  TIMEOUT,
  unlink,
  whereis,
} from '../../actors/index.ts';
import { Paxos, type ProposeOutcome } from '../paxos/index.ts';
import { bebName, type CallRequest, proposerName } from '../paxos/participant.ts';
import { decisionsFrom, openStore } from '../paxos/storage.ts';
import {
  type CatchupReply,
  type CatchupRequest,
  createReplica,
  type ReplicaEffect,
  type ReplicaEvent,
  type ReplicaOptions,
  replayDecided,
  replicaStatus,
  replicaStep,
  type Snapshot,
} from './core.ts';
import { epaxosFront, type Protocol } from './epaxos-front.ts';
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
/** Forwards to the leader wait for at most this many further messages (see flushForwards). */
const FORWARD_HOLD_MAX = 64;

export const replicaName = (service: string, name: string) => `${service}:${name}`;
/** A replica's Paxos participant in configuration `epoch` (each epoch is its own Paxos group). */
export const paxosName = (service: string, name: string, epoch = 0) =>
  epoch === 0 ? `${service}:${name}/paxos` : `${service}:${name}/paxos-e${epoch}`;

/** Requests a replica answers. */
export type ReplicaRequest<O> =
  | { rsm: 'op'; op: O }
  | ({ rsm: 'catchup' } & CatchupRequest)
  | { rsm: 'status' };

/** Messages to the replica process besides calls: each becomes the core event of its type. */
type Internal =
  | { type: 'decide'; inst: number; value: unknown }
  | { type: 'missed'; inst: number }
  | { type: 'forward'; ops: Op[]; from: string; epoch: number }
  | {
      type: 'proposed';
      inst: number;
      outcome: ProposeOutcome | { outcome: 'error' };
      epoch: number;
    }
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

/** A service replica's options: the replica's, and which protocol orders the operations. */
export type ServiceOptions = ReplicaOptions & {
  /** 'paxos' (the default: Multi-Paxos, one log) or 'epaxos' (leaderless, by key). */
  protocol?: Protocol;
  /**
   * A new replica for a running service (Paxos only): `procs` are replicas to catch up from, and
   * it serves once a reconfiguration (`addReplica`) makes it a member.
   */
  join?: boolean;
};

/** The replica's body (a process function): `spawn(replica, machine, name, procs, options)`. */
export async function replica<S, O extends Op, R>(
  machine: Machine<S, O, R>,
  name: string,
  procs: string[],
  serviceOptions: ServiceOptions = {},
): Promise<void> {
  const { protocol, join, ...options } = serviceOptions;
  if (protocol === 'epaxos') return await epaxosFront(machine, name, procs);
  const me = self();
  const service = machine.service;
  const log = logger().child({ service, replica: name });
  const store = openReplicaStore(replicaName(service, name));
  const snapshot = store.load();
  const core = createReplica<S, O, R, From>(
    { machine, name, procs, options, random: Math.random, join },
    { snapshot },
  );
  // Replay each epoch's Paxos store in turn, from the snapshot's epoch on, while the replay
  // applies reconfigurations (nothing is told to the core twice).
  for (let epoch = -1; epoch !== core.epoch; ) {
    epoch = core.epoch;
    replayDecided(core, decisionsFrom(openStore(paxosName(service, name, epoch)), core.applied));
  }
  /**
   * Earlier epochs whose Paxos stores may still hold decisions: emptied once a snapshot of a
   * later epoch is durable (it covers every position they decided; a restart replays from it).
   */
  const stale = new Set(Array.from({ length: core.epoch }, (_, e) => e));
  const dropStale = (saved: Snapshot) => {
    for (const e of stale) {
      if (e >= (saved.epoch ?? 0)) continue;
      stale.delete(e);
      const old = openStore(paxosName(service, name, e));
      if (old.records.size + old.decided.size === 0) continue;
      void Promise.resolve(old.compact(Number.MAX_SAFE_INTEGER)).catch((err: unknown) =>
        log.warn({ err: String(err), epoch: e }, "could not empty an earlier epoch's store"),
      );
    }
  };

  /**
   * This replica's Paxos participant: one per configuration (epoch) it is a member of. A new
   * epoch's is started (and the previous one stopped: every position it could decide is
   * decided, and the others catch up from the replicas' logs) when the core says so.
   */
  let participant: Pid | undefined;
  let participantEpoch = -1;
  /** Its proposer role's local name (see `propose`). */
  let proposer = '';
  const stopParticipant = () => {
    if (!participant) return;
    unlink(participant);
    kill(participant);
    participant = undefined;
  };
  const enterEpoch = async (epoch: number, members: string[]): Promise<void> => {
    setPeers(epoch, members);
    if (epoch === participantEpoch) return;
    stopParticipant();
    for (let e = 0; e < epoch; e++) stale.add(e);
    if (!members.includes(name)) return;
    const pname = paxosName(service, name, epoch);
    // The participant of this replica's previous incarnation dies with it (linked): let it go.
    await waitUntilGone(pname);
    participant = Paxos.start(
      pname,
      members.map((p) => paxosName(service, p, epoch)),
      me,
      { terms: true }, // Multi-Paxos: the leader runs phase 1 once per term
    );
    participantEpoch = epoch;
    proposer = proposerName(pname);
    link(participant);
    log.debug({ epoch, members }, 'participant started');
  };

  // Who is up, as the registry says: told to the core whenever it changes. Looked at before
  // every event, so it is kept cheap: the global names are made once per configuration, and a
  // list is built only when some name's presence changed since the last look.
  let others: string[] = [];
  let replicaNames: string[] = [];
  let participants: string[] = [];
  let participantNames: string[] = [];
  let replicaUp: boolean[] = [];
  let participantUp: boolean[] = [];
  let peersTold = false;
  /** The replicas to watch: the members (and, while joining, the replicas it was given). */
  const setPeers = (epoch: number, members: string[]) => {
    others = [...new Set([...members, ...(join ? procs : [])])].filter((p) => p !== name);
    replicaNames = others.map((p) => replicaName(service, p));
    participants = [...members];
    participantNames = members.map((p) => bebName(paxosName(service, p, epoch)));
    replicaUp = others.map(() => false);
    participantUp = members.map(() => false);
    peersTold = false;
  };
  setPeers(core.epoch, core.members);
  /**
   * Replicas of this service registered that it does not know of (added by reconfigurations it
   * has not applied yet): watched too, so that it can catch up from them (see core.ts's
   * catchupPeers). Looked for at every tick.
   */
  const prefix = `${service}:`;
  const discover = () => {
    for (const global of Global.registeredNames()) {
      if (!global.startsWith(prefix)) continue;
      const p = global.slice(prefix.length);
      if (p.includes('/') || p === name || others.includes(p)) continue;
      others.push(p);
      replicaNames.push(global);
      replicaUp.push(false);
    }
  };
  const peersEvent = (now: number): ReplicaEvent<O, From> | undefined => {
    let changed = !peersTold;
    for (let i = 0; i < replicaNames.length; i++) {
      const up = Global.whereis(replicaNames[i]!) !== undefined;
      if (up !== replicaUp[i]) {
        replicaUp[i] = up;
        changed = true;
      }
    }
    for (let i = 0; i < participantNames.length; i++) {
      const up = Global.whereis(participantNames[i]!) !== undefined;
      if (up !== participantUp[i]) {
        participantUp[i] = up;
        changed = true;
      }
    }
    if (!changed) return undefined;
    peersTold = true;
    return {
      type: 'peers',
      now,
      replicas: others.filter((_, i) => replicaUp[i]),
      participants: participants.filter((_, i) => participantUp[i]),
    };
  };

  /**
   * A ballot for `inst`: a call straight to this replica's proposer role (on this node), not
   * through the participant's front (one process hop less); through the front while the role
   * is not registered (being restarted). The value is checked as Paxos.proposeInstance does.
   */
  const propose = (
    inst: number,
    entry: { epoch?: number },
    timeoutMs: number,
  ): Promise<ProposeOutcome | { outcome: 'error' }> => {
    if (participant === undefined || (entry.epoch ?? 0) !== participantEpoch)
      return Promise.resolve({ outcome: 'error' }); // not this epoch's member (any more)
    const pid = whereis(proposer);
    if (!pid) return Paxos.proposeInstance(participant, inst, entry, timeoutMs);
    try {
      checkValue(entry, 'a Paxos value');
    } catch (err) {
      return Promise.reject(err);
    }
    return call<ProposeOutcome>(
      pid,
      { op: 'propose', inst, value: entry } satisfies CallRequest,
      timeoutMs,
    ).catch((err: unknown) => {
      if (err instanceof ActorError && err.code === 'timeout')
        return { outcome: 'timeout' } as const;
      throw err;
    });
  };

  /**
   * Operations forwarded to the leader wait here until this replica has handled every message
   * already in its mailbox (or FORWARD_HOLD_MAX of them, if they keep coming), then go as one
   * message per leader: the leader handles (and batches) them in one step, not one per operation.
   */
  const forwards = new Map<Pid, O[]>();
  let heldFor = 0;
  const flushForwards = () => {
    for (const [pid, ops] of forwards)
      send(pid, { type: 'forward', ops, from: name, epoch: core.epoch } satisfies Internal);
    forwards.clear();
    heldFor = 0;
  };

  /** Answered operations by kind and outcome, added to the metric once per event. */
  const answered = new Map<string, { kind: string; outcome: string; n: number }>();
  const countAnswered = () => {
    for (const a of answered.values())
      operations.inc({ service, kind: a.kind, outcome: a.outcome }, a.n);
    answered.clear();
  };

  /** The leader this replica forwards to, monitored (the core asks with `watch`). */
  let watched: { name: string; ref: Ref } | undefined;
  const events: Array<ReplicaEvent<O, From>> = [];

  /** Registers the replica's name once it is caught up (the one effect that waits). */
  let removed = false;
  const becomeReady = async (): Promise<void> => {
    if (!(await Global.register(replicaName(service, name), me))) {
      throw new ActorError('name_taken', `a ${service} replica named '${name}' is already running`);
    }
    log.debug({ applied: core.applied }, 'replica ready');
  };

  /** Carries out one effect; a promise only for one that must be waited for (`ready`). */
  const carry = (e: ReplicaEffect<O, R, From>): Promise<void> | undefined => {
    switch (e.type) {
      case 'answer': {
        for (const from of e.to) reply(from, e.result);
        const kind = (e.op as { kind?: string }).kind ?? 'op';
        const outcome = outcomeOf(e.result);
        const key = `${kind}|${outcome}`;
        const a = answered.get(key);
        if (a) a.n++;
        else answered.set(key, { kind, outcome, n: 1 });
        break;
      }
      case 'reply':
        reply(e.to, e.message);
        break;
      case 'forward': {
        const pid = Global.whereis(replicaName(service, e.to));
        if (!pid) events.push({ type: 'leader_down', now: Date.now(), name: e.to });
        else {
          const queued = forwards.get(pid);
          if (queued) for (const op of e.ops) queued.push(op);
          else forwards.set(pid, [...e.ops]);
        }
        break;
      }
      case 'watch': {
        if (watched) demonitor(watched.ref, { flush: true });
        watched = undefined;
        const pid = Global.whereis(replicaName(service, e.name));
        if (pid) watched = { name: e.name, ref: monitor(pid) };
        else events.push({ type: 'leader_down', now: Date.now(), name: e.name });
        break;
      }
      case 'propose': {
        const { inst } = e;
        const epoch = e.entry.epoch ?? 0;
        propose(inst, e.entry, e.timeoutMs).then(
          (outcome) => send(me, { type: 'proposed', inst, outcome, epoch } satisfies Internal),
          () =>
            send(me, {
              type: 'proposed',
              inst,
              outcome: { outcome: 'error' },
              epoch,
            } satisfies Internal),
        );
        break;
      }
      case 'catchup_request':
        spawnLink(askPeer, me, replicaName(service, e.to), e.to, e.request, e.timeoutMs);
        break;
      case 'save_snapshot': {
        const next = e.snapshot;
        const compacting = participant;
        void Promise.resolve(store.save(next))
          .then(() => (compacting ? Paxos.compact(compacting, next.inst) : undefined))
          .then(() => dropStale(next))
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
        return becomeReady();
      case 'epoch':
        return enterEpoch(e.epoch, e.members);
      case 'removed':
        removed = true;
        log.info({ epoch: core.epoch, members: core.members }, 'replica removed; stopping');
        return Global.unregister(replicaName(service, name)).catch(() => undefined);
      default:
        e satisfies never;
    }
    return undefined;
  };

  /**
   * Steps the core with the queued events and carries out their effects, in order. Synchronous
   * (no promise per event or effect) unless an effect must be waited for: then the rest follows
   * it, in the same order.
   */
  const drain = (): Promise<void> | undefined => {
    for (let next = events.shift(); next; next = events.shift()) {
      const effects = replicaStep(core, next);
      for (let i = 0; i < effects.length; i++) {
        const pending = carry(effects[i]!);
        if (pending) return pending.then(() => rest(effects, i + 1));
      }
    }
    if (answered.size > 0) countAnswered();
    return undefined;
  };
  const rest = async (effects: Array<ReplicaEffect<O, R, From>>, from: number): Promise<void> => {
    for (let i = from; i < effects.length; i++) {
      const pending = carry(effects[i]!);
      if (pending) await pending;
    }
    const more = drain();
    if (more) await more;
  };

  /** Steps the core with `event` (after a change of peers, if any) and what its effects raise. */
  const run = (event: ReplicaEvent<O, From>): Promise<void> | undefined => {
    const peers = peersEvent(event.now);
    if (peers) events.push(peers);
    events.push(event);
    return drain();
  };

  registerProbe('replica', me, () => ({
    service: service,
    ...replicaStatus(core),
    state: machine.describe?.(core.state),
  }));

  const started = run({ type: 'start', now: Date.now() });
  if (started) await started;
  sendAfter(me, { type: 'tick' } satisfies Internal, TICK_MS);
  while (!removed) {
    // With forwards waiting: take what is already in the mailbox, and send them once it is empty.
    const m =
      forwards.size > 0
        ? await receive<Internal | CallMessage | DownMessage>(null, 0)
        : await receive<Internal | CallMessage | DownMessage>();
    if (m === TIMEOUT) {
      flushForwards();
      continue;
    }
    if (forwards.size > 0 && ++heldFor >= FORWARD_HOLD_MAX) flushForwards();
    const now = Date.now();
    if (isCall(m) && (m.request as ReplicaRequest<O>).rsm === 'status') {
      // A change of peers is told to the core first, then the status is read.
      const peers = peersEvent(now);
      if (peers) {
        events.push(peers);
        const pending = drain();
        if (pending) await pending;
      }
      reply(m.from, replicaStatus(core));
      continue;
    }
    const event = eventOf(m, now);
    if (event) {
      const pending = run(event);
      if (pending) await pending;
    }
    if (!isCall(m) && !isDown(m) && m.type === 'tick') {
      discover();
      sendAfter(me, { type: 'tick' } satisfies Internal, TICK_MS);
    }
  }
  // Removed from the service: forwards still held go out, the participant stops, and so does
  // this process (normally: a supervisor does not restart it).
  flushForwards();
  stopParticipant();

  /** The core event a message is (undefined: none). */
  function eventOf(
    m: Internal | CallMessage | DownMessage,
    now: number,
  ): ReplicaEvent<O, From> | undefined {
    if (isDown(m)) {
      if (!watched || !m.ref.equals(watched.ref)) return undefined;
      const down = watched.name;
      watched = undefined;
      return { type: 'leader_down', now, name: down };
    }
    if (isCall(m)) {
      const req = m.request as ReplicaRequest<O>;
      if (req.rsm === 'op') return { type: 'request', now, from: m.from, op: req.op };
      if (req.rsm === 'catchup') {
        const { rsm: _, ...request } = req;
        return { type: 'catchup_request', now, from: m.from, request };
      }
      return undefined;
    }
    return { ...m, now } as ReplicaEvent<O, From>;
  }
}

/** Waits (up to 5 s) until no process holds global `name`. */
/** Waits (up to 5 s) until the process registered as `name`, if any, is gone. */
export async function waitUntilGone(name: string): Promise<void> {
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
