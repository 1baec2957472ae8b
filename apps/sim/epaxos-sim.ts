// A deterministic simulation of the EPaxos core (apps/epaxos/replica.ts): N nodes each run the
// shipping replica core under the Paxos simulator's network, disks, faults and virtual time.
//
// Nothing of EPaxos is re-implemented here: the simulator carries the core's effects (messages,
// disk writes, timers) as an actor shell would, and watches what it commits and executes. Every
// random choice comes from one seeded generator, and events at the same virtual time run in the
// order they were scheduled: same seed, same run.

import { seededRandom } from '../../transport/faults.ts';
import { ExecutedSet } from '../epaxos/executed.ts';
import {
  type Ballot,
  type Checkpoint,
  type Command,
  type Effect,
  type EpaxosMsg,
  type InstanceKey,
  type InstanceRecord,
  isNoop,
} from '../epaxos/messages.ts';
import {
  createReplica,
  type DurableState,
  drained,
  type EpaxosMutation,
  InvariantError,
  propose,
  type ReplicaEvent,
  type ReplicaState,
  replicaStep,
  restartEffects,
} from '../epaxos/replica.ts';
import { Disk, type DiskFormat } from './disk.ts';
import { lossyNetwork, Partitions, sampleDelay } from './network.ts';
import {
  DEFAULT_SIM,
  type FaultOptions,
  type FaultSimEvent,
  Queue,
  scheduleFaults,
} from './simulator.ts';
import { addDiskStats, percentile, runDigest } from './summary.ts';

export interface EpaxosSimOptions extends FaultOptions {
  /** The probability a command touches the hot key (and so interferes with the others that do). */
  conflict: number;
  /** Each replica checkpoints after this many executions (0: never), and trims records. */
  checkpointEvery: number;
  /**
   * A replica joins (EPaxos.join's steps, on the core) at this virtual time, or as soon after
   * as every replica is up; a crash while it drains undoes it, and it is tried again.
   */
  joinAtMs?: number;
  /** Test only: a deliberately broken core (apps/epaxos/replica.ts), to see it caught. */
  mutate?: EpaxosMutation;
  /** Keep the last N events for a trace on a violation (default 5000). */
  traceKeep?: number;
}

export const DEFAULT_EPAXOS_SIM: Omit<EpaxosSimOptions, 'seed'> = {
  nodes: DEFAULT_SIM.nodes,
  ops: DEFAULT_SIM.ops,
  clients: DEFAULT_SIM.clients,
  conflict: 0.25,
  checkpointEvery: 20,
  delay: DEFAULT_SIM.delay,
  lossP: DEFAULT_SIM.lossP,
  dupP: DEFAULT_SIM.dupP,
  faultMs: DEFAULT_SIM.faultMs,
  crashRate: DEFAULT_SIM.crashRate,
  partitionRate: DEFAULT_SIM.partitionRate,
  powerLossRate: DEFAULT_SIM.powerLossRate,
  powerLossNodes: DEFAULT_SIM.powerLossNodes,
  flush: DEFAULT_SIM.flush,
  schedule: [],
  livenessMs: DEFAULT_SIM.livenessMs,
};

export interface EpaxosSimMetrics {
  virtualMs: number;
  events: number;
  submitted: number;
  /** Commands executed at the replica their client last submitted them to. */
  executed: number;
  retries: number;
  /** Virtual ms from a command's first submission to its execution where it was last submitted. */
  latencyP50: number;
  latencyP99: number;
  /** Instances committed (anywhere), of which committed by their leader on the fast path... */
  committed: number;
  fastPath: number;
  /** ...or after an Accept phase (the leader's slow path, or a recovery's). */
  slowPath: number;
  /** Instances a recovery filled with a no-op. */
  noops: number;
  /** Explicit prepare phases started. */
  recoveries: number;
  /** Checkpoints written (the state machine snapshotted), and records trimmed after them. */
  checkpoints: number;
  trimmed: number;
  /** Restarts that restored a checkpoint (instead of executing everything again). */
  restored: number;
  /** Replicas that joined, and joins undone by a crash while draining. */
  joins: number;
  joinsUndone: number;
  /** Messages between nodes (a node's messages to itself not counted). */
  messages: number;
  dropped: number;
  duplicated: number;
  /** A command id executed again at one replica (a client's retry put it in a second instance). */
  duplicateExecutions: number;
  partitions: number;
  crashes: number;
  powerLosses: number;
  lostWrites: number;
  diskWrites: number;
  flushes: number;
  /** Virtual ms from the end of faults until the last command was executed. */
  settleMs: number;
}

export function emptyEpaxosMetrics(): EpaxosSimMetrics {
  return {
    virtualMs: 0,
    events: 0,
    submitted: 0,
    executed: 0,
    retries: 0,
    latencyP50: 0,
    latencyP99: 0,
    committed: 0,
    fastPath: 0,
    slowPath: 0,
    noops: 0,
    recoveries: 0,
    checkpoints: 0,
    trimmed: 0,
    restored: 0,
    joins: 0,
    joinsUndone: 0,
    messages: 0,
    dropped: 0,
    duplicated: 0,
    duplicateExecutions: 0,
    partitions: 0,
    crashes: 0,
    powerLosses: 0,
    lostWrites: 0,
    diskWrites: 0,
    flushes: 0,
    settleMs: 0,
  };
}

/** The invariants, by the names a violation reports. */
export type EpaxosInvariant =
  | 'committed'
  | 'invariant'
  | 'validity'
  | 'order'
  | 'executed-uncommitted'
  | 'executed-twice'
  | 'checkpoint'
  | 'liveness';

export interface EpaxosSimResult {
  ok: boolean;
  violation?: { kind: EpaxosInvariant; message: string; inst?: InstanceKey; trace: string[] };
  metrics: EpaxosSimMetrics;
  /** A digest of every committed instance and the metrics: equal for equal seeds and options. */
  digest: string;
}

/** A node's state machine as a checkpoint saves it: what it executed, per key in what order. */
interface MachineSnapshot {
  insts: InstanceKey[];
  ids: string[];
  orders: Array<[string, string[]]>;
}

/** The core's effects that write to the disk (a checkpoint with the machine's snapshot). */
type EpaxosEffectWrite = Extract<Effect, { type: 'persist' | 'reserve' | 'checkpoint' | 'trim' }>;
type EpaxosWrite =
  | Exclude<EpaxosEffectWrite, { type: 'checkpoint' }>
  | { type: 'checkpoint'; checkpoint: Checkpoint; machine: MachineSnapshot };
interface EpaxosDurable {
  records: Map<InstanceKey, InstanceRecord>;
  ballotN: number;
  checkpoint?: { checkpoint: Checkpoint; machine: MachineSnapshot };
}

/** Records by instance, the last write winning; the highest ballot number reserved; the last checkpoint. */
const EPAXOS_DISK: DiskFormat<EpaxosDurable, EpaxosWrite> = {
  empty: () => ({ records: new Map(), ballotN: 0 }),
  clone: (d) => ({ records: new Map(d.records), ballotN: d.ballotN, checkpoint: d.checkpoint }),
  apply: (d, w) => {
    switch (w.type) {
      case 'persist':
        d.records.set(w.inst, w.record);
        break;
      case 'reserve':
        d.ballotN = Math.max(d.ballotN, w.ballotN);
        break;
      case 'checkpoint':
        d.checkpoint = { checkpoint: w.checkpoint, machine: w.machine };
        break;
      case 'trim':
        for (const inst of w.insts) d.records.delete(inst);
        break;
    }
  },
};

type Event =
  | { kind: 'msg'; from: string; to: string; msg: EpaxosMsg }
  /** A node's message to itself: never lost, but gone with the life (`epoch`) that sent it. */
  | { kind: 'self'; node: string; epoch: number; msg: EpaxosMsg }
  | { kind: 'timer'; node: string; epoch: number; inst: InstanceKey; ballot: Ballot | null }
  | { kind: 'flush'; node: string; id: number }
  | { kind: 'client_next'; client: number }
  | { kind: 'request'; client: number; to: string; cmd: Command }
  | { kind: 'client_timeout'; client: number; attempt: number }
  | { kind: 'join_start' }
  | { kind: 'join_poll'; upTo: Record<string, number> }
  | FaultSimEvent;

/** One key's commands in the order one life of one replica executed them (first execution). */
interface KeySeq {
  label: string;
  pos: Map<string, number>;
  /**
   * For another sequence Y: the highest position in Y of a command both hold. Two sequences
   * agree on their common commands iff, walking one, the positions in the other only grow; so
   * each append is checked against this bound alone.
   */
  maxIn: Map<KeySeq, number>;
}

/** One simulated node: a life (`epoch`) of the shipping replica core. */
interface SimNode {
  name: string;
  up: boolean;
  /** Bumped at every restart: timers and self-messages of an earlier life are ignored. */
  epoch: number;
  state: ReplicaState;
  /** This life's state machine: instances and command ids executed, per key the order. */
  executedInsts: Set<InstanceKey>;
  /** Instances this life committed (a 'committed' effect) or found committed on its disk. */
  committedHere: Set<InstanceKey>;
  executedIds: Set<string>;
  keySeqs: Map<string, KeySeq>;
}

interface Client {
  cmd: Command | null;
  issuedAt: number;
  attempt: number;
  issued: number;
  /** The replica the current command was last submitted to: its execution there completes it. */
  target: string | null;
}

const HOT = 'hot';
/** A node's message to itself (recovery's prepare) takes this long (virtual ms). */
const SELF_DELAY_MS = 0.01;
/**
 * A client resubmits after this long without its command executed (virtual ms): longer than
 * a recovery usually takes (RECOVER_MS, 150 ms, for the next replica in line), so a retry is the
 * exception, not the rule.
 */
const CLIENT_TIMEOUT_MS = 500;
/** The share of commands with a second key. */
const TWO_KEYS_P = 0.1;

class Violation extends Error {
  constructor(
    readonly kind: EpaxosInvariant,
    message: string,
    readonly inst?: InstanceKey,
    /** Trace lines to show when no instance is concerned: those holding one of these. */
    readonly about: string[] = [],
  ) {
    super(message);
  }
}

function ballotText(b: Ballot | null): string {
  return b ? `${b.n}.${b.replica}` : '-';
}

function cmdText(cmd: Command | null): string {
  if (cmd === null) return 'cmd=?';
  return isNoop(cmd) ? 'cmd=noop' : `cmd=${cmd.id} [${cmd.keys.join(',')}]`;
}

function describeMsg(msg: EpaxosMsg): string {
  const head = `${msg.type} inst=${msg.inst} `;
  const b = 'ballot' in msg ? ` ballot=${ballotText(msg.ballot)}` : '';
  switch (msg.type) {
    case 'preaccept':
    case 'accept':
    case 'commit':
      return `${head}${b} ${cmdText(msg.cmd)} seq=${msg.seq} deps=[${msg.deps.join(',')}]`;
    case 'preaccept_ok':
      return `${head}${b} seq=${msg.seq} deps=[${msg.deps.join(',')}]${msg.unchanged ? ' unchanged' : ''}`;
    case 'prepare_ok': {
      const r = msg.report;
      return `${head}${b} report ${r.status ?? 'none'}@${ballotText(r.vbal)} ${cmdText(r.cmd)} seq=${r.seq} deps=[${r.deps.join(',')}]${r.unchanged ? ' unchanged' : ''}`;
    }
    case 'nack':
      return `${head}${b} promised=${ballotText(msg.promised)}`;
    default:
      return `${head}${b}`;
  }
}

const attrsJson = (cmd: Command, seq: number, deps: readonly InstanceKey[]) =>
  JSON.stringify({ cmd, seq, deps: [...deps].sort() });

/** Runs one simulation. Never throws for a broken invariant: it reports it as a violation. */
export function simulateEpaxos(options: EpaxosSimOptions): EpaxosSimResult {
  const o = { traceKeep: 5000, ...options };
  const random = seededRandom(o.seed);
  const names = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  /** The configuration: `names`, and the replica that joined, once it has. */
  const members = [...names];
  /** While a replica joins, requests wait here (the replicas' callers wait out the fence). */
  let fencedRequests: Array<Extract<Event, { kind: 'request' }>> | null = null;
  const queue = new Queue<Event>();
  let seq = 0;
  let now = 0;
  const schedule = (at: number, event: Event) => queue.push({ at, seq: seq++, event });
  // Trace lines are formatted only if a violation is reported (formatting every event is slow).
  const trace: Array<[number, () => string]> = [];
  const note = (line: () => string) => {
    trace.push([now, line]);
    if (trace.length > o.traceKeep * 2) trace.splice(0, trace.length - o.traceKeep);
  };
  const m = emptyEpaxosMetrics();
  const mutations = new Set<EpaxosMutation>(o.mutate ? [o.mutate] : []);

  // ---- global truth, for the invariants ----
  const submitted = new Map<string, string>(); // command id -> JSON of the command
  const clientOf = new Map<string, number>(); // command id -> its client
  const committed = new Map<InstanceKey, string>(); // inst -> JSON of its first committed attrs
  const seqsByKey = new Map<string, KeySeq[]>();
  const latency: number[] = [];
  let faultsOn = true;
  let faultsEndedAt = 0;
  const partitions = new Partitions();
  const downBy = new Map<string, number>();

  const disks = new Map(names.map((n) => [n, new Disk(random, o.flush, EPAXOS_DISK)]));
  const nodes = new Map<string, SimNode>();
  const boot = (name: string, epoch: number, durable?: DurableState): SimNode => ({
    name,
    up: true,
    epoch,
    state: createReplica(name, members, durable, { mutations, checkpointEvery: o.checkpointEvery }),
    executedInsts: new Set(),
    committedHere: new Set(),
    executedIds: new Set(),
    keySeqs: new Map(),
  });
  for (const name of names) nodes.set(name, boot(name, 0));

  const clients: Client[] = Array.from({ length: o.clients }, () => ({
    cmd: null,
    issuedAt: 0,
    attempt: 0,
    issued: 0,
    target: null,
  }));
  const perClient = Math.ceil(o.ops / o.clients);

  // ---- network ----
  const delay = () => sampleDelay(o.delay, random);
  /** One message over the lossy network (loss and duplication only while faults are on). */
  const network = lossyNetwork<Event>(o, random, m, () => ({ now, faultsOn }), schedule);
  const transmit = (from: string, to: string, msg: EpaxosMsg) =>
    network({ kind: 'msg', from, to, msg });

  // ---- the replica core ----
  /** Steps the node's core: checks what it produced, then carries the effects out. */
  const stepNode = (n: SimNode, event: ReplicaEvent) => {
    const effects = replicaStep(n.state, event);
    observe(n, effects);
    run(n, effects);
  };

  /** The checks on what a step produced, at the moment it produced it (on the core's state). */
  const observe = (n: SimNode, effects: readonly Effect[]) => {
    for (const e of effects) {
      if (e.type === 'reserve') m.recoveries++;
      else if (e.type === 'committed') n.committedHere.add(e.inst);
      else if (e.type === 'execute' && !n.committedHere.has(e.inst))
        throw new Violation(
          'executed-uncommitted',
          `${n.name} executes ${e.inst} (${cmdText(e.cmd)}) before committing it`,
          e.inst,
        );
    }
  };

  /**
   * 'committed' (and 'validity'): one command and attributes per instance, wherever and whenever
   * it is committed. A commit counts once it takes effect: its 'committed' effect carried out
   * (after the writes before it are flushed), or its record found on disk at a restart. Not as
   * the core produces it: a lone replica (N = 1) commits before its own write is flushed, and a
   * power loss then may take back a commit no one ever saw.
   */
  const commit = (
    n: SimNode,
    inst: InstanceKey,
    cmd: Command,
    seq: number,
    deps: readonly InstanceKey[],
    how: string,
  ) => {
    const json = attrsJson(cmd, seq, deps);
    const first = committed.get(inst);
    note(
      () =>
        `${n.name} commits inst=${inst} ${cmdText(cmd)} seq=${seq} deps=[${deps.join(',')}]${how}`,
    );
    if (first === undefined) {
      if (!isNoop(cmd) && submitted.get(cmd.id) !== JSON.stringify(cmd))
        throw new Violation(
          'validity',
          `${inst} committed a command never submitted: ${JSON.stringify(cmd)}`,
          inst,
        );
      committed.set(inst, json);
      m.committed++;
      if (isNoop(cmd)) m.noops++;
    } else if (first !== json) {
      throw new Violation(
        'committed',
        `${inst} committed at ${n.name}${how} as ${json}, elsewhere as ${first}`,
        inst,
      );
    }
  };

  /**
   * Hands effects over as the actor shell (apps/epaxos/server.ts, with apps/paxos/held.ts) does:
   * a durable write is committed at once, a command is applied to the state machine at once (in
   * the core's order, so a checkpoint snapshots exactly what it says is executed), and every
   * effect is carried out only after every write handed over before it, by this step or an
   * earlier one, is flushed (a crash drops what waits).
   */
  const run = (n: SimNode, effects: readonly Effect[]) => {
    const disk = disks.get(n.name)!;
    for (const e of effects) {
      if (e.type === 'persist' || e.type === 'reserve' || e.type === 'trim') write(n, disk, e);
      else if (e.type === 'checkpoint')
        write(n, disk, { ...e, machine: snapshotMachine(n, e.checkpoint) });
      else {
        if (e.type === 'execute') apply(n, e.inst, e.cmd);
        disk.afterFlush(() => carryOut(n, e));
      }
    }
  };

  const write = (n: SimNode, disk: Disk<EpaxosDurable, EpaxosWrite>, w: EpaxosWrite) => {
    if (w.type === 'trim') m.trimmed += w.insts.length;
    const flush = disk.write(w, now, m.events);
    if (flush) schedule(flush.at, { kind: 'flush', node: n.name, id: flush.id });
  };

  /**
   * 'checkpoint': the machine's state when the core checkpoints is exactly what the checkpoint
   * says is executed (the snapshot and the executed set a restart restores agree).
   */
  const snapshotMachine = (n: SimNode, cp: Checkpoint): MachineSnapshot => {
    m.checkpoints++;
    const said = ExecutedSet.from(cp.executed);
    const extra = [...n.executedInsts].find((inst) => !said.has(inst));
    if (extra !== undefined || said.size !== n.executedInsts.size)
      throw new Violation(
        'checkpoint',
        `${n.name}'s checkpoint says ${said.size} instances are executed, its machine executed ${n.executedInsts.size}${extra === undefined ? '' : ` (${extra} among them, not in the checkpoint)`}`,
        extra,
      );
    note(() => `${n.name} checkpoints (${said.size} instances executed)`);
    return {
      insts: [...n.executedInsts],
      ids: [...n.executedIds],
      orders: [...n.keySeqs].map(([key, x]) => [key, [...x.pos.keys()]]),
    };
  };

  const carryOut = (n: SimNode, e: Exclude<Effect, EpaxosEffectWrite>) => {
    switch (e.type) {
      case 'send':
        note(() => `${n.name} -> ${e.to} ${describeMsg(e.msg)}`);
        if (e.to === n.name)
          schedule(now + SELF_DELAY_MS, { kind: 'self', node: n.name, epoch: n.epoch, msg: e.msg });
        else transmit(n.name, e.to, e.msg);
        break;
      case 'timer':
        schedule(now + e.afterMs, {
          kind: 'timer',
          node: n.name,
          epoch: n.epoch,
          inst: e.inst,
          ballot: e.ballot,
        });
        break;
      case 'committed':
        if (e.fast === true) m.fastPath++;
        else if (e.fast === false) m.slowPath++;
        commit(
          n,
          e.inst,
          e.cmd,
          e.seq,
          e.deps,
          e.fast === null ? '' : e.fast ? ' (fast path)' : ' (slow path)',
        );
        break;
      case 'execute':
        answer(n, e.cmd);
        break;
      default:
        e satisfies never;
    }
  };

  /** The node's state machine step: recorded in this life's execution order, per key. */
  const apply = (n: SimNode, inst: InstanceKey, cmd: Command) => {
    note(() => `${n.name} executes inst=${inst} ${cmdText(cmd)}`);
    if (n.executedInsts.has(inst))
      throw new Violation('executed-twice', `${n.name} executed ${inst} twice`, inst);
    n.executedInsts.add(inst);
    if (cmd.id === '') return; // a no-op changes nothing
    // A retried command in a second instance runs twice: the first execution is the one ordered.
    if (n.executedIds.has(cmd.id)) {
      m.duplicateExecutions++;
      return;
    }
    n.executedIds.add(cmd.id);
    for (const key of cmd.keys) appendOrder(n, key, cmd.id);
  };

  /** The client waiting for the command here has its answer (the writes before it flushed). */
  const answer = (n: SimNode, cmd: Command) => {
    if (cmd.id === '') return;
    const c = clientOf.get(cmd.id);
    const cl = c === undefined ? undefined : clients[c];
    if (cl && cl.cmd?.id === cmd.id && cl.target === n.name) {
      m.executed++;
      latency.push(now - cl.issuedAt);
      if (!faultsOn) m.settleMs = Math.max(m.settleMs, now - faultsEndedAt);
      cl.cmd = null;
      schedule(now, { kind: 'client_next', client: c! });
    }
  };

  /** 'order': every two lives that executed two commands of one key did so in the same order. */
  const appendOrder = (n: SimNode, key: string, id: string) => {
    let x = n.keySeqs.get(key);
    if (!x) {
      x = { label: `${n.name} (life ${n.epoch})`, pos: new Map(), maxIn: new Map() };
      n.keySeqs.set(key, x);
      const all = seqsByKey.get(key);
      if (all) all.push(x);
      else seqsByKey.set(key, [x]);
    }
    const p = x.pos.size;
    x.pos.set(id, p);
    for (const y of seqsByKey.get(key)!) {
      if (y === x) continue;
      const q = y.pos.get(id);
      if (q === undefined) continue;
      if (q <= (x.maxIn.get(y) ?? -1)) {
        // A command x executed before `id` comes after it in y.
        const other = [...x.pos].find(([d, px]) => px < p && (y.pos.get(d) ?? -1) > q)![0];
        throw new Violation(
          'order',
          `on key ${key}, ${x.label} executed ${other} before ${id}, ${y.label} after it`,
          undefined,
          [`cmd=${other} `, `cmd=${id} `],
        );
      }
      x.maxIn.set(y, q);
      y.maxIn.set(x, p);
    }
  };

  /** Where each node stands, for a liveness report. */
  const whereNodesStand = () => {
    const few = (xs: string[]) =>
      xs.length > 8 ? `${xs.slice(0, 8).join(', ')}, ...` : xs.join(', ');
    const ns = [...nodes.values()].map((n) => {
      const s = n.state;
      const open = [...s.records]
        .filter(([, r]) => r.status !== 'committed')
        .map(([i, r]) => `${i} ${r.status ?? 'promised'}@${ballotText(r.bal)}`);
      const waits = [...s.waiters].map(([missing, w]) => `${missing} (for ${[...w].join(',')})`);
      const leading = [...s.leading].map(([i, l]) => `${i} ${l.phase}@${ballotText(l.ballot)}`);
      return `${n.name}: ${n.up ? 'up' : 'down'}, life ${n.epoch}, ${s.committed.size} committed, ${s.executed.size} executed; not committed: [${few(open)}]; leading: [${few(leading)}]; execution waits on: [${few(waits)}]`;
    });
    const waiting = clients
      .filter((c) => c.cmd)
      .map((c) => `${c.cmd!.id} at ${c.target} (submitted at ${Math.round(c.issuedAt)} ms)`);
    return `clients waiting: ${few(waiting)}; ${ns.join('; ')}`;
  };

  // ---- clients ----
  const issue = (c: number) => {
    const cl = clients[c]!;
    if (cl.issued >= perClient || m.submitted >= o.ops) return;
    cl.issued++;
    m.submitted++;
    const id = `c${c}-${cl.issued}`;
    const keys = [random() < o.conflict ? HOT : id];
    if (random() < TWO_KEYS_P) keys.push(keys[0] !== HOT && random() < o.conflict ? HOT : `${id}b`);
    const cmd: Command = { id, keys, op: { write: keys, by: c } };
    submitted.set(id, JSON.stringify(cmd));
    clientOf.set(id, c);
    cl.cmd = cmd;
    cl.issuedAt = now;
    cl.attempt = 0;
    submit(c, members);
  };

  /** Sends the client's command to a replica drawn from `among`. */
  const submit = (c: number, among: readonly string[]) => {
    const cl = clients[c]!;
    const to = among[Math.floor(random() * among.length)]!;
    cl.attempt++;
    cl.target = to;
    if (!(faultsOn && random() < o.lossP))
      schedule(now + delay(), { kind: 'request', client: c, to, cmd: cl.cmd! });
    schedule(now + CLIENT_TIMEOUT_MS, { kind: 'client_timeout', client: c, attempt: cl.attempt });
  };

  /** The same command (same id) to another replica: it may end up in two instances. */
  const resubmit = (c: number) => {
    const cl = clients[c]!;
    m.retries++;
    const others = members.filter((n) => n !== cl.target);
    submit(c, others.length > 0 ? others : members);
  };

  /** A client whose replica went down hears it (its connection breaks) and goes elsewhere. */
  const lostReplica = (node: string) => {
    clients.forEach((cl, c) => {
      if (cl.cmd && cl.target === node)
        schedule(now, { kind: 'client_timeout', client: c, attempt: cl.attempt });
    });
  };

  // ---- faults ----
  scheduleFaults(o, names, random, schedule);
  if (o.joinAtMs !== undefined) schedule(o.joinAtMs, { kind: 'join_start' });

  // ---- a replica joins: EPaxos.join's steps (apps/epaxos/index.ts), on the cores ----
  const JOIN_POLL_MS = 5;
  const JOIN_RETRY_MS = 100;
  /** Every replica stops proposing, and drains up to each leader's last instance. */
  const joinStart = () => {
    if (members.some((r) => !nodes.get(r)!.up)) {
      schedule(now + JOIN_RETRY_MS, { kind: 'join_start' }); // every replica must be up
      return;
    }
    fencedRequests = [];
    const upTo = Object.fromEntries(members.map((r) => [r, nodes.get(r)!.state.nextN - 1]));
    note(() => `join: fenced at ${JSON.stringify(upTo)}`);
    for (const r of members) stepNode(nodes.get(r)!, { type: 'drain', upTo });
    schedule(now + JOIN_POLL_MS, { kind: 'join_poll', upTo });
  };
  /** Once all have executed up to the fences: checkpoint, the new replica, the switch. */
  const joinPoll = (upTo: Record<string, number>) => {
    if (members.some((r) => !nodes.get(r)!.up)) {
      m.joinsUndone++;
      note(() => 'join: undone (a replica went down while draining)');
      for (const r of members) stepNode(nodes.get(r)!, { type: 'unfence' });
      releaseRequests();
      schedule(now + JOIN_RETRY_MS, { kind: 'join_start' });
      return;
    }
    if (!members.every((r) => drained(nodes.get(r)!.state, upTo))) {
      schedule(now + JOIN_POLL_MS, { kind: 'join_poll', upTo });
      return;
    }
    const first = nodes.get(members[0]!)!;
    stepNode(first, { type: 'checkpoint_now' });
    const cp = disks.get(first.name)!.committed().checkpoint!;
    const joiner = `n${members.length + 1}`;
    const disk = new Disk(random, o.flush, EPAXOS_DISK);
    disks.set(joiner, disk);
    const flush = disk.write({ type: 'checkpoint', ...cp }, now, m.events);
    if (flush) schedule(flush.at, { kind: 'flush', node: joiner, id: flush.id });
    members.push(joiner);
    m.joins++;
    note(
      () => `join: ${joiner} joins from ${first.name}'s checkpoint; ${members.join(',')} switch`,
    );
    // Each replica checkpoints and rebuilds its core in the new configuration from its disk
    // (its effects so far still go out: the shell waits for them); the new one starts from
    // the first one's checkpoint.
    for (const r of members.slice(0, -1)) {
      stepNode(nodes.get(r)!, { type: 'checkpoint_now' }); // as the shell does before it switches
      restart(r, nodes.get(r)!.epoch + 1);
    }
    restart(joiner, 0);
    releaseRequests();
  };
  const releaseRequests = () => {
    for (const r of fencedRequests ?? []) schedule(now, r);
    fencedRequests = null;
  };
  schedule(o.faultMs, { kind: 'faults_end' });
  for (let c = 0; c < o.clients; c++) schedule(random(), { kind: 'client_next', client: c });

  /** A new life from what the disk kept: the core rebuilt, then its restart effects. */
  const restart = (name: string, epoch: number) => {
    const d = disks.get(name)!.committed();
    const n = boot(name, epoch, { ...d, checkpoint: d.checkpoint?.checkpoint });
    if (d.checkpoint) {
      // The machine restored from the snapshot: this life's order starts with the saved one.
      m.restored++;
      const snap = d.checkpoint.machine;
      n.executedInsts = new Set(snap.insts);
      n.executedIds = new Set(snap.ids);
      for (const [key, ids] of snap.orders) for (const id of ids) appendOrder(n, key, id);
    }
    for (const [inst, r] of d.records)
      if (r.status === 'committed' && r.cmd) {
        n.committedHere.add(inst);
        commit(n, inst, r.cmd, r.seq, r.deps, ' (on its disk at a restart)');
      }
    nodes.set(name, n);
    note(
      () =>
        `${name} restarts (${d.records.size} records on disk, ballot ${d.ballotN}${d.checkpoint ? `, a checkpoint of ${d.checkpoint.machine.insts.length} instances` : ''})`,
    );
    const effects = restartEffects(n.state);
    observe(n, effects);
    run(n, effects);
  };

  // ---- the loop ----
  const clientsDone = () => m.executed === m.submitted && m.submitted >= o.ops;
  /**
   * 'liveness' of every replica, not only of those clients wait on: each one up, and none with a
   * committed command it cannot execute (a dependency it never learns, say).
   */
  const caughtUp = () => [...nodes.values()].every((n) => n.up && n.state.waiters.size === 0);
  let violation: EpaxosSimResult['violation'];
  const deadline = () => o.faultMs + o.livenessMs;
  try {
    for (;;) {
      const next = queue.pop();
      if (!next) break;
      now = next.at;
      m.events++;
      const e = next.event;
      if (!faultsOn && now > deadline())
        throw new Violation(
          'liveness',
          clientsDone()
            ? `replicas still waiting to execute committed commands ${o.livenessMs} ms (virtual) after faults stopped; ${whereNodesStand()}`
            : `commands still not executed ${o.livenessMs} ms (virtual) after faults stopped; ${whereNodesStand()}`,
        );
      switch (e.kind) {
        case 'msg': {
          const n = nodes.get(e.to)!;
          if (!n.up || !partitions.reachable(e.from, e.to)) break;
          note(() => `${e.to} <- ${e.from} ${describeMsg(e.msg)}`);
          stepNode(n, { type: 'receive', from: e.from, msg: e.msg });
          break;
        }
        case 'self': {
          const n = nodes.get(e.node)!;
          if (n.up && n.epoch === e.epoch)
            stepNode(n, { type: 'receive', from: n.name, msg: e.msg });
          break;
        }
        case 'timer': {
          const n = nodes.get(e.node)!;
          if (!n.up || n.epoch !== e.epoch) break;
          note(() => `${n.name} timer inst=${e.inst} ballot=${ballotText(e.ballot)}`);
          stepNode(n, { type: 'timer', inst: e.inst, ballot: e.ballot });
          break;
        }
        case 'flush': {
          const n = nodes.get(e.node)!;
          for (const then of disks.get(e.node)!.flush(e.id)) if (n.up) then();
          break;
        }
        case 'client_next':
          issue(e.client);
          break;
        case 'request': {
          if (fencedRequests) {
            fencedRequests.push(e);
            break;
          }
          const n = nodes.get(e.to)!;
          if (!n.up) break;
          const { inst, effects } = propose(n.state, e.cmd);
          note(() => `${n.name} proposes inst=${inst} ${cmdText(e.cmd)} for client ${e.client}`);
          observe(n, effects);
          run(n, effects);
          break;
        }
        case 'join_start':
          joinStart();
          break;
        case 'join_poll':
          joinPoll(e.upTo);
          break;
        case 'client_timeout': {
          const cl = clients[e.client]!;
          if (cl.cmd && cl.attempt === e.attempt) resubmit(e.client);
          break;
        }
        case 'crash':
          for (const node of e.nodes) {
            const n = nodes.get(node)!;
            if (!n.up) continue;
            n.up = false;
            downBy.set(node, e.id);
            m.crashes++;
            disks.get(node)!.crash();
            note(() => `${node} crashes`);
            lostReplica(node);
          }
          break;
        case 'power_loss':
          for (const node of e.nodes) {
            const n = nodes.get(node)!;
            // The machine goes dark even if its process was already down.
            if (n.up) downBy.set(node, e.id);
            n.up = false;
            m.powerLosses++;
            const disk = disks.get(node)!;
            disk.crash();
            const lost = disk.powerLoss();
            note(() => `${node} loses power (${lost} unflushed writes lost)`);
            lostReplica(node);
          }
          break;
        case 'restart': {
          const old = nodes.get(e.node)!;
          if (old.up || (e.id !== undefined && downBy.get(e.node) !== e.id)) break;
          restart(e.node, old.epoch + 1);
          break;
        }
        case 'partition':
          partitions.cut(e.id, e.groups);
          m.partitions++;
          note(() => `partition: ${e.groups.map((g) => `{${g.join(',')}}`).join(' | ')} | rest`);
          break;
        case 'heal':
          if (partitions.heal(e.id)) note(() => 'partition healed');
          break;
        case 'faults_end':
          faultsOn = false;
          faultsEndedAt = now;
          partitions.heal();
          for (const n of members)
            if (!nodes.get(n)!.up) schedule(now, { kind: 'restart', node: n });
          note(() => 'faults end');
          break;
      }
      if (!faultsOn && clientsDone() && caughtUp()) break;
    }
    if (!clientsDone() || !caughtUp())
      throw new Violation(
        'liveness',
        `${o.ops - m.executed} commands never executed where submitted, and ${[...nodes.values()].filter((n) => !n.up || n.state.waiters.size > 0).length} replicas not caught up; ${whereNodesStand()}`,
      );
  } catch (thrown) {
    // The core asserts its own invariants too: a broken one is a violation like the others.
    const err =
      thrown instanceof InvariantError
        ? new Violation('invariant', thrown.message, /instance (\S+) /.exec(thrown.message)?.[1])
        : thrown;
    if (!(err instanceof Violation)) throw err;
    // The events of the instance (or commands) concerned, with the faults for context.
    const context = / (crashes|restarts|loses power|partition|faults end)/;
    const lines = trace.map(([t, line]) => `${t.toFixed(2).padStart(9)} ${line()}`);
    const tokens = err.inst === undefined ? err.about : [`inst=${err.inst} `];
    const about =
      tokens.length === 0
        ? lines.slice(-40)
        : lines.filter((l) => tokens.some((t) => l.includes(t)) || context.test(l));
    // The start of the story (the first commit, often) and its end (the violation).
    const relevant =
      about.length <= 120
        ? about
        : [...about.slice(0, 40), `  ... ${about.length - 120} lines ...`, ...about.slice(-80)];
    violation = { kind: err.kind, message: err.message, inst: err.inst, trace: relevant };
  }

  m.virtualMs = Math.round(now);
  m.latencyP50 = percentile(latency, 50);
  m.latencyP99 = percentile(latency, 99);
  m.settleMs = Math.round(m.settleMs);
  addDiskStats(m, disks.values());
  const digest = runDigest(
    [...committed.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    m,
  );
  return { ok: violation === undefined, violation, metrics: m, digest };
}
