// The replica of a replicated service as a pure state machine: `replicaStep(state, event)`
// updates the state in place and returns the effects to carry out. replica.ts is its actor.
//
// It orders client operations with multi-instance Paxos and applies the decided log, in
// instance order, to the service's state machine:
// - Requests are accepted at any replica; it forwards them to the leader (the first replica in
//   `procs` that is up and caught up), which batches them, several operations per instance,
//   with several instances in flight. Any replica may propose: the leader is an optimisation,
//   never needed for safety (Paxos decides one value per instance whoever proposes).
// - The replica a client called replies once it has applied the operation itself, so a reply
//   (and every read, which goes through the log too) reflects every operation acknowledged before.
// - A replica that misses decisions fills the gaps: first by asking the other replicas for their
//   log (or snapshot, sent in chunks of at most snapshotChunkBytes), then by proposing no-ops
//   for still missing instances. A failed ballot is retried at its own instance, after a backoff.
// - Every `snapshotEvery` instances the state is saved (and the Paxos store below compacted).
//
// Nothing here reads a clock, a random source or the registry: time comes as `now` on every
// event, randomness from `config.random`, which replicas and Paxos participants are up from
// `peers` events. Clients are opaque tokens `C` (the shell's call handles). The driver (the
// actor shell, or the simulator) must answer every `propose` effect with one `proposed` event
// and every `catchup_request` with one `catchup_reply` or `catchup_failed`.
import { diskCodec } from '../../actors/codec.ts';
import type { ProposeOutcome } from '../paxos/participant.ts';
import { type Entry, type Machine, type Op, remember } from './machine.ts';

export interface ReplicaOptions {
  /** Most operations in one Paxos instance (default 256). */
  batchMax?: number;
  /** Most instances this replica proposes at once (default 64). */
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
  /**
   * A snapshot travels to a replica catching up in pieces of at most this many bytes of its
   * encoding (default 1 MiB: well below the transport's frameBytesMax of 16 MiB).
   */
  snapshotChunkBytes?: number;
}

/** Default size of one piece of a snapshot in transfer. */
export const SNAPSHOT_CHUNK_BYTES_DEFAULT = 1024 * 1024;

export const REPLICA_DEFAULTS: Required<ReplicaOptions> = {
  batchMax: 256,
  window: 64,
  snapshotEvery: 1000,
  proposeTimeoutMs: 2000,
  resendMs: 1000,
  gapMs: 100,
  snapshotChunkBytes: SNAPSHOT_CHUNK_BYTES_DEFAULT,
};
/** Most log entries in one catch-up reply. */
export const CATCHUP_ENTRIES_MAX = 256;
/** How long one catch-up request to a peer may take before the next peer is asked. */
export const CATCHUP_CALL_MS = 3000;
/** How long a starting replica waits to see a quorum of participants before catching up. */
export const PEERS_WAIT_MS = 3000;
/** While it waits for them, how often it looks again. */
export const PEERS_POLL_MS = 20;
/**
 * A quiet log (its applied position unmoved for this long, no hole) asks one peer whether it
 * missed the last decisions: a `chosen` announcement lost on the way leaves no hole behind it.
 * The wait doubles after each probe, up to IDLE_PROBE_MAX_MS, and starts again once the log moves.
 */
export const IDLE_PROBE_MS = 1000;
export const IDLE_PROBE_MAX_MS = 60_000;
/** Backoff after a pre-emption: random in [0, BACKOFF_BASE_MS * 2^n), n pre-emptions in a row. */
export const BACKOFF_BASE_MS = 5;
export const BACKOFF_DOUBLINGS_MAX = 6;

/** The configuration in force at a snapshot's position (absent: epoch 0, the replicas started with). */
export interface SnapshotConfig {
  epoch?: number;
  members?: string[];
  /** Remembered results of the reconfigurations applied (a retried one is not applied twice). */
  reconfigs?: Array<[string, ReconfigResult]>;
}

/** The applied state at a log position. */
export interface Snapshot extends SnapshotConfig {
  /** The first log position the snapshot does not cover. */
  inst: number;
  state: unknown;
}

/**
 * A change of the replicas, ordered through the log like any operation (the client side is
 * `addReplica`/`removeReplica`). The entry that holds it is a stop sign: the configuration
 * (epoch) it belongs to ends there, and the next epoch, with its own Paxos group over the new
 * members, decides every later position. Decisions the old group still makes after the stop
 * sign are void; the operations in them are proposed again in the new epoch.
 */
export interface ReconfigOp {
  reqId: string;
  rsm: 'reconfig';
  add?: string;
  remove?: string;
}

export type ReconfigResult =
  | { ok: true; epoch: number; members: string[] }
  | {
      ok: false;
      error: 'already_member' | 'not_member' | 'last_member';
      epoch: number;
      members: string[];
    };

/** Most reconfiguration results remembered (for retries under the same reqId). */
export const RECONFIG_RESULTS_MAX = 64;
/** A replica joining (not a member yet) asks the members again this often until it is one. */
export const JOIN_POLL_MS = 200;
const MEMBER_NAME = /^[A-Za-z0-9_.@-]+$/;

/** A reconfiguration operation, not one of the service's. */
export function isReconfig(op: unknown): op is ReconfigOp {
  return typeof op === 'object' && op !== null && (op as { rsm?: unknown }).rsm === 'reconfig';
}

/** What is wrong with a reconfiguration operation, or undefined. */
export function reconfigProblem(op: ReconfigOp): string | undefined {
  if (typeof op.reqId !== 'string' || op.reqId.length === 0) return 'an operation needs a reqId';
  const which = [op.add, op.remove].filter((x) => x !== undefined);
  if (which.length !== 1) return 'a reconfiguration adds or removes exactly one replica';
  const name = which[0];
  if (typeof name !== 'string' || !MEMBER_NAME.test(name))
    return `a replica name must be a non-empty name of letters, digits and _ . @ -, got ${String(name)}`;
  return undefined;
}

/** A catch-up request (a `{ rsm: 'catchup', ...CatchupRequest }` call to a peer). */
export interface CatchupRequest {
  /** The first log position the asking replica lacks. */
  from: number;
  /** Continuing a snapshot transfer: piece `index` of the snapshot at `inst`. */
  chunk?: { inst: number; index: number };
}

/** One piece of a snapshot's encoding (actors/codec.ts's disk codec), with its configuration. */
export interface SnapshotChunk extends SnapshotConfig {
  /** The snapshot's position: the same for every piece of one transfer. */
  inst: number;
  index: number;
  count: number;
  /** Bytes of the whole encoding. */
  bytes: number;
  data: Uint8Array;
}

export interface CatchupReply {
  /** When the asker is below the server's snapshot: a piece of it (then no entries). */
  chunk?: SnapshotChunk;
  entries: Array<[number, Entry]>;
  /**
   * With entries from position 0: the replicas of epoch 0, which a joining replica needs to
   * apply them (a later epoch's members are in the log, and in every snapshot).
   */
  initial?: string[];
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
  /** The configuration in force at `applied`: its number and its replicas (Paxos only). */
  epoch?: number;
  members?: string[];
  /** Snapshots taken from another replica while catching up (Paxos only). */
  adopted?: number;
}

/** A server-side refusal, turned back into a thrown ActorError by the client. */
export interface ReplicaError {
  rsmError: { code: string; message: string };
}

/**
 * Test only: deliberately broken variants, to show that the simulator's and the model checker's
 * checks catch them. Nothing that ships sets one.
 * - 'forget-snapshot-results': adopting a snapshot drops the machine's remembered results (needs
 *   `machine.forgetResults`), so a retried write applies twice.
 * - 'apply-past-gap': a decision that arrives above a hole in the log is applied at once, the
 *   hole skipped (as if the missing instance were a no-op), instead of waiting for it to be filled.
 * - 'ignore-missed': a replica neither heeds that its acceptor missed a decision nor probes a peer
 *   when its log stays put (as before both), so one that missed the last decisions stays behind.
 * - 'apply-void': a decision an old configuration's group made after its stop sign is applied
 *   (as if reconfiguration needed no stop sign), not voided.
 */
export type ReplicaMutation =
  | 'forget-snapshot-results'
  | 'apply-past-gap'
  | 'ignore-missed'
  | 'apply-void';

export interface ReplicaConfig<S, O extends Op, R> {
  machine: Machine<S, O, R>;
  /** This replica's name, one of `procs` (unless it joins). */
  name: string;
  /**
   * The replicas of epoch 0 (those the service was started with); for a replica that joins, the
   * replicas to catch up from (it is a member once a reconfiguration adding it is applied).
   */
  procs: readonly string[];
  /** A new replica joining a running service (see `procs`). */
  join?: boolean;
  options?: ReplicaOptions;
  /** Uniform in [0, 1): the backoff's randomness. */
  random: () => number;
  mutations?: ReadonlySet<ReplicaMutation>;
}

/** What a restart finds on disk: the snapshot and the decisions after it. */
export interface Restored {
  snapshot?: Snapshot;
  decided?: Iterable<[number, unknown]>;
}

export type ReplicaEvent<O, C> =
  /** The Paxos participant is up: catch up from the peers, then lead if first. */
  | { type: 'start'; now: number }
  /** A client's operation (not validated yet). */
  | { type: 'request'; now: number; from: C; op: unknown }
  /**
   * Operations another replica (`from`, in configuration `epoch`) forwards to this one as its
   * leader; from a later configuration, this replica catches up (from it first).
   */
  | { type: 'forward'; now: number; ops: O[]; from?: string; epoch?: number }
  /** The Paxos participant learnt a decision. */
  | { type: 'decide'; now: number; inst: number; value: unknown }
  /**
   * Instance `inst` was decided without this participant (it missed the accept): a hole at least
   * up to it, to fill from the peers, even with nothing decided after it.
   */
  | { type: 'missed'; now: number; inst: number; epoch?: number }
  /** The answer to a `propose` effect (`epoch`: its entry's). */
  | {
      type: 'proposed';
      now: number;
      inst: number;
      outcome: ProposeOutcome | { outcome: 'error' };
      epoch?: number;
    }
  /** A peer catching up asks this replica. */
  | { type: 'catchup_request'; now: number; from: C; request: CatchupRequest }
  /** The answer to a `catchup_request` effect ... */
  | { type: 'catchup_reply'; now: number; peer: string; reply: CatchupReply }
  /** ... or its failure (the peer is down, slow or gone). */
  | { type: 'catchup_failed'; now: number; peer: string }
  /** A `save_snapshot` effect is done: durable, and the Paxos store compacted below it. */
  | { type: 'snapshot_saved'; now: number; snapshot: Snapshot }
  | { type: 'snapshot_failed'; now: number }
  /** Who is up: replicas ready (registered) and Paxos participants, by replica name. */
  | { type: 'peers'; now: number; replicas: readonly string[]; participants: readonly string[] }
  /** The watched replica (see `watch`) died. */
  | { type: 'leader_down'; now: number; name: string }
  /** Periodic (about every 100 ms): resends, gaps, retries. */
  | { type: 'tick'; now: number }
  /** A `wake` effect's time has come. */
  | { type: 'wake'; now: number };

export type ReplicaEffect<O extends Op, R, C> =
  /** `op` is applied here: answer its callers (and count it). */
  | { type: 'answer'; to: C[]; op: O; result: R }
  /** Answer one call directly: a remembered result, a refusal, a catch-up reply. */
  | { type: 'reply'; to: C; message: R | ReplicaError | CatchupReply }
  /** Send operations to replica `to`, this replica's leader. */
  | { type: 'forward'; to: string; ops: O[] }
  /** Monitor replica `name` (instead of the one watched before); its death is `leader_down`. */
  | { type: 'watch'; name: string }
  /** Run a Paxos ballot for `inst` (answer: `proposed`). */
  | { type: 'propose'; inst: number; entry: Entry<O>; timeoutMs: number }
  /** Ask peer `to` for the log (answer: `catchup_reply` or `catchup_failed`). */
  | { type: 'catchup_request'; to: string; request: CatchupRequest; timeoutMs: number }
  /** Make the snapshot durable, then compact the Paxos store below it (answer: `snapshot_saved`). */
  | { type: 'save_snapshot'; snapshot: Snapshot }
  /** Deliver a `wake` event after this long. */
  | { type: 'wake'; afterMs: number }
  /** Caught up after the start: register under the replica's name (it may lead from now on). */
  | { type: 'ready' }
  /**
   * A new configuration is in force (a reconfiguration applied, or a snapshot of a later epoch
   * adopted): run this epoch's Paxos participant if a member, watch its members.
   */
  | { type: 'epoch'; epoch: number; members: string[] }
  /** This replica was removed from the service: it stops (its callers were told). */
  | { type: 'removed' };

interface Pending<O, C> {
  op: O;
  froms: C[];
  sentAt: number;
}

/** An instance this replica proposes in: its ballot out, or waiting to retry it. */
interface InFlight<O extends Op> {
  entry: Entry<O>;
  /** A `propose` is out (its `proposed` event not in yet). */
  outstanding: boolean;
  /** When not outstanding: propose again at (or after) this time. */
  retryAt: number;
}

/** A snapshot arriving in pieces (from the peer being asked). */
interface Transfer {
  inst: number;
  count: number;
  bytes: number;
  parts: Uint8Array[];
}

interface Catchup {
  /** Peers still to ask, in turn; the first is being asked when `asking`. */
  peers: string[];
  asking: boolean;
  /** The first position to ask for. */
  at: number;
  /** At the start: wait (until then) for a quorum of participants before asking. */
  quorumWaitUntil: number;
  transfer: Transfer | undefined;
}

export interface ReplicaState<S, O extends Op, R, C> {
  readonly config: ReplicaConfig<S, O, R>;
  readonly opts: Required<ReplicaOptions>;
  /** The configuration in force at `applied`: its number, replicas and their majority. */
  epoch: number;
  members: string[];
  quorum: number;
  /** Remembered results of reconfigurations, by reqId. */
  reconfigs: Map<string, ReconfigResult>;
  /** A reconfiguration applied in the entry being applied: in force from the next position. */
  nextConfig: { members: string[] } | undefined;
  /** Was a member, and a reconfiguration removed it. */
  removed: boolean;
  /** A joining replica, not a member yet: when to ask the members again. */
  joinPollAt: number;
  /**
   * The replicas of epoch 0, if known: a joining replica learns them (or a later epoch's, from
   * a snapshot) from the replica it catches up from before it applies anything.
   */
  initial: string[] | undefined;
  configKnown: boolean;
  /**
   * When the current epoch began here (undefined: at the next event; the first epoch: long
   * ago, so a replica that starts alone says at once that no quorum is up). A new epoch's
   * Paxos group starts as each member applies the reconfiguration: until PEERS_WAIT_MS later,
   * requests wait for a quorum of it instead of being refused.
   */
  epochAt: number | undefined;
  state: S;
  /** The next instance to apply. */
  applied: number;
  snapshot: Snapshot | undefined;
  snapshotting: boolean;
  /** Entries applied since the snapshot (served to replicas catching up). */
  history: Map<number, Entry<O>>;
  /** Decided, not yet applied. */
  decided: Map<number, Entry<O>>;
  maxDecided: number;
  /** Requests received here, answered when applied here. */
  pending: Map<string, Pending<O, C>>;
  /** Operations this replica is to propose (forwarded to it, or its own when it leads). */
  queue: O[];
  /** Ops queued or in flight here, by reqId (so a resent request is not proposed twice at once). */
  owned: Map<string, O>;
  inflight: Map<number, InFlight<O>>;
  nextInst: number;
  backoffUntil: number;
  preemptions: number;
  /** Since when the log has had a hole (undefined: none). */
  gapSince: number | undefined;
  holesFromDeath: boolean;
  catchup: Catchup | undefined;
  /**
   * An acceptor said an instance this replica proposed in is compacted (decided, covered by
   * the others' snapshots): it proposes nothing more until the catch-up under way ends.
   */
  behind: boolean;
  started: boolean;
  ready: boolean;
  replicasUp: Set<string>;
  participantsUp: Set<string>;
  /** The replica watched as leader (see the `watch` effect). */
  watched: string | undefined;
  /** When the earliest `wake` asked for is due (undefined: none pending). */
  wakeAt: number | undefined;
  /** Snapshots adopted from other replicas (catching up), since this replica started. */
  adopted: number;
  /**
   * The encoding of the snapshot last served to a replica catching up, kept while transfers of
   * it go on (a newer snapshot replaces it when a transfer starts afresh).
   */
  served: (SnapshotConfig & { inst: number; data: Uint8Array }) | undefined;
  /** The applied position last seen by the idle probe, when to probe if it stays, and the wait. */
  quietAt: number;
  probeAt: number;
  probeEveryMs: number;
}

/** What is wrong with replica options (each must be a number > 0), or undefined if nothing. */
export function replicaOptionsProblem(options: ReplicaOptions): string | undefined {
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && !(typeof value === 'number' && value > 0))
      return `replica option ${key} must be a number > 0, got ${value}`;
  }
  return undefined;
}

export function createReplica<S, O extends Op, R, C = unknown>(
  config: ReplicaConfig<S, O, R>,
  restored: Restored = {},
): ReplicaState<S, O, R, C> {
  const { machine, name, procs } = config;
  if (!config.join && !procs.includes(name))
    throw new Error(`${name} is not one of the replicas ${procs}`);
  if (config.mutations?.has('forget-snapshot-results') && !machine.forgetResults)
    throw new Error('the forget-snapshot-results mutation needs machine.forgetResults');
  const opts = { ...REPLICA_DEFAULTS, ...config.options };
  const problem = replicaOptionsProblem(opts);
  if (problem) throw new Error(problem);
  const snapshot = restored.snapshot;
  const applied = snapshot?.inst ?? 0;
  const members = snapshot?.members ?? [...procs];
  const s: ReplicaState<S, O, R, C> = {
    config,
    opts,
    epoch: snapshot?.epoch ?? 0,
    members,
    quorum: majority(members),
    reconfigs: new Map(snapshot?.reconfigs),
    nextConfig: undefined,
    removed: false,
    joinPollAt: 0,
    initial: config.join ? undefined : [...procs],
    configKnown: !config.join || snapshot?.members !== undefined,
    epochAt: Number.NEGATIVE_INFINITY,
    state: snapshot ? machine.restore(snapshot.state) : machine.empty(),
    applied,
    snapshot,
    snapshotting: false,
    history: new Map(),
    decided: new Map(),
    maxDecided: applied - 1,
    pending: new Map(),
    queue: [],
    owned: new Map(),
    inflight: new Map(),
    nextInst: applied,
    backoffUntil: 0,
    preemptions: 0,
    gapSince: undefined,
    holesFromDeath: false,
    catchup: undefined,
    behind: false,
    started: false,
    ready: false,
    replicasUp: new Set(),
    participantsUp: new Set(),
    watched: undefined,
    wakeAt: undefined,
    adopted: 0,
    served: undefined,
    quietAt: -1,
    probeAt: 0,
    probeEveryMs: IDLE_PROBE_MS,
  };
  if (restored.decided) replayDecided(s, restored.decided);
  return s;
}

/**
 * Replays what a Paxos store decided after the snapshot (nothing is told to us twice); the
 * shell replays each epoch's store in turn while the replay moves the replica to a later epoch.
 */
export function replayDecided<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  decided: Iterable<[number, unknown]>,
): void {
  const none: Array<ReplicaEffect<O, R, C>> = [];
  for (const [inst, value] of decided) learn(s, inst, value);
  applyReady(s, none);
}

const majority = (members: readonly string[]) => Math.floor(members.length / 2) + 1;

/** Is this replica one of the current configuration's? */
export function isMember<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): boolean {
  return s.members.includes(s.config.name);
}

const epochOf = (entry: Entry) => entry.epoch ?? 0;

/** Applies one event; returns the effects to carry out, in order. */
export function replicaStep<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  event: ReplicaEvent<O, C>,
): Array<ReplicaEffect<O, R, C>> {
  const out: Array<ReplicaEffect<O, R, C>> = [];
  const now = event.now;
  if (s.wakeAt !== undefined && now >= s.wakeAt) s.wakeAt = undefined;
  s.epochAt ??= now;
  switch (event.type) {
    case 'start':
      s.started = true;
      out.push({ type: 'epoch', epoch: s.epoch, members: [...s.members] });
      if (!s.config.join && !isMember(s)) {
        // Restarted after a reconfiguration removed it (its snapshot or log says so).
        s.removed = true;
        out.push({ type: 'removed' });
        break;
      }
      applyReady(s, out); // a snapshot due after the replay
      // At start, a node may not know the others' names yet: wait for a quorum before asking
      // (a joining replica asks the replicas it was given at once).
      startCatchup(s, out, now, !s.config.join);
      break;
    case 'request':
      onRequest(s, out, now, event.from, event.op);
      break;
    case 'forward': {
      const { from, epoch } = event;
      if (from !== undefined && epoch !== undefined && epoch > s.epoch && !s.catchup)
        startCatchup(s, out, now, false, [from, ...catchupPeers(s).filter((p) => p !== from)]);
      enqueue(s, out, now, event.ops);
      break;
    }
    case 'decide':
      learn(s, event.inst, event.value);
      applyReady(s, out);
      break;
    case 'missed':
      if ((event.epoch ?? s.epoch) < s.epoch) break; // an earlier epoch's group: void there
      if (event.inst > s.maxDecided && !s.config.mutations?.has('ignore-missed'))
        s.maxDecided = event.inst;
      break;
    case 'proposed':
      onProposed(s, out, now, event.inst, event.outcome, event.epoch);
      pump(s, out, now);
      break;
    case 'catchup_request':
      out.push({ type: 'reply', to: event.from, message: serveCatchup(s, event.request) });
      break;
    case 'catchup_reply':
      onCatchupReply(s, out, now, event.peer, event.reply);
      break;
    case 'catchup_failed':
      if (s.catchup?.asking && s.catchup.peers[0] === event.peer) nextPeer(s, out, now);
      break;
    case 'snapshot_saved':
      if (!s.snapshot || event.snapshot.inst > s.snapshot.inst) {
        s.snapshot = event.snapshot;
        for (const inst of s.history.keys()) if (inst < event.snapshot.inst) s.history.delete(inst);
      }
      s.snapshotting = false;
      break;
    case 'snapshot_failed':
      s.snapshotting = false; // taken again when the next entry is applied
      break;
    case 'peers':
      s.replicasUp = new Set(event.replicas);
      s.participantsUp = new Set(event.participants);
      if (s.watched !== undefined && !s.replicasUp.has(s.watched)) leaderDown(s, out, now);
      askPeers(s, out, now);
      pump(s, out, now);
      break;
    case 'leader_down':
      s.replicasUp.delete(event.name);
      if (s.watched === event.name) leaderDown(s, out, now);
      break;
    case 'tick':
      tick(s, out, now);
      break;
    case 'wake':
      askPeers(s, out, now);
      pump(s, out, now);
      break;
    default:
      event satisfies never;
  }
  return out;
}

/** Where the replica stands (the answer to a `status` call). */
export function replicaStatus<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): ReplicaStatus {
  return {
    name: s.config.name,
    applied: s.applied,
    waiting: s.decided.size,
    leader: leader(s),
    pending: s.pending.size,
    inflight: s.inflight.size,
    snapshotAt: s.snapshot?.inst ?? 0,
    ready: s.ready,
    epoch: s.epoch,
    members: [...s.members],
    adopted: s.adopted,
  };
}

type Out<O extends Op, R, C> = Array<ReplicaEffect<O, R, C>>;

/**
 * The replica requests are forwarded to: the first member that is up and caught up (with none
 * up: itself if a member, else the first member).
 */
export function leader<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): string {
  const { name } = s.config;
  for (const p of s.members) {
    if (p === name) {
      if (s.ready) return p;
    } else if (s.replicasUp.has(p)) return p;
  }
  return s.members.includes(name) ? name : s.members[0]!;
}

/** A ballot sent before a quorum of participants is up would be lost until it times out. */
function quorumUp<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): boolean {
  let up = 0;
  for (const p of s.members) if (s.participantsUp.has(p)) up++;
  return up >= s.quorum;
}

/** The remembered result of an applied write or reconfiguration. */
function known<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  reqId: string,
): R | ReconfigResult | undefined {
  return s.config.machine.resultOf(s.state, reqId) ?? s.reconfigs.get(reqId);
}

function wakeAt<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  at: number,
): void {
  if (s.wakeAt !== undefined && s.wakeAt <= at) return;
  s.wakeAt = at;
  out.push({ type: 'wake', afterMs: Math.max(0, at - now) });
}

function onRequest<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  from: C,
  raw: unknown,
): void {
  const machine: Machine<S, O, R> = s.config.machine;
  try {
    if (isReconfig(raw)) {
      const problem = reconfigProblem(raw);
      if (problem) {
        refuse(out, from, 'invalid_argument', problem);
        return;
      }
    } else machine.validate(raw);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    refuse(out, from, e.code ?? 'invalid_argument', String(e.message ?? err));
    return;
  }
  const op = raw as O;
  const result = known(s, op.reqId);
  if (result !== undefined) {
    out.push({ type: 'reply', to: from, message: result as R });
    return;
  }
  if (!isMember(s)) {
    refuse(out, from, 'not_member', notMember(s, s.removed));
    return;
  }
  const p = s.pending.get(op.reqId);
  if (p) {
    p.froms.push(from);
    return;
  }
  if (s.ready && !quorumUp(s) && now - (s.epochAt ?? now) >= PEERS_WAIT_MS) {
    // Fewer than a majority of the participants are up: no ballot can succeed until they come
    // back. Say so at once, as the EPaxos services do, instead of letting the caller wait for
    // its timeout. Nothing was proposed for this request, and nothing is kept of it.
    refuse(
      out,
      from,
      'exceed_failure_tolerant',
      `fewer than ${s.quorum} of the ${s.members.length} ${s.config.machine.service} replicas are reachable`,
    );
    return;
  }
  s.pending.set(op.reqId, { op, froms: [from], sentAt: now });
  route(s, out, now, [op]);
}

/** Answers a call with a refusal (the client throws it as an ActorError of that code). */
function refuse<O extends Op, R, C>(out: Out<O, R, C>, to: C, code: string, message: string): void {
  out.push({ type: 'reply', to, message: { rsmError: { code, message } } });
}

/** Why a replica that is no member refuses a call (joining, or removed). */
function notMember<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>, removed: boolean): string {
  const { name, machine } = s.config;
  const why = removed ? 'was removed from the service' : 'is joining and not a member yet';
  return `${machine.service} replica '${name}' ${why}; call one of ${s.members.join(', ')}`;
}

function learn<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  inst: number,
  value: unknown,
): void {
  const entry = value as Entry<O>;
  const epoch = epochOf(entry);
  // Decided by an earlier epoch's group after its stop sign: void.
  const applyVoid = s.config.mutations?.has('apply-void') === true;
  if (inst >= s.applied && epoch < s.epoch && !applyVoid) return;
  settle(s, inst, entry);
  if (inst < s.applied) return;
  // A later epoch's decision replaces a (then void) earlier one's for the same position.
  const there = s.decided.get(inst);
  if (there && (epochOf(there) >= epoch || applyVoid)) return;
  s.decided.set(inst, entry);
  if (inst > s.maxDecided) s.maxDecided = inst;
}

/**
 * An instance this replica proposed in is decided (`entry`), or skipped by an adopted snapshot
 * (undefined): its ops that did not make it into the log there are proposed again.
 */
function settle<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  inst: number,
  entry: Entry<O> | undefined,
): void {
  const f = s.inflight.get(inst);
  if (!f) return;
  if (entry && epochOf(entry) !== epochOf(f.entry)) return; // another epoch's position
  s.inflight.delete(inst);
  const inLog = new Set(entry?.ops.map((op) => op.reqId));
  const again: O[] = [];
  for (const op of f.entry.ops) {
    if (inLog.has(op.reqId) || !s.owned.has(op.reqId)) continue;
    if (known(s, op.reqId) !== undefined) s.owned.delete(op.reqId);
    else again.push(op);
  }
  if (again.length > 0) s.queue = [...again, ...s.queue];
}

function applyReady<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>, out: Out<O, R, C>): void {
  const { machine } = s.config;
  if (s.config.mutations?.has('apply-past-gap') && s.decided.size > 0 && !s.decided.has(s.applied))
    s.applied = Math.min(...s.decided.keys()); // the mutation: skip the hole
  let switched = false;
  for (let entry = s.decided.get(s.applied); entry; entry = s.decided.get(s.applied)) {
    if (epochOf(entry) !== s.epoch && !s.config.mutations?.has('apply-void')) {
      // An earlier epoch's, after its stop sign (void: the position is decided anew in this
      // epoch), or a later one's (not possible before this epoch's stop sign is applied).
      if (epochOf(entry) < s.epoch) s.decided.delete(s.applied);
      break;
    }
    s.decided.delete(s.applied);
    for (const op of entry.ops) {
      const result = isReconfig(op) ? (reconfigure(s, op) as R) : machine.apply(s.state, op);
      s.owned.delete(op.reqId);
      const p = s.pending.get(op.reqId);
      if (p) {
        s.pending.delete(op.reqId);
        out.push({ type: 'answer', to: p.froms, op, result });
      }
    }
    s.history.set(s.applied, entry);
    s.applied++;
    if (s.nextConfig) {
      const { members } = s.nextConfig;
      s.nextConfig = undefined;
      enterEpoch(s, out, s.epoch + 1, members);
      switched = true;
    }
  }
  // A new epoch starts from a snapshot: a restart (or a replica catching up) begins in it.
  if (switched || s.applied - (s.snapshot?.inst ?? 0) >= s.opts.snapshotEvery) takeSnapshot(s, out);
}

/** Applies a reconfiguration at the position being applied; the new epoch starts after it. */
function reconfigure<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  op: ReconfigOp,
): ReconfigResult {
  const current = s.nextConfig?.members ?? s.members;
  const epoch = s.nextConfig ? s.epoch + 1 : s.epoch;
  let result: ReconfigResult;
  if (op.add !== undefined && current.includes(op.add))
    result = { ok: false, error: 'already_member', epoch, members: [...current] };
  else if (op.remove !== undefined && !current.includes(op.remove))
    result = { ok: false, error: 'not_member', epoch, members: [...current] };
  else if (op.remove !== undefined && current.length === 1)
    result = { ok: false, error: 'last_member', epoch, members: [...current] };
  else {
    // Two in one entry: the second changes the first's new configuration (one epoch).
    const members =
      op.add !== undefined ? [...current, op.add] : current.filter((m) => m !== op.remove);
    s.nextConfig = { members };
    result = { ok: true, epoch: s.epoch + 1, members: [...members] };
  }
  remember(s.reconfigs, op.reqId, result, RECONFIG_RESULTS_MAX);
  return result;
}

/**
 * Configuration `epoch` (with `members`) is in force from the position `applied`: instances
 * proposed in an earlier epoch are void there, their operations proposed again in this one.
 */
function enterEpoch<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  epoch: number,
  members: string[],
  learnt = false,
): void {
  if (epoch === s.epoch && !learnt) return;
  const wasMember = isMember(s);
  s.epoch = epoch;
  s.members = [...members];
  s.quorum = majority(members);
  s.epochAt = undefined;
  s.participantsUp = new Set(); // the new group's: told by the next `peers` event
  for (const inst of [...s.inflight.keys()]) settle(s, inst, undefined);
  let max = s.applied - 1;
  const decidedOps = new Set<string>();
  for (const [inst, entry] of s.decided) {
    if (epochOf(entry) < epoch && !s.config.mutations?.has('apply-void')) s.decided.delete(inst);
    else {
      if (inst > max) max = inst;
      for (const op of entry.ops) decidedOps.add(op.reqId);
    }
  }
  s.maxDecided = max;
  // Ops of ours that an earlier decision settled, now void, are proposed again (found by the
  // simulator: seed 6 with --reconfigs 4 left two requests owned by the leader, proposed nowhere).
  const queued = new Set(s.queue.map((op) => op.reqId));
  for (const [reqId, op] of s.owned)
    if (!queued.has(reqId) && !decidedOps.has(reqId) && known(s, reqId) === undefined)
      s.queue.push(op);
  s.nextInst = s.applied;
  s.gapSince = undefined;
  s.backoffUntil = 0;
  s.preemptions = 0;
  out.push({ type: 'epoch', epoch, members: [...members] });
  if (wasMember && !isMember(s)) {
    // Removed: callers retry at a member (a retry under the same reqId is applied once). It
    // stops, unless it is a joining replica that has not served yet in this life: then the
    // removal is an old one its data still held (its name removed, and added again since), and
    // it goes on catching up until it is a member again.
    const stops = !(s.config.join && !s.ready);
    s.removed = stops;
    s.ready = false;
    const message = notMember(s, true);
    for (const p of s.pending.values())
      for (const from of p.froms) refuse(out, from, 'not_member', message);
    s.pending.clear();
    s.queue = [];
    s.owned.clear();
    if (stops) out.push({ type: 'removed' });
  }
}

function takeSnapshot<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>, out: Out<O, R, C>): void {
  if (!s.started || s.snapshotting) return; // replaying at start: once the participant is up
  s.snapshotting = true;
  out.push({ type: 'save_snapshot', snapshot: snapshotOf(s) });
}

/** The snapshot at `applied` (the configuration only when it is not the starting one). */
function snapshotOf<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): Snapshot {
  const snapshot: Snapshot = {
    inst: s.applied,
    state: s.config.machine.snapshot(s.state),
    epoch: s.epoch,
    members: [...s.members],
  };
  if (s.reconfigs.size > 0) snapshot.reconfigs = [...s.reconfigs];
  return snapshot;
}

function enqueue<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  ops: O[],
): void {
  for (const op of ops) {
    if (s.owned.has(op.reqId) || known(s, op.reqId) !== undefined) continue;
    s.owned.set(op.reqId, op);
    s.queue.push(op);
  }
  pump(s, out, now);
}

function route<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  ops: O[],
): void {
  const to = leader(s);
  if (to === s.config.name) {
    enqueue(s, out, now, ops);
    return;
  }
  // Watched: if it dies, its requests go elsewhere at once.
  if (s.watched !== to) {
    s.watched = to;
    out.push({ type: 'watch', name: to });
  }
  out.push({ type: 'forward', to, ops });
}

function leaderDown<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
): void {
  s.watched = undefined;
  // Its instances in flight may be holes now: fill them at the next tick, not after a while.
  s.holesFromDeath = true;
  const ops = [...s.pending.values()].map((p) => {
    p.sentAt = now;
    return p.op;
  });
  if (ops.length > 0) route(s, out, now, ops);
}

function propose<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  inst: number,
  entry: Entry<O>,
): void {
  s.inflight.set(inst, { entry, outstanding: true, retryAt: 0 });
  out.push({ type: 'propose', inst, entry, timeoutMs: s.opts.proposeTimeoutMs });
}

/** A log entry proposed in the current epoch (epoch 0's entries do not say so). */
function entryOf<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>, ops: O[]): Entry<O> {
  return s.epoch > 0 ? { ops, epoch: s.epoch } : { ops };
}

function freeInstance<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): number {
  s.nextInst = Math.max(s.nextInst, s.applied, s.maxDecided + 1);
  while (s.inflight.has(s.nextInst)) s.nextInst++;
  return s.nextInst++;
}

function pump<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
): void {
  if (!isMember(s) || !quorumUp(s)) return; // only members propose
  if (s.behind && s.catchup) return; // proposing below the others' snapshots is futile
  if (now < s.backoffUntil) {
    wakeAt(s, out, now, s.backoffUntil);
    return;
  }
  // A failed ballot is retried at its own instance (a new ballot there): no hole is left.
  for (const [inst, f] of s.inflight) {
    if (f.outstanding) continue;
    if (now < f.retryAt) {
      wakeAt(s, out, now, f.retryAt);
      continue;
    }
    propose(s, out, inst, f.entry);
  }
  while (s.inflight.size < s.opts.window && s.queue.length > 0) {
    const batch: O[] = [];
    let taken = 0;
    while (taken < s.queue.length && batch.length < s.opts.batchMax) {
      const op = s.queue[taken++]!;
      if (s.owned.has(op.reqId)) batch.push(op); // else applied meanwhile
    }
    s.queue = s.queue.slice(taken);
    if (batch.length > 0) propose(s, out, freeInstance(s), entryOf(s, batch));
  }
}

function onProposed<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  inst: number,
  outcome: ProposeOutcome | { outcome: 'error' },
  epoch: number | undefined,
): void {
  if (outcome.outcome === 'decided') {
    s.preemptions = 0;
    learn(s, inst, outcome.value); // what lost the instance to another value moves on
    applyReady(s, out);
    return;
  }
  const f = s.inflight.get(inst);
  if (!f?.outstanding) return; // settled meanwhile
  if (epoch !== undefined && epoch !== epochOf(f.entry)) return; // a void epoch's ballot
  if (outcome.outcome === 'aborted' && outcome.reason === 'compacted') {
    // Compacted here (this replica applied past it), or at an acceptor: then the instance was
    // decided and the others' snapshots cover it, so catch up from them (the simulator found a
    // leader proposing there for ever, seed 412). Its ops go to a later instance meanwhile.
    settle(s, inst, undefined);
    if (inst >= s.applied) {
      s.behind = true;
      startCatchup(s, out, now, false);
    }
    return;
  }
  // Pre-empted (another proposer is at work on this instance), timed out or failed: the same
  // instance again after a random while; pre-emptions in a row double it (duelling proposers).
  const preempted = outcome.outcome === 'aborted' && outcome.reason === 'preempted';
  if (preempted) s.preemptions = Math.min(s.preemptions + 1, BACKOFF_DOUBLINGS_MAX);
  const delay = s.config.random() * 2 ** s.preemptions * BACKOFF_BASE_MS;
  f.outstanding = false;
  f.retryAt = now + delay;
  if (preempted) s.backoffUntil = Math.max(s.backoffUntil, f.retryAt);
  wakeAt(s, out, now, f.retryAt);
}

function startCatchup<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  waitForQuorum: boolean,
  peers: string[] = catchupPeers(s),
): void {
  if (s.catchup) return;
  s.catchup = {
    peers,
    asking: false,
    at: s.applied,
    quorumWaitUntil: waitForQuorum ? now + PEERS_WAIT_MS : 0,
    transfer: undefined,
  };
  askPeers(s, out, now);
}

/**
 * The replicas to catch up from: the members, then (joining) the replicas it was given, then any
 * other replica up. A replica that missed reconfigurations may know none of the members that
 * are left (simulator, seed 7 with --nodes 3 --reconfigs 6: the only other members it knew were
 * removed, and it stayed behind for ever); a replica added since is one to ask.
 */
function catchupPeers<S, O extends Op, R, C>(s: ReplicaState<S, O, R, C>): string[] {
  const { name, procs, join } = s.config;
  const peers = s.members.filter((p) => p !== name);
  const more = [...(join ? procs : []), ...s.replicasUp];
  for (const p of more) if (p !== name && !peers.includes(p)) peers.push(p);
  return peers;
}

/** Asks the next peer that is up (after a quorum is seen, at the start); done when none is left. */
function askPeers<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
): void {
  const c = s.catchup;
  if (!c || c.asking) return;
  if (now < c.quorumWaitUntil && !quorumUp(s)) {
    wakeAt(s, out, now, now + PEERS_POLL_MS);
    return;
  }
  c.quorumWaitUntil = 0;
  while (c.peers.length > 0 && !s.replicasUp.has(c.peers[0]!)) c.peers.shift();
  if (c.peers.length > 0) {
    c.asking = true;
    const t = c.transfer;
    out.push({
      type: 'catchup_request',
      to: c.peers[0]!,
      request: t ? { from: c.at, chunk: { inst: t.inst, index: t.parts.length } } : { from: c.at },
      timeoutMs: CATCHUP_CALL_MS,
    });
    return;
  }
  s.catchup = undefined;
  s.behind = false;
  if (!isMember(s)) {
    // Joining: ask again until a reconfiguration adding this replica is applied here.
    if (!s.removed) s.joinPollAt = now + JOIN_POLL_MS;
    return;
  }
  if (!s.ready) {
    s.ready = true;
    out.push({ type: 'ready' });
  }
  pump(s, out, now);
}

function nextPeer<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
): void {
  const c = s.catchup!;
  c.asking = false;
  c.transfer = undefined; // a snapshot in pieces comes whole from one peer
  c.peers.shift();
  askPeers(s, out, now);
}

function onCatchupReply<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  peer: string,
  r: CatchupReply,
): void {
  const c = s.catchup;
  if (!c?.asking || c.peers[0] !== peer) return; // not asked (any more)
  c.asking = false;
  if (r.chunk) {
    const snapshot = receiveChunk(s, c, r.chunk);
    if (snapshot === 'more') {
      askPeers(s, out, now); // the next piece, from the same peer
      return;
    }
    if (snapshot === 'useless') {
      nextPeer(s, out, now);
      return;
    }
    adoptSnapshot(s, out, now, snapshot);
    c.at = Math.max(c.at, snapshot.inst);
    if (r.applied - 1 > s.maxDecided) s.maxDecided = r.applied - 1;
    if (c.at >= r.applied) nextPeer(s, out, now);
    else askPeers(s, out, now); // the entries after it
    pump(s, out, now);
    return;
  }
  if (!s.configKnown && r.entries.length > 0) {
    // Joining: the entries can be applied only under the configuration they were decided in.
    if (!(r.initial && s.applied === 0 && s.epoch === 0)) {
      nextPeer(s, out, now);
      return;
    }
    s.initial = [...r.initial];
    s.configKnown = true;
    enterEpoch(s, out, 0, r.initial, true);
  }
  for (const [inst, entry] of r.entries) learn(s, inst, entry);
  if (r.applied - 1 > s.maxDecided) s.maxDecided = r.applied - 1;
  applyReady(s, out);
  const last = r.entries.at(-1)?.[0] ?? c.at - 1;
  if (last + 1 <= c.at || last + 1 >= r.applied) {
    c.at = Math.max(c.at, last + 1);
    nextPeer(s, out, now);
    return;
  }
  c.at = last + 1;
  askPeers(s, out, now);
}

/**
 * Adds a piece to the snapshot in transfer: 'more' to ask for the next one, the whole snapshot
 * once complete, 'useless' when it cannot be used (then the next peer is asked). A piece of
 * another snapshot (the peer took a newer one meanwhile) starts the transfer afresh.
 */
function receiveChunk<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  c: Catchup,
  k: SnapshotChunk,
): Snapshot | 'more' | 'useless' {
  if (k.inst <= s.applied) {
    c.transfer = undefined;
    return 'useless';
  }
  let t = c.transfer;
  if (!t || t.inst !== k.inst || t.count !== k.count || t.bytes !== k.bytes) {
    t = c.transfer = { inst: k.inst, count: k.count, bytes: k.bytes, parts: [] };
  }
  if (k.index !== t.parts.length) {
    // Out of step (a newer snapshot's piece, not its first): start that one afresh.
    t.parts = [];
    if (k.index !== 0) {
      c.transfer = undefined;
      return 'more';
    }
  }
  t.parts.push(k.data);
  if (t.parts.length < t.count) return 'more';
  c.transfer = undefined;
  const data = Buffer.concat(t.parts);
  if (data.length !== t.bytes) return 'useless';
  try {
    return { inst: t.inst, state: diskCodec().unpack(data), ...configOf(k) };
  } catch {
    return 'useless';
  }
}

/** Far behind: take another replica's snapshot, and keep it as our own. */
function adoptSnapshot<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
  snapshot: Snapshot,
): void {
  const { machine } = s.config;
  s.adopted++;
  s.state = machine.restore(snapshot.state);
  if (s.config.mutations?.has('forget-snapshot-results')) machine.forgetResults!(s.state);
  for (const [reqId, result] of snapshot.reconfigs ?? []) s.reconfigs.set(reqId, result);
  s.applied = snapshot.inst;
  s.nextConfig = undefined;
  if (snapshot.members) {
    if (snapshot.epoch !== s.epoch || !s.configKnown)
      enterEpoch(s, out, snapshot.epoch ?? 0, snapshot.members, true);
    s.configKnown = true;
  }
  for (const inst of [...s.decided.keys()]) if (inst < s.applied) s.decided.delete(inst);
  s.history.clear();
  s.snapshot = snapshot;
  // Instances of ours the snapshot skipped: their ops not covered by it go on.
  for (const inst of [...s.inflight.keys()]) if (inst < s.applied) settle(s, inst, undefined);
  // Ops decided at a skipped instance, never applied here: covered by the snapshot (a write's
  // remembered result), or proposed again (a read, which has no result to remember).
  const waiting = new Set(s.queue.map((op) => op.reqId));
  for (const f of s.inflight.values()) for (const op of f.entry.ops) waiting.add(op.reqId);
  for (const [reqId, op] of s.owned) {
    if (known(s, reqId) !== undefined) s.owned.delete(reqId);
    else if (!waiting.has(reqId)) s.queue.push(op);
  }
  const again: O[] = [];
  for (const [reqId, p] of s.pending) {
    const result = known(s, reqId) as R | undefined;
    if (result === undefined) {
      p.sentAt = now;
      again.push(p.op);
      continue;
    }
    s.pending.delete(reqId);
    for (const from of p.froms) out.push({ type: 'reply', to: from, message: result });
  }
  if (again.length > 0) route(s, out, now, again);
  takeSnapshot(s, out);
}

function serveCatchup<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  request: CatchupRequest,
): CatchupReply {
  if (s.snapshot && request.from < s.snapshot.inst) {
    return { chunk: snapshotChunk(s, s.snapshot, request.chunk), entries: [], applied: s.applied };
  }
  const entries: Array<[number, Entry]> = [];
  for (let i = request.from; i < s.applied && entries.length < CATCHUP_ENTRIES_MAX; i++) {
    const entry = s.history.get(i);
    if (!entry) break;
    entries.push([i, entry]);
  }
  const reply: CatchupReply = { entries, applied: s.applied };
  if (request.from === 0 && s.initial !== undefined) reply.initial = [...s.initial];
  return reply;
}

/** The piece asked for of the snapshot in transfer, or the first piece of the current one. */
function snapshotChunk<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  snapshot: Snapshot,
  asked: CatchupRequest['chunk'],
): SnapshotChunk {
  let served = s.served;
  const going = served !== undefined && asked !== undefined && asked.inst === served.inst;
  if (!going && served?.inst !== snapshot.inst) {
    served = s.served = {
      inst: snapshot.inst,
      data: diskCodec().pack(snapshot.state),
      ...configOf(snapshot),
    };
  }
  const enc = served!;
  const size = s.opts.snapshotChunkBytes;
  const count = Math.max(1, Math.ceil(enc.data.length / size));
  const index =
    going && Number.isInteger(asked.index) && asked.index >= 0 && asked.index < count
      ? asked.index
      : 0;
  return {
    inst: enc.inst,
    index,
    count,
    bytes: enc.data.length,
    // A copy: the message must not hold on to (or carry) the whole encoding.
    data: new Uint8Array(enc.data.subarray(index * size, (index + 1) * size)),
    ...configOf(enc),
  };
}

/** The configuration a snapshot carries (its fields that are there), to copy along with it. */
function configOf(x: SnapshotConfig): SnapshotConfig {
  const c: SnapshotConfig = {};
  if (x.epoch !== undefined) c.epoch = x.epoch;
  if (x.members !== undefined) c.members = x.members;
  if (x.reconfigs !== undefined) c.reconfigs = x.reconfigs;
  return c;
}

/** With no hole and a log that stays put, asks one peer now and then (see IDLE_PROBE_MS). */
function probeIfQuiet<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
): void {
  if (s.applied !== s.quietAt) {
    s.quietAt = s.applied;
    s.probeEveryMs = IDLE_PROBE_MS;
    s.probeAt = now + IDLE_PROBE_MS;
    return;
  }
  if (!s.ready || s.catchup !== undefined || now < s.probeAt) return;
  if (s.config.mutations?.has('ignore-missed')) return;
  const me = s.config.name;
  const lead = leader(s);
  const peer =
    lead !== me
      ? lead
      : (s.members.find((p) => p !== me && s.replicasUp.has(p)) ??
        [...s.replicasUp].find((p) => p !== me));
  if (peer === undefined) return;
  s.probeAt = now + s.probeEveryMs;
  s.probeEveryMs = Math.min(2 * s.probeEveryMs, IDLE_PROBE_MAX_MS);
  startCatchup(s, out, now, false, [peer]);
}

function tick<S, O extends Op, R, C>(
  s: ReplicaState<S, O, R, C>,
  out: Out<O, R, C>,
  now: number,
): void {
  // Requests not applied in time: forward again (to whoever leads now).
  const late: O[] = [];
  for (const p of s.pending.values()) {
    if (now - p.sentAt < s.opts.resendMs) continue;
    p.sentAt = now;
    late.push(p.op);
  }
  if (late.length > 0) route(s, out, now, late);
  if (s.config.join && !isMember(s) && !s.removed && !s.catchup && now >= s.joinPollAt)
    startCatchup(s, out, now, false);
  // A hole in the log (a decision waits for it, or one was missed): ask the others, then fill
  // what is still missing with no-ops.
  // (Every decided instance waiting is at or above `applied`, and maxDecided covers it.)
  if (s.maxDecided >= s.applied && !s.decided.has(s.applied)) {
    if (s.gapSince === undefined) s.gapSince = now;
    if (now - s.gapSince > s.opts.gapMs) startCatchup(s, out, now, false);
    const futile = s.behind && s.catchup !== undefined; // the others' snapshots cover it
    // Only the leader fills holes: a follower's no-op would start a competing ballot (with
    // Multi-Paxos terms, a term pre-empting the leader's whole window) on an instance the
    // leader is still deciding; a follower catches up from the others instead.
    const leads = leader(s) === s.config.name;
    if (leads && !futile && (s.holesFromDeath || now - s.gapSince > 3 * s.opts.gapMs)) {
      for (let i = s.applied; i < s.maxDecided && s.inflight.size < s.opts.window; i++) {
        if (!s.decided.has(i) && !s.inflight.has(i)) propose(s, out, i, entryOf(s, []));
      }
    }
  } else {
    s.gapSince = undefined;
    s.holesFromDeath = false;
    probeIfQuiet(s, out, now);
  }
  askPeers(s, out, now);
  pump(s, out, now);
}
