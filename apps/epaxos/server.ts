// One EPaxos replica as a thin actor around the pure core (replica.ts): receive -> replicaStep ->
// writes issued, every later effect after their flush (held.ts) -> sends, timers, execution.
//
// Registered globally as `epaxos:<partition>:<replica>`: its peers, on this node or others, send
// to that name; a peer not registered (down, being restarted) misses the message and the core
// sends it again. A restart (its supervisor's, after a crash or an InvariantError) loads the
// durable records and the last checkpoint, restores the machine from the checkpoint's snapshot
// (or starts from its empty state without one) and executes the committed commands the
// checkpoint does not cover.
//
// Commands are applied to the machine as the core's `execute` effects are handed over, in the
// core's order; their callers are answered once the writes before them are flushed. So a
// `checkpoint` effect snapshots exactly what the core says is executed.
import {
  ActorError,
  type CallMessage,
  type From,
  Global,
  isCall,
  logger,
  nodeName,
  receive,
  recordEvent,
  registerProbe,
  reply,
  self,
  send,
  sendAfter,
  TIMEOUT,
} from '../../actors/index.ts';
import { Held, type WriteFailed } from '../paxos/held.ts';
import type { StorageOptions } from '../paxos/storage.ts';
import { remember, requestId } from '../rsm/machine.ts';
import { ExecutedSet } from './executed.ts';
import type { EpaxosMachine } from './machine.ts';
import {
  type Ballot,
  type Command,
  type Effect,
  type EpaxosMsg,
  type InstanceKey,
  isNoop,
} from './messages.ts';
import {
  ALL_KEYS,
  createReplica,
  drained,
  type ReplicaState,
  replicaStep,
  restartEffects,
} from './replica.ts';
import { durableState, openEpaxosStore, type StoredCheckpoint } from './storage.ts';

/** The global name of replica `replica` of partition `partitionId`. */
export const serverName = (partitionId: string, replica: string) =>
  `epaxos:${partitionId}:${replica}`;

/** Commands proposed in one burst share an instance: at most this many. */
const BATCH_MAX = 256;
/** The id of an instance's command that carries several (`op: { $batch: [...] }`). */
const BATCH_PREFIX = 'batch:';
interface BatchOp {
  $batch: Command[];
}

/** The commands a batch carries, or undefined for a single command. */
export function batchOf(cmd: Command): Command[] | undefined {
  return cmd.id.startsWith(BATCH_PREFIX) ? (cmd.op as BatchOp).$batch : undefined;
}

/** Results remembered per replica for callers that ask again (a retry after a restart). */
const RESULTS_MAX = 100_000;
/**
 * Results a checkpoint keeps (the latest): enough for callers retrying across a restart, small
 * enough that a checkpoint does not grow with them.
 */
const SNAPSHOT_RESULTS_MAX = 1000;
/** Recent commits a replica shows observers (the live cluster view). */
export const RECENT_MAX = 50;
/** Dependencies shown per message event (the rest are counted). */
const EVENT_DEPS_MAX = 8;

/** An operation as observers show it: JSON, cut to 80 characters. */
function shortOp(op: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(op) ?? String(op);
  } catch {
    text = String(op);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What one replica process runs with (EPaxos.init builds it). */
export interface ServerConfig {
  partitionId: string;
  me: string;
  replicas: string[];
  machine: EpaxosMachine;
  storage: Required<StorageOptions>;
  /** Checkpoint every this many executions (0: never; also never for a machine without snapshot). */
  checkpointEvery: number;
}

/** What the replica snapshots beside the core's checkpoint. */
interface ShellSnapshot {
  machine: unknown;
  /**
   * Command ids executed (a retry of one is not applied again: the same at every replica, so
   * kept whole; it grows with the commands, see the README) and the latest results.
   */
  ids: string[];
  results: Array<[string, Outcome]>;
}

/** A message between replicas of one partition. */
export interface EpaxosEnvelope {
  type: 'epaxos';
  from: string;
  msg: EpaxosMsg;
}

interface TimerMessage {
  type: 'epaxos_timer';
  inst: InstanceKey;
  ballot: Ballot | null;
}

/**
 * Calls a replica answers. `raw`: answer with the result itself, or `{ rsmError }`, as a
 * replicated service's replica does (apps/rsm/epaxos-front.ts forwards its callers' calls here).
 */
export type ServerRequest =
  | { op: 'propose'; cmd: Command; raw?: boolean }
  | { op: 'status' }
  // A replica joins (EPaxos.join, index.ts): stop proposing (callers wait), and answer with the
  // last instance this replica led and its configuration...
  | { op: 'fence' }
  // ...learn or recover every instance up to the fences, and say when all are executed...
  | { op: 'drain'; upTo: Record<string, number> }
  | { op: 'drained'; upTo: Record<string, number> }
  // ...checkpoint now (the joining replica starts from it)...
  | { op: 'checkpoint' }
  // ...then either take the new configuration (the replica restarts in it) or go back.
  | { op: 'switch'; replicas: string[] }
  | { op: 'unfence' };

/** The answer to `fence`. */
export interface FenceReply {
  frontier: number;
  replicas: string[];
}

/** An outcome in the shape the services' client expects (apps/rsm/client.ts submit). */
function rawOutcome(o: Outcome): unknown {
  if (o.ok) return o.result;
  return {
    rsmError: {
      code: o.error === 'timeout' ? 'timeout' : 'invalid_argument',
      message: o.error === 'apply_failed' ? o.message : o.error,
    },
  };
}

/** What a command comes to: its result, or why there is none. */
export type Outcome =
  | { ok: true; result: unknown }
  | { ok: false; error: 'exceed_failure_tolerant' | 'timeout' }
  /** The machine threw (at every replica alike: it is deterministic); the state stays as it left it. */
  | { ok: false; error: 'apply_failed'; message: string };

/** A commit this replica saw, as observers show it. */
export interface RecentCommit {
  inst: InstanceKey;
  /** The command's id, keys and operation (JSON, cut to 80 characters). */
  id: string;
  keys: string[];
  op: string;
  seq: number;
  deps: InstanceKey[];
  /** Led here, on the fast path or the slow one (Accept); or learned from another replica. */
  path: 'fast' | 'slow' | 'learned';
  /** When it was committed here (ms since the epoch). */
  at: number;
}

/** A replica's view, for observers (counts since this incarnation started, unless noted). */
export interface EpaxosStatus {
  partitionId: string;
  replica: string;
  replicas: string[];
  instances: {
    /** Instances this replica holds a record of (durable, over every incarnation). */
    known: number;
    committed: number;
    executed: number;
    /** Instances this replica is leading now (its own, or recoveries). */
    leading: number;
  };
  /** Commits led here: on the fast path, on the slow path (Accept); learned from others. */
  commits: { fast: number; slow: number; learned: number };
  /** Explicit prepares started here. */
  recoveries: number;
  /**
   * Checkpoints written and records trimmed (this incarnation), and how many instances the
   * last durable checkpoint (of any incarnation) covers.
   */
  checkpoints: { written: number; trimmed: number; covers: number };
  /** Local callers waiting for a command to execute. */
  waiting: number;
  /** The last RECENT_MAX commits seen here (this incarnation), oldest first. */
  recent: RecentCommit[];
  /** The machine's describe(state), if it has one. */
  machine?: unknown;
}

/** The replica process (its supervisor restarts it). */
export async function epaxosServer(config: ServerConfig): Promise<void> {
  const { partitionId, me, machine } = config;
  const name = serverName(partitionId, me);
  const mePid = self();
  const log = logger().child({ partition: partitionId, replica: me, pid: String(mePid) });
  const store = openEpaxosStore(partitionId, me, config.storage);
  const checkpointEvery = machine.snapshot && machine.restore ? config.checkpointEvery : 0;
  // A replica joined since this one was started: the configuration kept with the data wins.
  const kept = store.members;
  const replicas =
    kept &&
    (kept.length !== config.replicas.length || kept.some((r) => !config.replicas.includes(r)))
      ? kept
      : config.replicas;
  let core: ReplicaState = createReplica(me, replicas, durableState(store), { checkpointEvery });

  const saved = store.checkpoint?.snapshot as ShellSnapshot | undefined;
  const state = saved && machine.restore ? machine.restore(saved.machine) : machine.empty();
  /** Command ids executed here (a command proposed twice, a retry, is applied once). */
  const executedIds = new Set<string>(saved?.ids);
  const results = new Map<string, Outcome>(saved?.results);
  /** The instance each command id was last written to here (a retry waits for it). */
  const instanceOf = new Map<string, InstanceKey>();
  for (const [inst, rec] of store.records) if (rec.cmd?.id) instanceOf.set(rec.cmd.id, inst);
  const waiters = new Map<string, Array<{ from: From; raw: boolean }>>();
  /** Commands proposed here that wait for the mailbox to run empty, to share one instance. */
  const batch: Command[] = [];
  const batchIds = new Set<string>();
  const counts = { fast: 0, slow: 0, learned: 0, recoveries: 0, checkpoints: 0, trimmed: 0 };
  /** The recent commits, operations kept as they are (made text when an observer asks). */
  const recent: Array<Omit<RecentCommit, 'op'> & { op: unknown }> = [];
  const node = nodeName();

  const sendTo = (to: string, msg: EpaxosMsg): void => {
    // For the live view's sequence diagram: one small event per message, in a bounded ring.
    recordEvent('epaxos', {
      node,
      partition: partitionId,
      from: me,
      to,
      type: msg.type,
      inst: msg.inst,
      ...('ballot' in msg ? { ballot: `${msg.ballot.n}.${msg.ballot.replica}` } : {}),
      ...('seq' in msg ? { instSeq: msg.seq } : {}), // not 'seq': the ring's own field
      ...('deps' in msg
        ? { deps: msg.deps.slice(0, EVENT_DEPS_MAX), depsCount: msg.deps.length }
        : {}),
      ...('cmd' in msg ? { cmd: msg.cmd.id } : {}),
    });
    const envelope: EpaxosEnvelope = { type: 'epaxos', from: me, msg };
    const pid = to === me ? mePid : Global.whereis(serverName(partitionId, to));
    if (!pid) return; // not registered (yet): the core sends it again
    try {
      send(pid, envelope);
    } catch (err) {
      if (!(err instanceof ActorError)) throw err; // unreachable: as lost
    }
  };

  /** The commands an instance carries: one, a batch's, or none (a no-op). */
  const commandsOf = (cmd: Command): Command[] =>
    isNoop(cmd) || cmd.id === '' ? [] : (batchOf(cmd) ?? [cmd]);

  /** Applies the command to the machine (once per id), as the core hands its execution over. */
  const apply = (cmd: Command): void => {
    if (executedIds.has(cmd.id)) return;
    executedIds.add(cmd.id);
    let outcome: Outcome;
    try {
      outcome = { ok: true, result: machine.apply(state, cmd.op, cmd) };
    } catch (err) {
      outcome = { ok: false, error: 'apply_failed', message: String(err) };
    }
    remember(results, cmd.id, outcome, RESULTS_MAX);
  };

  /** Answers the command's callers (once the writes before its execution are flushed). */
  const answer = (cmd: Command): void => {
    const list = waiters.get(cmd.id);
    if (!list) return;
    waiters.delete(cmd.id);
    // A duplicate whose result was forgotten (RESULTS_MAX) answers without one.
    const o: Outcome = results.get(cmd.id) ?? { ok: true, result: undefined };
    for (const w of list) reply(w.from, w.raw ? rawOutcome(o) : o);
  };

  const issue = (e: Effect): Promise<unknown> | undefined => {
    if (e.type === 'persist') {
      const cmd = e.record.cmd;
      if (cmd?.id) instanceOf.set(cmd.id, e.inst);
      for (const sub of (cmd && batchOf(cmd)) ?? []) instanceOf.set(sub.id, e.inst);
      return store.persistRecord(e.inst, e.record);
    }
    if (e.type === 'reserve') {
      counts.recoveries++;
      return store.persistBallot(e.ballotN);
    }
    if (e.type === 'execute') {
      for (const cmd of commandsOf(e.cmd)) apply(cmd);
      return undefined;
    }
    if (e.type === 'checkpoint') {
      counts.checkpoints++;
      const snapshot: ShellSnapshot = {
        machine: machine.snapshot!(state),
        ids: [...executedIds],
        results: [...results].slice(-SNAPSHOT_RESULTS_MAX),
      };
      return store.persistCheckpoint({
        checkpoint: e.checkpoint,
        snapshot,
      } satisfies StoredCheckpoint);
    }
    if (e.type === 'trim') {
      counts.trimmed += e.insts.length;
      return store.trim(e.insts);
    }
    return undefined;
  };

  const carryOut = (e: Effect): void => {
    switch (e.type) {
      case 'send':
        sendTo(e.to, e.msg);
        break;
      case 'timer':
        sendAfter(
          mePid,
          { type: 'epaxos_timer', inst: e.inst, ballot: e.ballot } satisfies TimerMessage,
          e.afterMs,
        );
        break;
      case 'committed': {
        const path = e.fast === true ? 'fast' : e.fast === false ? 'slow' : 'learned';
        counts[path]++;
        recent.push({
          inst: e.inst,
          id: e.cmd.id,
          keys: e.cmd.keys,
          op: e.cmd.op,
          seq: e.seq,
          deps: e.deps,
          path,
          at: Date.now(),
        });
        if (recent.length > RECENT_MAX) recent.shift();
        break;
      }
      case 'execute':
        for (const cmd of commandsOf(e.cmd)) answer(cmd);
        break;
      case 'persist':
      case 'reserve':
      case 'checkpoint':
      case 'trim':
        break;
      default:
        e satisfies never;
    }
  };

  const held = new Held<Effect>(issue, carryOut);

  const status = (): EpaxosStatus => ({
    partitionId,
    replica: me,
    replicas: [...core.replicas],
    instances: {
      known: core.records.size,
      committed: core.committed.size,
      executed: core.executed.size,
      leading: core.leading.size,
    },
    commits: { fast: counts.fast, slow: counts.slow, learned: counts.learned },
    recoveries: counts.recoveries,
    checkpoints: {
      written: counts.checkpoints,
      trimmed: counts.trimmed,
      covers: ExecutedSet.from(store.checkpoint?.checkpoint.executed).size,
    },
    waiting: [...waiters.values()].reduce((n, list) => n + list.length, 0),
    recent: recent.map((c) => ({ ...c, op: shortOp(c.op) })),
    ...(machine.describe ? { machine: machine.describe(state) } : {}),
  });

  /** While a replica joins: the commands proposed here, proposed once the join is over. */
  let fenced: Array<{ cmd: Command; from: From; raw: boolean }> | null = null;

  /** The join is over (or given up): propose what waited. */
  const releaseFenced = (): void => {
    const waiting = fenced ?? [];
    fenced = null;
    for (const w of waiting) propose(w.cmd, w.from, w.raw);
  };

  const propose = (cmd: Command, from: From, raw: boolean): void => {
    if (fenced && !executedIds.has(cmd.id)) {
      fenced.push({ cmd, from, raw });
      return;
    }
    if (executedIds.has(cmd.id)) {
      const outcome = results.get(cmd.id) ?? { ok: true, result: undefined };
      held.after(() => reply(from, raw ? rawOutcome(outcome) : outcome));
      return;
    }
    const list = waiters.get(cmd.id);
    if (list) list.push({ from, raw });
    else waiters.set(cmd.id, [{ from, raw }]);
    // Proposed here before (this incarnation or one before it): its instance is committed or
    // recovered in time; a second instance would only be skipped at execution.
    const inst = instanceOf.get(cmd.id);
    const there = inst === undefined ? undefined : core.records.get(inst)?.cmd;
    if (there && (there.id === cmd.id || batchOf(there)?.some((c) => c.id === cmd.id))) return;
    if (batchIds.has(cmd.id)) return;
    batch.push(cmd);
    batchIds.add(cmd.id);
    if (batch.length >= BATCH_MAX) proposeBatch();
  };

  /**
   * The commands proposed since the mailbox was last empty, in at most two instances: those
   * whose keys no instance pending here touches, and the others. An instance's keys are all of
   * its commands' (it is ordered with whatever interferes with any of them), its op the list:
   * kept apart, the commands on contended keys do not drag the rest off the fast path.
   */
  const proposeBatch = (): void => {
    if (batch.length === 0) return;
    const cmds = batch.splice(0);
    batchIds.clear();
    const contended = (c: Command) =>
      c.keys.some((k) => k === ALL_KEYS || (core.pendingByKey.get(k)?.size ?? 0) > 0);
    const busy = cmds.filter(contended);
    const free = busy.length === 0 ? cmds : cmds.filter((c) => !contended(c));
    for (const group of [free, busy]) {
      if (group.length === 0) continue;
      const cmd: Command =
        group.length === 1
          ? group[0]!
          : {
              id: `${BATCH_PREFIX}${requestId()}`,
              keys: [...new Set(group.flatMap((c) => c.keys))],
              op: { $batch: group } satisfies BatchOp,
            };
      held.run(replicaStep(core, { type: 'propose', cmd }));
    }
  };

  registerProbe('epaxos', mePid, status);
  if (!(await Global.register(name, mePid)))
    throw new ActorError('name_taken', `an EPaxos replica named '${name}' is already registered`);
  log.debug({ records: store.records.size }, 'epaxos replica started');
  held.run(restartEffects(core));

  for (;;) {
    // With commands waiting for a batch: take what the mailbox holds, then propose them.
    const m =
      batch.length > 0
        ? await receive<EpaxosEnvelope | TimerMessage | WriteFailed | CallMessage>(null, 0)
        : await receive<EpaxosEnvelope | TimerMessage | WriteFailed | CallMessage>();
    held.check();
    if (m === TIMEOUT) {
      proposeBatch();
      continue;
    }
    if (isCall(m)) {
      const req = m.request as ServerRequest;
      if (req.op === 'propose') propose(req.cmd, m.from, req.raw === true);
      else if (req.op === 'status') reply(m.from, status());
      else if (req.op === 'fence') {
        proposeBatch(); // what was asked before the fence is in this configuration
        fenced ??= [];
        reply(m.from, {
          frontier: core.nextN - 1,
          replicas: [...core.replicas],
        } satisfies FenceReply);
      } else if (req.op === 'drain') {
        held.run(replicaStep(core, { type: 'drain', upTo: req.upTo }));
        reply(m.from, 'ok');
      } else if (req.op === 'drained') {
        reply(m.from, drained(core, req.upTo));
      } else if (req.op === 'checkpoint') {
        if (checkpointEvery === 0 && !(machine.snapshot && machine.restore))
          reply(m.from, { error: 'the machine has no snapshot() and restore()' });
        else {
          held.run(replicaStep(core, { type: 'checkpoint_now' }));
          const from = m.from;
          held.after(() => reply(from, store.checkpoint));
        }
      } else if (req.op === 'unfence') {
        held.run(replicaStep(core, { type: 'unfence' }));
        releaseFenced();
        reply(m.from, 'ok');
      } else if (req.op === 'switch') {
        // Everything is executed (drained): checkpoint it, so that the core rebuilt in the new
        // configuration from the disk starts where the machine is, then take the configuration
        // durably, and propose what waited.
        if (machine.snapshot && machine.restore)
          held.run(replicaStep(core, { type: 'checkpoint_now' }));
        await store.reconfigure(req.replicas);
        await held.drained();
        core = createReplica(me, req.replicas, durableState(store), { checkpointEvery });
        held.run(restartEffects(core));
        log.info({ replicas: req.replicas }, 'epaxos replica reconfigured');
        releaseFenced();
        reply(m.from, 'ok');
      }
    } else if (m.type === 'epaxos') {
      held.run(replicaStep(core, { type: 'receive', from: m.from, msg: m.msg }));
    } else if (m.type === 'epaxos_timer') {
      held.run(replicaStep(core, { type: 'timer', inst: m.inst, ballot: m.ballot }));
    }
    if (held.full) await held.drained();
  }
}
