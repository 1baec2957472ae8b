// One EPaxos replica as a pure step function: (state, event) -> effects. Leader of its own
// commands (PreAccept, then the fast path or Accept, then Commit), acceptor of the others',
// recoverer (explicit prepare) of instances that stall, and executor (execute.ts).
import { isDeepStrictEqual } from 'node:util';
import { type Committed, planExecution } from './execute.ts';
import { ExecutedSet } from './executed.ts';
import {
  type Ballot,
  type Checkpoint,
  type Command,
  compareBallots,
  type Effect,
  type EpaxosMsg,
  type ExecutedSummary,
  type InstanceKey,
  type InstanceRecord,
  instanceKey,
  isNoop,
  NOOP,
  type PrepareReport,
  parseInstance,
  sameBallot,
} from './messages.ts';

/** A key that every key interferes with: a command on it (a full read, say) is ordered with all. */
export const ALL_KEYS = '*';

/** Broken variants, for tests only: each must be caught by the simulator's checks. */
export type EpaxosMutation =
  | 'majority-fast-quorum'
  | 'drop-dependency'
  | 'execute-before-commit'
  | 'trim-own-checkpoint';
export const EPAXOS_MUTATIONS: readonly EpaxosMutation[] = [
  'majority-fast-quorum',
  'drop-dependency',
  'execute-before-commit',
  'trim-own-checkpoint',
];

/**
 * Where the fast quorum is larger than a majority (7 replicas or more), a leader waits this long
 * for it before it settles for a majority (slow path).
 */
export const PREACCEPT_WAIT_MS = 20;
/**
 * A phase's messages are sent again to the silent replicas after this long (links are ordered
 * and reliable while up: a resend only helps after a reconnection or a restart, and a busy peer
 * is not helped by more).
 */
export const RESEND_MS = 200;
/** Resends back off, doubling up to this. */
export const RESEND_MAX_MS = 2_000;
/**
 * A watched instance whose leader was heard from since the watch was armed is left to that
 * leader (it finishes its own instances, and recovers them after a restart) this many times,
 * each wait twice the one before, before this replica recovers it anyway.
 */
export const WATCH_PATIENCE = 4;
/** An instance seen but not committed is recovered after this, times one plus the replica's rank. */
export const RECOVER_MS = 150;
/** Unknown instances below a known one, watched per event at most. */
export const GAP_WATCH_MAX = 64;

export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

/**
 * What survives a crash: the instance records (those the last checkpoint does not cover, at
 * least), the highest recovery ballot reserved, and the last checkpoint (the application's
 * snapshot beside it reflects exactly the instances it says are executed).
 */
export interface DurableState {
  records: ReadonlyMap<InstanceKey, InstanceRecord>;
  ballotN: number;
  checkpoint?: Checkpoint;
}

export interface ReplicaOptions {
  /** Checkpoint after this many instances executed since the last one (0: never, the default). */
  checkpointEvery?: number;
  /** Test only: deliberately broken behaviour, to see the simulator catch it. */
  mutations?: ReadonlySet<EpaxosMutation>;
}

interface Lead {
  ballot: Ballot;
  phase: 'preaccept' | 'accept' | 'prepare';
  cmd: Command;
  seq: number;
  deps: InstanceKey[];
  /** The attributes of the first round (ballot 0): the fast path commits exactly these. */
  original: { seq: number; deps: InstanceKey[] } | null;
  allUnchanged: boolean;
  /** Replicas other than this one that answered the current phase. */
  oks: Set<string>;
  /** Resends of the current phase so far (each waits twice as long as the one before). */
  resends: number;
  /** Prepare phase: every report, this replica's included. */
  reports: Map<string, PrepareReport>;
}

export interface ReplicaState {
  readonly me: string;
  readonly replicas: readonly string[];
  /** Failures tolerated: N - majority. */
  readonly f: number;
  /** fastQuorumSize(N): F + floor((F + 1) / 2) (at least a majority), the leader included. */
  readonly fastQuorum: number;
  readonly majority: number;
  readonly mutations: ReadonlySet<EpaxosMutation>;
  records: Map<InstanceKey, InstanceRecord>;
  nextN: number;
  ballotN: number;
  /** Per key: the instances known to touch it that are not executed here yet. */
  pendingByKey: Map<string, Set<InstanceKey>>;
  /** Per key: the last instance executed here that touches it. */
  lastExecutedByKey: Map<string, InstanceKey>;
  /** Committed instances whose record is kept (a trimmed one is only in `executed`). */
  committed: Map<InstanceKey, Committed>;
  executed: ExecutedSet;
  /** Committed instances waiting for a missing dependency, by that dependency. */
  waiters: Map<InstanceKey, Set<InstanceKey>>;
  leading: Map<InstanceKey, Lead>;
  /** Instances with a recovery timer armed. */
  watched: Set<InstanceKey>;
  /** Per command leader: every instance number up to this one is known here or watched. */
  seenUpTo: Map<string, number>;
  /** Instances asked for (an `ask` sent to the others) and not committed here yet. */
  asked: Set<InstanceKey>;
  /** Messages received per replica: a leader heard from is alive and finishes its instances. */
  heard: Map<string, number>;
  /** Per watched instance: its leader's `heard` count when armed, and the waits so far. */
  patience: Map<InstanceKey, { heard: number; tries: number }>;
  /** Checkpoint after this many executions (0: never). */
  readonly checkpointEvery: number;
  /** Instances executed since the last checkpoint. */
  sinceCheckpoint: number;
  /** Per replica (this one too): what its last durable checkpoint covers, per command leader. */
  checkpointed: Map<string, Record<string, number>>;
  /** Per command leader: the records up to this instance number are dropped here. */
  trimmedUpTo: Map<string, number>;
  /** Started from a disk (a restart): asks the others for what it missed (`sync`). */
  readonly restarted: boolean;
  /**
   * While a replica joins (EPaxos.join): per command leader, the last instance of the current
   * configuration. Nothing above it is recovered here (it belongs to the next configuration,
   * whose quorums this replica does not know yet); null when not fenced.
   */
  fence: Record<string, number> | null;
}

export type ReplicaEvent =
  | { type: 'propose'; cmd: Command }
  | { type: 'receive'; from: string; msg: EpaxosMsg }
  | { type: 'timer'; inst: InstanceKey; ballot: Ballot | null }
  /** Start an explicit prepare for this instance now (the executor or an operator asks). */
  | { type: 'recover'; inst: InstanceKey }
  /**
   * A replica joins (EPaxos.join): every replica has stopped proposing, and `upTo` holds each
   * leader's last instance. Learn (or recover) every one of them, and recover nothing above.
   */
  | { type: 'drain'; upTo: Record<string, number> }
  /** The join was given up: back to normal. */
  | { type: 'unfence' }
  /** Checkpoint now (for a joining replica to start from), whatever checkpointEvery says. */
  | { type: 'checkpoint_now' };

/** A strict majority of n replicas. */
export function majorityOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * F + floor((F+1)/2) with F = n - majority (the failures tolerated), the leader included; never
 * below a majority (with an even n, F + floor((F+1)/2) alone would not meet every majority).
 */
export function fastQuorumSize(n: number): number {
  const f = n - majorityOf(n);
  return Math.max(majorityOf(n), f + Math.floor((f + 1) / 2));
}

export function createReplica(
  me: string,
  replicas: readonly string[],
  durable?: DurableState,
  options: ReplicaOptions = {},
): ReplicaState {
  if (!replicas.includes(me))
    throw new Error(`${me} is not one of the replicas ${replicas.join(', ')}`);
  if (new Set(replicas).size !== replicas.length) throw new Error('replica names must be distinct');
  const n = replicas.length;
  const majority = majorityOf(n);
  const s: ReplicaState = {
    me,
    replicas: [...replicas],
    f: n - majority,
    fastQuorum: fastQuorumSize(n),
    majority,
    mutations: options.mutations ?? new Set(),
    records: new Map(),
    nextN: 0,
    ballotN: durable?.ballotN ?? 0,
    pendingByKey: new Map(),
    lastExecutedByKey: new Map(Object.entries(durable?.checkpoint?.lastByKey ?? {})),
    committed: new Map(),
    executed: ExecutedSet.from(durable?.checkpoint?.executed),
    waiters: new Map(),
    leading: new Map(),
    watched: new Set(),
    seenUpTo: new Map(),
    asked: new Set(),
    heard: new Map(),
    patience: new Map(),
    checkpointEvery: options.checkpointEvery ?? 0,
    sinceCheckpoint: 0,
    checkpointed: new Map(),
    trimmedUpTo: new Map(),
    restarted: durable !== undefined,
    fence: null,
  };
  const cp = durable?.checkpoint;
  if (cp) s.checkpointed.set(me, cp.executed.upTo);
  for (const r of replicas) {
    // Never reuse an instance number, nor watch the checkpoint's instances as gaps.
    const top = s.executed.highest(r);
    if (r === me) s.nextN = top + 1;
    else if (top >= 0) s.seenUpTo.set(r, s.executed.frontier(r));
  }
  for (const [inst, rec] of durable?.records ?? []) {
    s.records.set(inst, { ...rec, deps: [...rec.deps] });
    if (rec.cmd) index(s, inst, rec.cmd);
    const { replica, n: num } = parseInstance(inst);
    if (replica === me) s.nextN = Math.max(s.nextN, num + 1);
    if (rec.bal.replica === me) s.ballotN = Math.max(s.ballotN, rec.bal.n);
    if (rec.status === 'committed' && rec.cmd)
      s.committed.set(inst, { cmd: rec.cmd, seq: rec.seq, deps: rec.deps });
  }
  return s;
}

/**
 * After a restart: execution goes on from the checkpoint (the application's state restored
 * from the snapshot beside it) through the committed instances on disk; the others are asked
 * for every commit the checkpoint does not cover (`sync`); every instance not committed is
 * watched (explicit prepare fills what is still missing). Returns the effects.
 */
export function restartEffects(s: ReplicaState): Effect[] {
  const effects: Effect[] = [];
  if (s.restarted)
    for (const to of others(s))
      effects.push({
        type: 'send',
        to,
        msg: { type: 'sync', inst: '', executed: s.executed.summary() },
      });
  for (const inst of s.committed.keys()) effects.push(...tryExecute(s, inst));
  for (const [inst, rec] of s.records)
    if (rec.status !== 'committed' && !s.executed.has(inst)) effects.push(...watch(s, inst));
  return effects;
}

/** Applies one event; returns the effects to carry out, in order. */
export function replicaStep(s: ReplicaState, event: ReplicaEvent): Effect[] {
  switch (event.type) {
    case 'propose':
      return propose(s, event.cmd).effects;
    case 'receive':
      if (!s.replicas.includes(event.from)) return []; // not a member: ignored
      return receive(s, event.from, event.msg);
    case 'timer':
      return event.ballot === null
        ? onWatch(s, event.inst)
        : onLeadTimer(s, event.inst, event.ballot);
    case 'recover':
      return done(s, event.inst) || s.leading.has(event.inst) || beyondFence(s, event.inst)
        ? []
        : startRecovery(s, event.inst);
    case 'drain':
      return drain(s, event.upTo);
    case 'unfence':
      s.fence = null;
      return [];
    case 'checkpoint_now':
      return checkpoint(s);
  }
}

/** Whether every instance up to `upTo[leader]`, for every leader, is executed here. */
export function drained(s: ReplicaState, upTo: Readonly<Record<string, number>>): boolean {
  for (const [leader, top] of Object.entries(upTo))
    for (let n = s.executed.frontier(leader) + 1; n <= top; n++)
      if (!s.executed.has(instanceKey(leader, n))) return false;
  return true;
}

function drain(s: ReplicaState, upTo: Record<string, number>): Effect[] {
  s.fence = { ...upTo };
  const effects: Effect[] = [];
  for (const [leader, top] of Object.entries(upTo)) {
    if (!s.replicas.includes(leader)) continue;
    for (let n = s.executed.frontier(leader) + 1; n <= top; n++) {
      const inst = instanceKey(leader, n);
      if (done(s, inst)) continue;
      effects.push(...ask(s, inst), ...watch(s, inst));
    }
    if (leader !== s.me && top > (s.seenUpTo.get(leader) ?? -1)) s.seenUpTo.set(leader, top);
  }
  return effects;
}

/** Fenced, and `inst` is above its leader's last instance of the configuration that ends. */
function beyondFence(s: ReplicaState, inst: InstanceKey): boolean {
  if (!s.fence) return false;
  const { replica, n } = parseInstance(inst);
  return n > (s.fence[replica] ?? -1);
}

/** Leads a new instance for `cmd`; returns its key and the effects. */
export function propose(s: ReplicaState, cmd: Command): { inst: InstanceKey; effects: Effect[] } {
  const inst = instanceKey(s.me, s.nextN++);
  const ballot: Ballot = { n: 0, replica: s.me };
  const attrs = localAttrs(s, inst, cmd, 0, []);
  const rec: InstanceRecord = {
    cmd,
    seq: attrs.seq,
    deps: attrs.deps,
    status: 'preaccepted',
    bal: ballot,
    vbal: ballot,
    unchanged: true,
  };
  s.records.set(inst, rec);
  index(s, inst, cmd);
  const lead: Lead = {
    ballot,
    phase: 'preaccept',
    cmd,
    seq: attrs.seq,
    deps: attrs.deps,
    original: { seq: attrs.seq, deps: attrs.deps },
    allUnchanged: true,
    oks: new Set(),
    resends: 0,
    reports: new Map(),
  };
  s.leading.set(inst, lead);
  const effects: Effect[] = [{ type: 'persist', inst, record: copy(rec) }];
  if (s.mutations.has('execute-before-commit')) effects.push({ type: 'execute', inst, cmd }); // broken on purpose: before any agreement
  for (const r of others(s))
    effects.push({
      type: 'send',
      to: r,
      msg: { type: 'preaccept', inst, ballot, cmd, seq: attrs.seq, deps: attrs.deps },
    });
  const waitMs = s.fastQuorum > s.majority ? PREACCEPT_WAIT_MS : RESEND_MS;
  effects.push({ type: 'timer', inst, ballot, afterMs: waitMs });
  effects.push(...afterPreacceptReply(s, inst, lead));
  return { inst, effects };
}

function receive(s: ReplicaState, from: string, msg: EpaxosMsg): Effect[] {
  s.heard.set(from, (s.heard.get(from) ?? 0) + 1);
  // An instance executed and trimmed here is executed by every replica (their checkpoints all
  // cover it): whatever still comes for it (a late duplicate) is stale.
  if (msg.inst !== '' && !s.records.has(msg.inst) && s.executed.has(msg.inst)) return [];
  const effects = handle(s, from, msg);
  effects.push(...watchGaps(s, msg.inst));
  return effects;
}

function handle(s: ReplicaState, from: string, msg: EpaxosMsg): Effect[] {
  switch (msg.type) {
    case 'preaccept':
      return onPreaccept(s, from, msg);
    case 'accept':
      return onAccept(s, from, msg);
    case 'commit':
      return commitHere(s, msg.inst, msg.cmd, msg.seq, msg.deps, null);
    case 'prepare':
      return onPrepare(s, from, msg);
    case 'ask': {
      const rec = s.records.get(msg.inst);
      return rec?.status === 'committed' ? [commitMsgTo(from, msg.inst, rec)] : [];
    }
    case 'preaccept_ok': {
      const lead = leadAt(s, msg.inst, msg.ballot, 'preaccept');
      if (!lead || from === s.me) return [];
      lead.oks.add(from);
      const merged = mergeAttrs(lead, msg.seq, msg.deps);
      if (!msg.unchanged || merged) lead.allUnchanged = false;
      return afterPreacceptReply(s, msg.inst, lead);
    }
    case 'accept_ok': {
      const lead = leadAt(s, msg.inst, msg.ballot, 'accept');
      if (!lead || from === s.me) return [];
      lead.oks.add(from);
      if (lead.oks.size + 1 < s.majority) return [];
      return commitAsLeader(s, msg.inst, lead, false);
    }
    case 'prepare_ok': {
      const lead = leadAt(s, msg.inst, msg.ballot, 'prepare');
      if (!lead) return [];
      lead.reports.set(from, msg.report);
      return decideRecovery(s, msg.inst, lead, false);
    }
    case 'nack': {
      const lead = s.leading.get(msg.inst);
      s.ballotN = Math.max(s.ballotN, msg.promised.n);
      if (!lead || !sameBallot(lead.ballot, msg.ballot)) return [];
      s.leading.delete(msg.inst); // pre-empted: whoever holds the higher ballot finishes it
      return watch(s, msg.inst);
    }
    case 'sync':
      return onSync(s, from, msg.executed);
    case 'checkpointed':
      s.checkpointed.set(from, msg.upTo);
      return trim(s);
  }
}

/**
 * A restarted replica's `sync`: every commit here that its executed set does not cover, and
 * what this replica's last checkpoint covers (what it told the others while that one was down;
 * durable by now: this reply leaves after every write handed over before it).
 */
function onSync(s: ReplicaState, from: string, summary: ExecutedSummary): Effect[] {
  const theirs = ExecutedSet.from(summary);
  const effects: Effect[] = [];
  for (const [inst, rec] of s.records)
    if (rec.status === 'committed' && !theirs.has(inst)) effects.push(commitMsgTo(from, inst, rec));
  const upTo = s.checkpointed.get(s.me);
  if (upTo) effects.push({ type: 'send', to: from, msg: { type: 'checkpointed', inst: '', upTo } });
  return effects;
}

// --- acceptor side -----------------------------------------------------------------------

/**
 * What an acceptor answers instead of taking a message for `inst` under `ballot`: the commit,
 * if it is committed here; a nack, if a higher ballot was promised; nothing to refuse otherwise.
 */
function refusal(
  from: string,
  inst: InstanceKey,
  ballot: Ballot,
  rec: InstanceRecord | undefined,
): Effect[] | undefined {
  if (rec?.status === 'committed') return [commitMsgTo(from, inst, rec)];
  if (rec && compareBallots(rec.bal, ballot) > 0) return [nack(from, inst, ballot, rec.bal)];
  return undefined;
}

function onPreaccept(
  s: ReplicaState,
  from: string,
  msg: Extract<EpaxosMsg, { type: 'preaccept' }>,
): Effect[] {
  const { inst, ballot } = msg;
  if (ballot.replica !== from) return [];
  const rec = s.records.get(inst);
  const refused = refusal(from, inst, ballot, rec);
  if (refused) return refused;
  if (rec?.vbal && sameBallot(rec.vbal, ballot)) {
    // A duplicate: the same answer again (an accept under this ballot makes it stale).
    if (rec.status !== 'preaccepted') return [];
    return [
      {
        type: 'send',
        to: from,
        msg: {
          type: 'preaccept_ok',
          inst,
          ballot,
          seq: rec.seq,
          deps: rec.deps,
          unchanged: rec.unchanged,
        },
      },
    ];
  }
  const attrs = localAttrs(s, inst, msg.cmd, msg.seq, msg.deps);
  const unchanged =
    ballot.n === 0 &&
    attrs.seq === msg.seq &&
    isDeepStrictEqual(attrs.deps, sortedUnique(msg.deps));
  const next: InstanceRecord = {
    cmd: msg.cmd,
    seq: attrs.seq,
    deps: attrs.deps,
    status: 'preaccepted',
    bal: ballot,
    vbal: ballot,
    unchanged,
  };
  setRecord(s, inst, next);
  return [
    { type: 'persist', inst, record: copy(next) },
    {
      type: 'send',
      to: from,
      msg: { type: 'preaccept_ok', inst, ballot, seq: attrs.seq, deps: attrs.deps, unchanged },
    },
    ...watch(s, inst),
  ];
}

function onAccept(
  s: ReplicaState,
  from: string,
  msg: Extract<EpaxosMsg, { type: 'accept' }>,
): Effect[] {
  const { inst, ballot } = msg;
  if (ballot.replica !== from) return [];
  const rec = s.records.get(inst);
  const refused = refusal(from, inst, ballot, rec);
  if (refused) return refused;
  const next: InstanceRecord = {
    cmd: msg.cmd,
    seq: msg.seq,
    deps: sortedUnique(msg.deps),
    status: 'accepted',
    bal: ballot,
    vbal: ballot,
    unchanged: false,
  };
  setRecord(s, inst, next);
  return [
    { type: 'persist', inst, record: copy(next) },
    { type: 'send', to: from, msg: { type: 'accept_ok', inst, ballot } },
    ...watch(s, inst),
  ];
}

function onPrepare(
  s: ReplicaState,
  from: string,
  msg: Extract<EpaxosMsg, { type: 'prepare' }>,
): Effect[] {
  const { inst, ballot } = msg;
  if (ballot.replica !== from || ballot.n === 0) return [];
  const rec = s.records.get(inst);
  const refused = refusal(from, inst, ballot, rec);
  if (refused) return refused;
  const next: InstanceRecord = rec
    ? { ...rec, bal: ballot }
    : { cmd: null, seq: 0, deps: [], status: null, bal: ballot, vbal: null, unchanged: false };
  s.records.set(inst, next);
  const report: PrepareReport = {
    cmd: next.cmd,
    seq: next.seq,
    deps: next.deps,
    status: next.status,
    vbal: next.vbal,
    unchanged: next.unchanged,
  };
  // A replica that promised another recoverer stops leading the instance itself.
  const lead = s.leading.get(inst);
  if (lead && compareBallots(lead.ballot, ballot) < 0 && from !== s.me) s.leading.delete(inst);
  return [
    { type: 'persist', inst, record: copy(next) },
    { type: 'send', to: from, msg: { type: 'prepare_ok', inst, ballot, report } },
    ...watch(s, inst),
  ];
}

// --- leader side -------------------------------------------------------------------------

function afterPreacceptReply(s: ReplicaState, inst: InstanceKey, lead: Lead): Effect[] {
  const fast = lead.ballot.n === 0 && lead.original !== null;
  const fastNeeded = (s.mutations.has('majority-fast-quorum') ? s.majority : s.fastQuorum) - 1;
  if (fast && lead.allUnchanged && lead.oks.size >= fastNeeded)
    return commitAsLeader(s, inst, lead, true);
  const settle = !fast || !lead.allUnchanged || lead.oks.size >= fastNeeded;
  if (settle && lead.oks.size + 1 >= s.majority)
    return startAccept(s, inst, lead, lead.cmd, lead.seq, lead.deps);
  return [];
}

function startAccept(
  s: ReplicaState,
  inst: InstanceKey,
  lead: Lead,
  cmd: Command,
  seq: number,
  deps: InstanceKey[],
): Effect[] {
  const rec = s.records.get(inst);
  if (rec && compareBallots(rec.bal, lead.ballot) > 0) {
    s.leading.delete(inst); // this replica itself promised a higher ballot meanwhile
    return watch(s, inst);
  }
  lead.phase = 'accept';
  lead.resends = 0;
  lead.cmd = cmd;
  lead.seq = seq;
  lead.deps = sortedUnique(deps);
  lead.oks = new Set();
  const next: InstanceRecord = {
    cmd,
    seq,
    deps: lead.deps,
    status: 'accepted',
    bal: lead.ballot,
    vbal: lead.ballot,
    unchanged: false,
  };
  setRecord(s, inst, next);
  const effects: Effect[] = [{ type: 'persist', inst, record: copy(next) }];
  if (s.majority <= 1) return [...effects, ...commitAsLeader(s, inst, lead, false)];
  for (const r of others(s))
    effects.push({
      type: 'send',
      to: r,
      msg: { type: 'accept', inst, ballot: lead.ballot, cmd, seq, deps: lead.deps },
    });
  effects.push({ type: 'timer', inst, ballot: lead.ballot, afterMs: RESEND_MS });
  return effects;
}

function commitAsLeader(s: ReplicaState, inst: InstanceKey, lead: Lead, fast: boolean): Effect[] {
  const seq = fast && lead.original ? lead.original.seq : lead.seq;
  const deps = fast && lead.original ? lead.original.deps : lead.deps;
  s.leading.delete(inst);
  const effects = commitHere(s, inst, lead.cmd, seq, deps, fast);
  for (const r of others(s))
    effects.push({ type: 'send', to: r, msg: { type: 'commit', inst, cmd: lead.cmd, seq, deps } });
  return effects;
}

/** Explicit prepare: a ballot above every one seen, sent to every replica (this one too). */
function startRecovery(s: ReplicaState, inst: InstanceKey): Effect[] {
  const rec = s.records.get(inst);
  s.ballotN = Math.max(s.ballotN, rec?.bal.n ?? 0) + 1;
  const ballot: Ballot = { n: s.ballotN, replica: s.me };
  const lead: Lead = {
    ballot,
    phase: 'prepare',
    cmd: rec?.cmd ?? NOOP,
    seq: 0,
    deps: [],
    original: null,
    allUnchanged: false,
    oks: new Set(),
    resends: 0,
    reports: new Map(),
  };
  s.leading.set(inst, lead);
  const effects: Effect[] = [{ type: 'reserve', ballotN: s.ballotN }];
  for (const r of s.replicas)
    effects.push({ type: 'send', to: r, msg: { type: 'prepare', inst, ballot } });
  effects.push({ type: 'timer', inst, ballot, afterMs: RESEND_MS });
  return effects;
}

/**
 * The recovery rule (README, "EPaxos recovery"). With the reports of a majority:
 * 1. a committed report: commit it; 2. accepted reports: the highest ballot's, through Accept;
 * 3. U = replicas other than the command leader L that pre-accepted under L's first ballot
 *    without changing its attributes. |U| >= F: those attributes are safe, through Accept.
 * 4. Fewer than could have made a fast commit (R - (N - FQ) of the R replies from replicas
 *    other than L, FQ the fast quorum): not committed anywhere; PreAccept again (never fast)
 *    with the command, or Accept a no-op if no report knows the command.
 * 5. Otherwise wait for more reports (each one more replica narrows it down).
 */
function decideRecovery(
  s: ReplicaState,
  inst: InstanceKey,
  lead: Lead,
  timedOut: boolean,
): Effect[] {
  if (lead.reports.size < s.majority) return [];
  const reports = [...lead.reports.entries()];
  const committed = reports.find(([, r]) => r.status === 'committed' && r.cmd);
  if (committed) {
    const r = committed[1];
    s.leading.delete(inst);
    const effects = commitHere(s, inst, r.cmd!, r.seq, r.deps, null);
    for (const to of others(s))
      effects.push({
        type: 'send',
        to,
        msg: { type: 'commit', inst, cmd: r.cmd!, seq: r.seq, deps: r.deps },
      });
    return effects;
  }
  let best: PrepareReport | undefined;
  for (const [, r] of reports)
    if (
      r.status === 'accepted' &&
      r.vbal &&
      r.cmd &&
      (!best || compareBallots(r.vbal, best.vbal!) > 0)
    )
      best = r;
  if (best) return startAccept(s, inst, lead, best.cmd!, best.seq, best.deps);
  const leader = parseInstance(inst).replica;
  const fromOthers = reports.filter(([from]) => from !== leader);
  const u = fromOthers.filter(
    ([, r]) =>
      r.status === 'preaccepted' &&
      r.vbal?.n === 0 &&
      r.vbal.replica === leader &&
      r.unchanged &&
      r.cmd,
  );
  if (u.length >= s.f && u.length > 0) {
    const r = u[0]![1];
    return startAccept(s, inst, lead, r.cmd!, r.seq, r.deps);
  }
  // At least fastQuorum - 1 replicas other than L pre-accepted unchanged if C was committed
  // fast; at most N - 1 - R of them did not report.
  if (u.length < fromOthers.length - (s.replicas.length - s.fastQuorum)) {
    const known = reports.find(([, r]) => r.cmd)?.[1].cmd ?? null;
    if (known === null) return startAccept(s, inst, lead, NOOP, 0, []);
    return preacceptAgain(s, inst, lead, known);
  }
  void timedOut; // in between: wait for more reports (the lead timer asks the silent again)
  return [];
}

/** Phase 1 again under a recovery ballot: attributes from a majority, then always Accept. */
function preacceptAgain(s: ReplicaState, inst: InstanceKey, lead: Lead, cmd: Command): Effect[] {
  const rec = s.records.get(inst);
  if (rec && compareBallots(rec.bal, lead.ballot) > 0) {
    s.leading.delete(inst);
    return watch(s, inst);
  }
  const attrs = localAttrs(s, inst, cmd, 0, []);
  lead.phase = 'preaccept';
  lead.resends = 0;
  lead.cmd = cmd;
  lead.seq = attrs.seq;
  lead.deps = attrs.deps;
  lead.oks = new Set();
  lead.allUnchanged = false;
  const next: InstanceRecord = {
    cmd,
    seq: attrs.seq,
    deps: attrs.deps,
    status: 'preaccepted',
    bal: lead.ballot,
    vbal: lead.ballot,
    unchanged: false,
  };
  setRecord(s, inst, next);
  const effects: Effect[] = [{ type: 'persist', inst, record: copy(next) }];
  for (const r of others(s))
    effects.push({
      type: 'send',
      to: r,
      msg: { type: 'preaccept', inst, ballot: lead.ballot, cmd, seq: attrs.seq, deps: attrs.deps },
    });
  effects.push({ type: 'timer', inst, ballot: lead.ballot, afterMs: RESEND_MS });
  effects.push(...afterPreacceptReply(s, inst, lead));
  return effects;
}

function onLeadTimer(s: ReplicaState, inst: InstanceKey, ballot: Ballot): Effect[] {
  const lead = s.leading.get(inst);
  if (!lead || !sameBallot(lead.ballot, ballot)) return [];
  const effects: Effect[] = [];
  if (lead.phase === 'preaccept') {
    // The fast quorum did not answer in time: a majority will do (slow path).
    if (lead.ballot.n === 0 && lead.allUnchanged && lead.oks.size + 1 >= s.majority) {
      lead.allUnchanged = false;
      return startAccept(s, inst, lead, lead.cmd, lead.seq, lead.deps);
    }
    for (const r of others(s))
      if (!lead.oks.has(r))
        effects.push({
          type: 'send',
          to: r,
          msg: {
            type: 'preaccept',
            inst,
            ballot,
            cmd: lead.cmd,
            seq: lead.original?.seq ?? lead.seq,
            deps: lead.original?.deps ?? lead.deps,
          },
        });
  } else if (lead.phase === 'accept') {
    for (const r of others(s))
      if (!lead.oks.has(r))
        effects.push({
          type: 'send',
          to: r,
          msg: { type: 'accept', inst, ballot, cmd: lead.cmd, seq: lead.seq, deps: lead.deps },
        });
  } else {
    for (const r of s.replicas)
      if (!lead.reports.has(r))
        effects.push({ type: 'send', to: r, msg: { type: 'prepare', inst, ballot } });
  }
  const afterMs = Math.min(RESEND_MS * 2 ** lead.resends, RESEND_MAX_MS);
  lead.resends++;
  effects.push({ type: 'timer', inst, ballot, afterMs });
  return effects;
}

function onWatch(s: ReplicaState, inst: InstanceKey): Effect[] {
  s.watched.delete(inst);
  s.asked.delete(inst);
  if (done(s, inst) || s.leading.has(inst)) return [];
  const owner = parseInstance(inst).replica;
  const p = s.patience.get(inst);
  if (beyondFence(s, inst)) return [...ask(s, inst), ...watch(s, inst)]; // the next configuration's
  if (p && owner !== s.me && (s.heard.get(owner) ?? 0) > p.heard && p.tries < WATCH_PATIENCE) {
    p.tries++; // its leader is alive: let it finish, ask again meanwhile
    return [...ask(s, inst), ...watch(s, inst)];
  }
  if (p) p.tries++;
  return startRecovery(s, inst);
}

/**
 * A leader numbers its instances 0, 1, 2...: knowing R.n, the instances of R below it that
 * this replica never heard of (a lost commit) are watched, so that they are learned (a
 * prepare finds them committed) or recovered. At most GAP_WATCH_MAX per event; later
 * messages from R go on from there.
 */
function watchGaps(s: ReplicaState, inst: InstanceKey): Effect[] {
  const { replica, n } = parseInstance(inst);
  if (!s.replicas.includes(replica) || replica === s.me) return [];
  const from = (s.seenUpTo.get(replica) ?? -1) + 1;
  if (n < from) return [];
  // Up to n itself: a message may name an instance without leaving a record of it here (a
  // stale reply, another replica's ask).
  const to = Math.min(n, from + GAP_WATCH_MAX - 1);
  s.seenUpTo.set(replica, to);
  const effects: Effect[] = [];
  for (let m = from; m <= to; m++) {
    const gap = instanceKey(replica, m);
    if (!s.records.has(gap) && !s.executed.has(gap)) effects.push(...ask(s, gap), ...watch(s, gap));
  }
  return effects;
}

/**
 * Asks the others for an instance's commit, without a ballot: most instances a replica misses
 * were committed elsewhere (a lost commit, a restart). The watch recovers it if nobody answers.
 */
function ask(s: ReplicaState, inst: InstanceKey): Effect[] {
  if (done(s, inst) || s.asked.has(inst)) return [];
  s.asked.add(inst);
  return others(s).map((to) => ({ type: 'send', to, msg: { type: 'ask', inst } }));
}

/** Arms a recovery timer for an instance not committed here (once at a time). */
function watch(s: ReplicaState, inst: InstanceKey): Effect[] {
  if (done(s, inst) || s.watched.has(inst)) return [];
  s.watched.add(inst);
  const owner = parseInstance(inst).replica;
  const i = s.replicas.indexOf(s.me);
  const o = Math.max(0, s.replicas.indexOf(owner));
  const rank = (i - o + s.replicas.length) % s.replicas.length;
  const p = s.patience.get(inst) ?? { heard: 0, tries: 0 };
  p.heard = s.heard.get(owner) ?? 0;
  s.patience.set(inst, p);
  const afterMs = RECOVER_MS * (1 + rank) * 2 ** Math.min(p.tries, WATCH_PATIENCE);
  return [{ type: 'timer', inst, ballot: null, afterMs }];
}

// --- commit and execution ----------------------------------------------------------------

function commitHere(
  s: ReplicaState,
  inst: InstanceKey,
  cmd: Command,
  seq: number,
  depsIn: InstanceKey[],
  fast: boolean | null,
): Effect[] {
  const deps = sortedUnique(depsIn);
  const known = s.committed.get(inst);
  if (known) {
    if (
      known.seq !== seq ||
      !isDeepStrictEqual(known.deps, deps) ||
      !isDeepStrictEqual(known.cmd, cmd)
    )
      throw new InvariantError(`instance ${inst} committed twice with different attributes`);
    return [];
  }
  if (s.executed.has(inst)) return []; // executed before the last restart, record trimmed or not
  const prev = s.records.get(inst);
  const rec: InstanceRecord = {
    cmd,
    seq,
    deps,
    status: 'committed',
    bal: prev?.bal ?? { n: 0, replica: parseInstance(inst).replica },
    vbal: prev?.vbal ?? null,
    unchanged: false,
  };
  setRecord(s, inst, rec);
  s.committed.set(inst, { cmd, seq, deps });
  s.watched.delete(inst);
  s.asked.delete(inst);
  s.patience.delete(inst);
  const gaps: Effect[] = [];
  for (const d of deps) gaps.push(...watchGaps(s, d));
  const lead = s.leading.get(inst);
  if (lead) s.leading.delete(inst);
  return [
    { type: 'persist', inst, record: copy(rec) },
    { type: 'committed', inst, cmd, seq, deps, fast },
    ...gaps,
    ...tryExecute(s, inst),
  ];
}

/** Executes what became executable from `inst` and from what waited for it. */
function tryExecute(s: ReplicaState, inst: InstanceKey): Effect[] {
  const effects: Effect[] = [];
  const queue = [inst];
  while (queue.length > 0) {
    const start = queue.shift()!;
    const plan = planExecution(start, s.committed, s.executed);
    if (!plan.ok) {
      const w = s.waiters.get(plan.missing);
      if (w) w.add(start);
      else s.waiters.set(plan.missing, new Set([start]));
      effects.push(...ask(s, plan.missing), ...watch(s, plan.missing));
      continue;
    }
    for (const key of plan.order) {
      const c = s.committed.get(key)!;
      s.executed.add(key);
      for (const k of c.cmd.keys) {
        s.pendingByKey.get(k)?.delete(key);
        s.lastExecutedByKey.set(k, key);
      }
      if (!(s.mutations.has('execute-before-commit') && parseInstance(key).replica === s.me))
        effects.push({ type: 'execute', inst: key, cmd: c.cmd });
      const waiting = s.waiters.get(key);
      if (waiting) {
        s.waiters.delete(key);
        for (const w of waiting) if (!s.executed.has(w)) queue.push(w);
      }
    }
    s.sinceCheckpoint += plan.order.length;
  }
  if (s.checkpointEvery > 0 && s.sinceCheckpoint >= s.checkpointEvery)
    effects.push(...checkpoint(s));
  return effects;
}

/**
 * A checkpoint of what is executed now (the application snapshots its state beside it), then,
 * once it is durable, the others are told what it covers, and what every replica's covers is
 * trimmed.
 */
function checkpoint(s: ReplicaState): Effect[] {
  s.sinceCheckpoint = 0;
  const cp: Checkpoint = {
    executed: s.executed.summary(),
    lastByKey: Object.fromEntries(s.lastExecutedByKey),
  };
  s.checkpointed.set(s.me, cp.executed.upTo);
  const effects: Effect[] = [{ type: 'checkpoint', checkpoint: cp }];
  for (const to of others(s))
    effects.push({
      type: 'send',
      to,
      msg: { type: 'checkpointed', inst: '', upTo: cp.executed.upTo },
    });
  effects.push(...trim(s));
  return effects;
}

/**
 * Drops the records every replica's durable checkpoint covers: no replica needs them again (a
 * restarted one starts from its checkpoint, at least as recent). One that never told its
 * checkpoint holds the trimming back.
 */
function trim(s: ReplicaState): Effect[] {
  const own = s.checkpointed.get(s.me);
  if (!own) return [];
  const mine = s.mutations.has('trim-own-checkpoint'); // broken on purpose: others may lag
  if (!mine && s.replicas.some((r) => !s.checkpointed.has(r))) return [];
  const insts: InstanceKey[] = [];
  for (const leader of s.replicas) {
    let bound = own[leader] ?? -1;
    if (!mine)
      for (const r of s.replicas) bound = Math.min(bound, s.checkpointed.get(r)![leader] ?? -1);
    for (let n = (s.trimmedUpTo.get(leader) ?? -1) + 1; n <= bound; n++) {
      const inst = instanceKey(leader, n);
      if (s.records.delete(inst)) insts.push(inst);
      s.committed.delete(inst);
    }
    if (bound > (s.trimmedUpTo.get(leader) ?? -1)) s.trimmedUpTo.set(leader, bound);
  }
  return insts.length > 0 ? [{ type: 'trim', insts }] : [];
}

// --- attributes --------------------------------------------------------------------------

/**
 * The attributes this replica gives `cmd` in `inst`: the given ones, plus every instance it
 * knows that touches one of the command's keys and is not executed here, plus the last one
 * executed per key (which reaches every earlier one through its own dependencies).
 */
function localAttrs(
  s: ReplicaState,
  inst: InstanceKey,
  cmd: Command,
  seq0: number,
  deps0: readonly InstanceKey[],
): { seq: number; deps: InstanceKey[] } {
  const deps = new Set(deps0);
  const local: InstanceKey[] = [];
  // ALL_KEYS interferes with every key; every command interferes with ALL_KEYS.
  const keys = cmd.keys.includes(ALL_KEYS)
    ? new Set([...s.pendingByKey.keys(), ...s.lastExecutedByKey.keys()])
    : cmd.keys.length > 0
      ? [...cmd.keys, ALL_KEYS]
      : [];
  for (const k of keys) {
    for (const other of s.pendingByKey.get(k) ?? [])
      if (other !== inst && !deps.has(other)) local.push(other);
    const last = s.lastExecutedByKey.get(k);
    if (last !== undefined && last !== inst && !deps.has(last)) local.push(last);
  }
  if (s.mutations.has('drop-dependency') && local.length > 0) local.pop(); // broken on purpose
  for (const d of local) deps.add(d);
  let seq = seq0;
  for (const d of deps) {
    const rec = s.records.get(d);
    if (rec?.cmd && rec.status !== null) seq = Math.max(seq, rec.seq + 1);
  }
  return { seq, deps: sortedUnique([...deps]) };
}

/** Keeps the per-key index in step with what the instance holds now. */
function setRecord(s: ReplicaState, inst: InstanceKey, rec: InstanceRecord): void {
  const prev = s.records.get(inst);
  if (
    prev?.cmd &&
    rec.cmd &&
    prev.cmd !== rec.cmd &&
    !isDeepStrictEqual(prev.cmd.keys, rec.cmd.keys)
  ) {
    for (const k of prev.cmd.keys) s.pendingByKey.get(k)?.delete(inst);
  }
  s.records.set(inst, rec);
  if (rec.cmd) index(s, inst, rec.cmd);
}

function index(s: ReplicaState, inst: InstanceKey, cmd: Command): void {
  if (s.executed.has(inst) || isNoop(cmd)) return;
  for (const k of cmd.keys) {
    const set = s.pendingByKey.get(k);
    if (set) set.add(inst);
    else s.pendingByKey.set(k, new Set([inst]));
  }
}

/** Merges a reply's attributes into the lead's; true if they added anything. */
function mergeAttrs(lead: Lead, seq: number, deps: readonly InstanceKey[]): boolean {
  let changed = false;
  if (seq > lead.seq) {
    lead.seq = seq;
    changed = true;
  }
  const all = new Set(lead.deps);
  for (const d of deps)
    if (!all.has(d)) {
      all.add(d);
      changed = true;
    }
  if (changed) lead.deps = sortedUnique([...all]);
  return changed;
}

// --- helpers -----------------------------------------------------------------------------

function leadAt(
  s: ReplicaState,
  inst: InstanceKey,
  ballot: Ballot,
  phase: Lead['phase'],
): Lead | undefined {
  const lead = s.leading.get(inst);
  if (!lead || lead.phase !== phase || !sameBallot(lead.ballot, ballot)) return undefined;
  return lead;
}

/** Committed here, or executed before a restart (its record maybe trimmed since). */
function done(s: ReplicaState, inst: InstanceKey): boolean {
  return s.committed.has(inst) || s.executed.has(inst);
}

function others(s: ReplicaState): string[] {
  return s.replicas.filter((r) => r !== s.me);
}

function nack(to: string, inst: InstanceKey, ballot: Ballot, promised: Ballot): Effect {
  return { type: 'send', to, msg: { type: 'nack', inst, ballot, promised } };
}

function commitMsgTo(to: string, inst: InstanceKey, rec: InstanceRecord): Effect {
  return {
    type: 'send',
    to,
    msg: { type: 'commit', inst, cmd: rec.cmd!, seq: rec.seq, deps: rec.deps },
  };
}

function sortedUnique(xs: readonly InstanceKey[]): InstanceKey[] {
  return [...new Set(xs)].sort();
}

function copy(rec: InstanceRecord): InstanceRecord {
  return { ...rec, deps: [...rec.deps] };
}
