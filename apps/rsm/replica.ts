// A replica of a replicated service: orders client operations with multi-instance Paxos and
// applies the decided log, in instance order, to its state machine.
//
// - Requests are accepted at any replica; it forwards them to the leader (the first replica in
//   the participants list that is up and caught up), which batches them, several operations per
//   Paxos instance, with several instances in flight. Any replica may propose: the leader is an
//   optimisation, never needed for safety (Paxos decides one value per instance whoever proposes).
// - The replica a client called replies once it has applied the operation itself, so a reply
//   (and every read, which goes through the log too) reflects every operation acknowledged before.
// - A replica that misses decisions (it was down, or a message was lost) fills the gaps: first by
//   asking the other replicas for their log (or snapshot), then by proposing no-ops for still
//   missing instances (Paxos then decides what was accepted there, or the no-op).
// - Durable: decisions are in the Paxos store; every `snapshotEvery` instances the state is
//   saved and the Paxos store below it compacted. A restart loads the snapshot, replays the
//   decisions after it, then catches up from the others before it takes the lead.
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
  sleep,
  spawnLink,
} from '../../actors/index.ts';
import { Paxos, type ProposeOutcome } from '../paxos/index.ts';
import { bebName } from '../paxos/participant.ts';
import { decisionsFrom, openStore } from '../paxos/storage.ts';
import type { Entry, Machine, Op } from './machine.ts';
import { openReplicaStore, type Snapshot } from './store.ts';

export interface ReplicaOptions {
  /** Most operations in one Paxos instance (default 256). */
  batchMax?: number;
  /** Most instances this replica proposes at once (default 8). */
  window?: number;
  /** Save a snapshot and compact the Paxos store every this many instances (default 1000). */
  snapshotEvery?: number;
  /** Give up on a proposal after this long and retry it (default 2000 ms). */
  proposeTimeoutMs?: number;
  /** Forward a request again if it is not applied after this long (default 1000 ms). */
  resendMs?: number;
  /**
   * A hole in the log older than this triggers catch-up from the other replicas; older than 3x
   * this (or at once if the leader was seen to die), no-op fillers (default 100 ms).
   */
  gapMs?: number;
}

const DEFAULTS: Required<ReplicaOptions> = {
  batchMax: 256,
  window: 8,
  snapshotEvery: 1000,
  proposeTimeoutMs: 2000,
  resendMs: 1000,
  gapMs: 100,
};
const TICK_MS = 100;
/** Most log entries in one catch-up reply. */
const CATCHUP_ENTRIES = 256;
const CATCHUP_CALL_MS = 3000;
/** How long a starting replica waits to see a quorum of participants before catching up. */
const PEERS_WAIT_MS = 3000;

export const replicaName = (service: string, name: string) => `${service}:${name}`;
export const paxosName = (service: string, name: string) => `${service}:${name}/paxos`;

/** Requests a replica answers (besides `{ rsm: 'op' }`). */
export type ReplicaRequest<O> =
  | { rsm: 'op'; op: O }
  | { rsm: 'catchup'; from: number }
  | { rsm: 'status' };

export interface CatchupReply {
  snapshot?: Snapshot;
  entries: Array<[number, Entry]>;
  /** The replying replica's applied position. */
  applied: number;
}

/** What `status` answers: where the replica stands in the log. */
export interface ReplicaStatus {
  name: string;
  /** Log positions applied (the next instance to apply). */
  applied: number;
  /** Decided instances received but not applied yet (waiting for a gap to fill). */
  waiting: number;
  /** The replica it forwards requests to (itself when it leads). */
  leader: string;
  /** Requests received here and not applied yet. */
  pending: number;
  inflight: number;
  snapshotAt: number;
  /** Caught up after its start (until then it does not lead). */
  ready: boolean;
}

/** A server-side refusal, turned back into a thrown ActorError by the client. */
export interface ReplicaError {
  rsmError: { code: string; message: string };
}

type Internal =
  | { type: 'decide'; inst: number; value: unknown }
  | { type: 'forward'; ops: Op[] }
  | { type: 'proposed'; inst: number; outcome: ProposeOutcome | { outcome: 'error' } }
  | { type: 'caught_up'; reply: CatchupReply }
  | { type: 'catchup_done' }
  | { type: 'snapshotted'; snapshot: Snapshot }
  | { type: 'tick' }
  | { type: 'pump' };

interface Pending<O> {
  op: O;
  froms: From[];
  sentAt: number;
}

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
  const opts = { ...DEFAULTS, ...options };
  const me = self();
  const log = logger().child({ service: machine.service, replica: name });
  const store = openReplicaStore(replicaName(machine.service, name));
  let snapshot = store.load();
  let state = snapshot ? machine.restore(snapshot.state) : machine.empty();
  /** The next instance to apply. */
  let applied = snapshot?.inst ?? 0;
  let snapshotting = false;
  /** Entries applied since the snapshot (served to replicas catching up). */
  const history = new Map<number, Entry<O>>();
  /** Decided, not yet applied. */
  const decided = new Map<number, Entry<O>>();
  let maxDecided = applied - 1;
  /** Requests received here, answered when applied here. */
  const pending = new Map<string, Pending<O>>();
  /** Operations this replica is to propose (forwarded to it, or its own when it leads). */
  let queue: O[] = [];
  /** reqIds queued or in flight here (so a resent request is not proposed twice at once). */
  const owned = new Set<string>();
  const inflight = new Map<number, O[]>();
  let nextInst = applied;
  let backoffUntil = 0;
  let preemptions = 0;
  let gapSince = 0;
  let holesFromDeath = false;
  let catchingUp = false;
  let ready = false;
  /** This replica's Paxos participant (started after the replay of the local log). */
  let paxos: Pid | undefined;

  const learn = (inst: number, value: unknown) => {
    if (inst < applied || decided.has(inst)) return;
    decided.set(inst, value as Entry<O>);
    if (inst > maxDecided) maxDecided = inst;
  };

  const applyReady = () => {
    for (let entry = decided.get(applied); entry; entry = decided.get(applied)) {
      decided.delete(applied);
      for (const op of entry.ops) {
        const result = machine.apply(state, op);
        owned.delete(op.reqId);
        const p = pending.get(op.reqId);
        if (p) {
          pending.delete(op.reqId);
          for (const from of p.froms) reply(from, result);
          operations.inc({
            service: machine.service,
            kind: (op as { kind?: string }).kind ?? 'op',
            outcome: outcomeOf(result),
          });
        }
      }
      history.set(applied, entry);
      applied++;
    }
    if (!snapshotting && applied - (snapshot?.inst ?? 0) >= opts.snapshotEvery) takeSnapshot();
  };

  const takeSnapshot = () => {
    if (!paxos) return; // replaying at start: snapshot once the participant is up
    const participant = paxos;
    snapshotting = true;
    const next: Snapshot = { inst: applied, state: machine.snapshot(state) };
    void Promise.resolve(store.save(next))
      .then(() => Paxos.compact(participant, next.inst))
      .then(
        () => send(me, { type: 'snapshotted', snapshot: next } satisfies Internal),
        (err: unknown) => {
          log.warn({ err: String(err) }, 'snapshot or compaction failed; will retry');
          snapshotting = false;
        },
      );
  };

  // Replay what the Paxos store decided after the snapshot (nothing is told to us twice).
  for (const [inst, value] of decisionsFrom(openStore(paxosName(machine.service, name)), applied))
    learn(inst, value);
  applyReady();

  // The participant of this replica's previous incarnation dies with it (linked): let it go.
  await waitUntilGone(paxosName(machine.service, name));
  const participant = Paxos.start(
    paxosName(machine.service, name),
    procs.map((p) => paxosName(machine.service, p)),
    me,
  );
  link(participant);
  paxos = participant;

  const leader = (): [string, Pid] => {
    for (const p of procs) {
      if (p === name) {
        if (ready) return [p, me];
        continue;
      }
      const pid = Global.whereis(replicaName(machine.service, p));
      if (pid) return [p, pid];
    }
    return [name, me];
  };

  const enqueue = (ops: O[]) => {
    for (const op of ops) {
      if (owned.has(op.reqId) || machine.resultOf(state, op.reqId) !== undefined) continue;
      owned.add(op.reqId);
      queue.push(op);
    }
    pump();
  };

  /** The leader this replica forwards to, monitored: if it dies, its requests go elsewhere at once. */
  let watched: { pid: Pid; ref: Ref } | undefined;
  const route = (ops: O[]) => {
    const [, pid] = leader();
    if (pid === me) {
      enqueue(ops);
      return;
    }
    if (!watched?.pid.equals(pid)) {
      if (watched) demonitor(watched.ref, { flush: true });
      watched = { pid, ref: monitor(pid) };
    }
    send(pid, { type: 'forward', ops } satisfies Internal);
  };
  const leaderDown = () => {
    watched = undefined;
    // Its instances in flight may be holes now: fill them at the next tick, not after a while.
    holesFromDeath = true;
    const ops = [...pending.values()].map((p) => {
      p.sentAt = Date.now();
      return p.op;
    });
    if (ops.length > 0) route(ops);
  };

  const propose = (inst: number, ops: O[]) => {
    inflight.set(inst, ops);
    Paxos.proposeInstance(
      participant,
      inst,
      { ops } satisfies Entry<O>,
      opts.proposeTimeoutMs,
    ).then(
      (outcome) => send(me, { type: 'proposed', inst, outcome } satisfies Internal),
      () => send(me, { type: 'proposed', inst, outcome: { outcome: 'error' } } satisfies Internal),
    );
  };

  const freeInstance = () => {
    nextInst = Math.max(nextInst, applied, maxDecided + 1);
    while (inflight.has(nextInst)) nextInst++;
    return nextInst++;
  };

  const quorum = Math.floor(procs.length / 2) + 1;
  const paxosNames = procs.map((p) => bebName(paxosName(machine.service, p)));
  /** A ballot sent before a quorum of participants is up would be lost until it times out. */
  const quorumUp = () => {
    let up = 0;
    for (const n of paxosNames) if (Global.whereis(n)) up++;
    return up >= quorum;
  };

  function pump(): void {
    if (Date.now() < backoffUntil || queue.length === 0 || !quorumUp()) return;
    while (inflight.size < opts.window && queue.length > 0) {
      const batch: O[] = [];
      let taken = 0;
      while (taken < queue.length && batch.length < opts.batchMax) {
        const op = queue[taken++]!;
        if (owned.has(op.reqId)) batch.push(op); // else applied meanwhile
      }
      queue = queue.slice(taken);
      if (batch.length > 0) propose(freeInstance(), batch);
    }
  }

  const onProposed = (inst: number, outcome: ProposeOutcome | { outcome: 'error' }) => {
    const ops = inflight.get(inst) ?? [];
    inflight.delete(inst);
    let again = ops;
    if (outcome.outcome === 'decided') {
      const entry = outcome.value as Entry<O>;
      learn(inst, entry);
      const inLog = new Set(entry.ops.map((op) => op.reqId));
      again = ops.filter((op) => !inLog.has(op.reqId));
      preemptions = 0;
    } else if (outcome.outcome === 'aborted' && outcome.reason === 'preempted') {
      // Another proposer is at work on this instance: back off a random while (duelling).
      preemptions = Math.min(preemptions + 1, 6);
      const delay = Math.random() * 2 ** preemptions * 5;
      backoffUntil = Date.now() + delay;
      sendAfter(me, { type: 'pump' } satisfies Internal, delay);
    }
    const retry = again.filter((op) => owned.has(op.reqId));
    if (retry.length > 0) queue = [...retry, ...queue];
    applyReady();
  };

  const startCatchup = (waitForQuorum = false) => {
    if (catchingUp) return;
    catchingUp = true;
    const peers = procs.filter((p) => p !== name).map((p) => replicaName(machine.service, p));
    spawnLink(catchUp, me, peers, applied, waitForQuorum ? quorumUp : () => true);
  };

  const onCaughtUp = (r: CatchupReply) => {
    if (r.snapshot && r.snapshot.inst > applied) {
      // Far behind: take the other replica's snapshot, and keep it as our own.
      state = machine.restore(r.snapshot.state);
      applied = r.snapshot.inst;
      for (const inst of [...decided.keys()]) if (inst < applied) decided.delete(inst);
      history.clear();
      snapshot = r.snapshot;
      for (const reqId of owned)
        if (machine.resultOf(state, reqId) !== undefined) owned.delete(reqId);
      for (const [reqId, p] of pending) {
        const result = machine.resultOf(state, reqId);
        if (result === undefined) continue;
        pending.delete(reqId);
        for (const from of p.froms) reply(from, result);
      }
      if (!snapshotting) takeSnapshot();
    }
    for (const [inst, entry] of r.entries) learn(inst, entry);
    if (r.applied - 1 > maxDecided) maxDecided = r.applied - 1;
    applyReady();
  };

  const serveCatchup = (from: number): CatchupReply => {
    const base = snapshot?.inst ?? 0;
    const entries: Array<[number, Entry]> = [];
    const start = from < base ? base : from;
    for (let i = start; i < applied && entries.length < CATCHUP_ENTRIES; i++) {
      const entry = history.get(i);
      if (!entry) break;
      entries.push([i, entry]);
    }
    return from < base && snapshot ? { snapshot, entries, applied } : { entries, applied };
  };

  const tick = () => {
    const now = Date.now();
    // Requests not applied in time: forward again (to whoever leads now).
    const late: O[] = [];
    for (const p of pending.values()) {
      if (now - p.sentAt < opts.resendMs) continue;
      p.sentAt = now;
      late.push(p.op);
    }
    if (late.length > 0) route(late);
    // A hole in the log: ask the others, then fill what is still missing with no-ops.
    if (decided.size > 0 && !decided.has(applied)) {
      if (gapSince === 0) gapSince = now;
      if (now - gapSince > opts.gapMs) startCatchup();
      if (holesFromDeath || now - gapSince > 3 * opts.gapMs) {
        for (let i = applied; i < maxDecided && inflight.size < opts.window; i++) {
          if (!decided.has(i) && !inflight.has(i)) propose(i, []);
        }
      }
    } else {
      gapSince = 0;
      holesFromDeath = false;
    }
    pump();
  };

  const statusNow = (): ReplicaStatus => ({
    name,
    applied,
    waiting: decided.size,
    leader: leader()[0],
    pending: pending.size,
    inflight: inflight.size,
    snapshotAt: snapshot?.inst ?? 0,
    ready,
  });
  registerProbe('replica', me, () => ({
    service: machine.service,
    ...statusNow(),
    state: machine.describe?.(state),
  }));

  // At start, a node may not know the others' names yet: wait for a quorum before asking.
  startCatchup(true);
  sendAfter(me, { type: 'tick' } satisfies Internal, TICK_MS);
  for (;;) {
    const m = await receive<Internal | CallMessage | DownMessage>();
    if (isDown(m)) {
      if (watched && m.ref.equals(watched.ref)) leaderDown();
      continue;
    }
    if (isCall(m)) {
      const req = m.request as ReplicaRequest<O>;
      if (req.rsm === 'op') {
        try {
          machine.validate(req.op);
        } catch (err) {
          const e = err as ActorError;
          reply(m.from, { rsmError: { code: e.code ?? 'invalid_argument', message: e.message } });
          continue;
        }
        const op = req.op;
        const known = machine.resultOf(state, op.reqId);
        if (known !== undefined) {
          reply(m.from, known);
          continue;
        }
        const p = pending.get(op.reqId);
        if (p) {
          p.froms.push(m.from);
          continue;
        }
        pending.set(op.reqId, { op, froms: [m.from], sentAt: Date.now() });
        route([op]);
      } else if (req.rsm === 'catchup') {
        reply(m.from, serveCatchup(req.from));
      } else if (req.rsm === 'status') {
        reply(m.from, statusNow());
      }
      continue;
    }
    switch (m.type) {
      case 'decide':
        learn(m.inst, m.value);
        applyReady();
        break;
      case 'forward':
        enqueue(m.ops as O[]);
        break;
      case 'proposed':
        onProposed(m.inst, m.outcome);
        pump();
        break;
      case 'caught_up':
        onCaughtUp(m.reply);
        break;
      case 'catchup_done':
        catchingUp = false;
        if (!ready) {
          ready = true;
          if (!(await Global.register(replicaName(machine.service, name), me))) {
            throw new ActorError(
              'name_taken',
              `a ${machine.service} replica named '${name}' is already running`,
            );
          }
          log.debug({ applied }, 'replica ready');
        }
        pump();
        break;
      case 'snapshotted':
        if (!snapshot || m.snapshot.inst > snapshot.inst) {
          snapshot = m.snapshot;
          for (const inst of history.keys()) if (inst < snapshot.inst) history.delete(inst);
        }
        snapshotting = false;
        break;
      case 'tick':
        tick();
        sendAfter(me, { type: 'tick' } satisfies Internal, TICK_MS);
        break;
      case 'pump':
        pump();
        break;
    }
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

/** Pulls log entries (or a snapshot) from the other replicas, in turn, into `target`. */
async function catchUp(
  target: Pid,
  peers: string[],
  from: number,
  ready: () => boolean,
): Promise<void> {
  const deadline = Date.now() + PEERS_WAIT_MS;
  while (!ready() && Date.now() < deadline) await sleep(20);
  let at = from;
  for (const peer of peers) {
    for (;;) {
      const pid = Global.whereis(peer);
      if (!pid) break;
      let r: CatchupReply;
      try {
        r = await call<CatchupReply>(
          pid,
          { rsm: 'catchup', from: at } satisfies ReplicaRequest<never>,
          CATCHUP_CALL_MS,
        );
      } catch {
        break; // that replica is down or slow: try the next
      }
      send(target, { type: 'caught_up', reply: r } satisfies Internal);
      const last = r.entries.at(-1)?.[0] ?? (r.snapshot ? r.snapshot.inst - 1 : at - 1);
      if (last + 1 <= at) break;
      at = last + 1;
      if (at >= r.applied) break;
    }
  }
  send(target, { type: 'catchup_done' } satisfies Internal);
}
