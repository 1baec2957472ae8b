// A deterministic simulation of the replicated inventory: N nodes, each running the shipping
// cores (the Paxos roles of apps/paxos, composed as the actors wire them, and the replica core of
// apps/rsm/core.ts over the inventory state machine), and clients, in one process with virtual
// time and a seeded scheduler. Nothing of the replica is re-implemented here: the simulator only
// carries the cores' effects (messages, disk writes, timers) as the actor shells do. The network
// delays (a chosen distribution, network.ts), loses, duplicates and reorders messages and is cut
// by partitions that heal; each node's disk (disk.ts) commits at once and flushes later; nodes
// crash (and restart from what was committed) or lose power (and restart from what was flushed),
// at random or on an explicit schedule (schedule.ts). Invariants are checked at every step; after
// faults stop, every submitted operation must be acknowledged within a bound.
// Same seed, same run: every random choice comes from one seeded generator, and events at the
// same virtual time run in the order they were scheduled.

import { hash32, seededRandom } from '../../transport/faults.ts';
import {
  applyOp,
  emptyInventory,
  type InventoryOp,
  type InventoryResult,
  type InventoryState,
  restore,
  snapshot,
  validateOp,
} from '../inventory/machine.ts';
import type { Ballot } from '../paxos/ballot.ts';
import { createParticipant, InvariantError, type ParticipantState, step } from '../paxos/core.ts';
import type { Effect, PaxosMsg } from '../paxos/messages.ts';
import { PAXOS_MUTATIONS, type PaxosMutation } from '../paxos/mutations.ts';
import {
  type CatchupReply,
  type CatchupRequest,
  createReplica,
  type ReconfigOp,
  type ReconfigResult,
  type ReplicaEffect,
  type ReplicaEvent,
  type ReplicaMutation,
  type ReplicaOptions,
  type ReplicaState,
  replayDecided,
  replicaStatus,
  replicaStep,
  type Snapshot,
} from '../rsm/core.ts';
import type { Machine } from '../rsm/machine.ts';
import { DEFAULT_FLUSH, Disk, type DiskWrite, type FlushTiming, type NodeDurable } from './disk.ts';
import { type DelayDist, lossyNetwork, Partitions, sampleDelay } from './network.ts';
import type { FaultEvent } from './schedule.ts';
import { addDiskStats, percentile, runDigest } from './summary.ts';

/**
 * Deliberately broken variants, to show the checks can fail: the simulator's own (a crash loses
 * the disk; a replica applies accepted values; the runner sends what a write guards before the
 * write is flushed), the Paxos roles' (apps/paxos/mutations.ts) and the replica core's.
 */
export type SimMutation =
  | 'amnesia'
  | 'apply-accepted'
  | 'reply-before-flush'
  | PaxosMutation
  | ReplicaMutation;

/** The replica core's mutations the simulator runs (apps/rsm/core.ts). */
const SIM_REPLICA_MUTATIONS: readonly ReplicaMutation[] = [
  'forget-snapshot-results',
  'ignore-missed',
  'apply-void',
];

export const SIM_MUTATIONS: readonly SimMutation[] = [
  'amnesia',
  'apply-accepted',
  'reply-before-flush',
  ...PAXOS_MUTATIONS,
  ...SIM_REPLICA_MUTATIONS,
];

/** What both simulators share: the cluster, the clients, the network, the disks, the faults. */
export interface FaultOptions {
  seed: number;
  nodes: number;
  /** Client operations in all. */
  ops: number;
  clients: number;
  /** One-way delay of every message (virtual ms). */
  delay: DelayDist;
  lossP: number;
  dupP: number;
  /** Faults happen during the fault phase (virtual ms), then stop. */
  faultMs: number;
  /** Random faults: mean events per virtual second of the fault phase. */
  crashRate: number;
  partitionRate: number;
  powerLossRate: number;
  /** How many nodes one random power loss takes down together (a rack, a building). */
  powerLossNodes: number;
  /** How long a disk flush takes. */
  flush: FlushTiming;
  /** Explicit faults, besides the random ones. */
  schedule: FaultEvent[];
  /** After faults stop, every operation must be done (acknowledged, executed) within this (virtual ms). */
  livenessMs: number;
}

export interface SimOptions extends FaultOptions {
  /**
   * Duelling proposers during the fault phase: every tick, with this probability, a random up
   * node starts a ballot for the lowest instance it does not know decided.
   */
  randomProposer: number;
  /**
   * Multi-Paxos terms (phase 1 once per term, as the replicated services run it); false: phase 1
   * for every instance (the coursework's Paxos).
   */
  terms: boolean;
  /** Most operations per instance. */
  batchMax: number;
  /** Each replica saves a snapshot (and compacts its Paxos store) every this many instances. */
  snapshotEvery: number;
  /** Test only: a deliberately broken variant, to show the checks can fail. */
  mutate?: SimMutation;
  /** Keep the last N events for a trace on a violation (default 5000). */
  traceKeep?: number;
  /**
   * Reconfigurations during the fault phase, one at a time, by an admin client through the log
   * (as addReplica/removeReplica): each adds a fresh replica (n{nodes+1}, ...) that joins and
   * catches up, or removes a member, which stops; members stay between 2 and nodes + 1.
   */
  reconfigs: number;
}

export const DEFAULT_SIM: Omit<SimOptions, 'seed'> = {
  nodes: 5,
  ops: 200,
  clients: 5,
  delay: { kind: 'exponential', meanMs: 2 },
  lossP: 0.05,
  dupP: 0.02,
  faultMs: 2000,
  crashRate: 2,
  partitionRate: 2,
  powerLossRate: 1,
  powerLossNodes: 1,
  flush: DEFAULT_FLUSH,
  schedule: [],
  randomProposer: 0,
  terms: true,
  livenessMs: 30_000,
  batchMax: 16,
  snapshotEvery: 25,
  reconfigs: 0,
};

export interface SimMetrics {
  virtualMs: number;
  events: number;
  submitted: number;
  acknowledged: number;
  retries: number;
  opLatencyP50: number;
  opLatencyP99: number;
  decisions: number;
  noops: number;
  messages: number;
  ballots: number;
  decisionLatencyP50: number;
  decisionLatencyP99: number;
  dropped: number;
  duplicated: number;
  partitions: number;
  crashes: number;
  powerLosses: number;
  /** Committed writes a power loss took before they were flushed. */
  lostWrites: number;
  diskWrites: number;
  /** Disk flushes (group commits: the writes of one turn flush together). */
  flushes: number;
  /** Ballots started by the random proposer. */
  randomBallots: number;
  /** Snapshots saved, and snapshots a lagging replica adopted from another. */
  snapshots: number;
  snapshotsAdopted: number;
  /** Virtual ms from the end of faults until the last operation was acknowledged. */
  settleMs: number;
  /** Reconfigurations acknowledged (replicas added, removed). */
  added: number;
  removed: number;
}

/** Metrics with every figure at zero. */
export function emptyMetrics(): SimMetrics {
  return {
    virtualMs: 0,
    events: 0,
    submitted: 0,
    acknowledged: 0,
    retries: 0,
    opLatencyP50: 0,
    opLatencyP99: 0,
    decisions: 0,
    noops: 0,
    messages: 0,
    ballots: 0,
    decisionLatencyP50: 0,
    decisionLatencyP99: 0,
    dropped: 0,
    duplicated: 0,
    partitions: 0,
    crashes: 0,
    powerLosses: 0,
    lostWrites: 0,
    diskWrites: 0,
    flushes: 0,
    randomBallots: 0,
    snapshots: 0,
    snapshotsAdopted: 0,
    settleMs: 0,
    added: 0,
    removed: 0,
  };
}

export interface SimResult {
  ok: boolean;
  violation?: { kind: string; message: string; inst?: number; trace: string[] };
  metrics: SimMetrics;
  /** A digest of the decided log and the metrics: equal for equal seeds. */
  digest: string;
}

type Entry = { ops: InventoryOp[]; epoch?: number };

/** Who a replica answers: a client, or a peer's catch-up request. */
type Token =
  | { kind: 'client'; client: number; reqId: string }
  | { kind: 'peer'; node: string; id: number };

/** Replica-to-replica messages (the actor shell's forward and catch-up calls). */
type ReplicaMsg =
  | { type: 'forward'; ops: InventoryOp[]; epoch: number }
  | { type: 'catchup_request'; id: number; request: CatchupRequest }
  | { type: 'catchup_reply'; id: number; reply: CatchupReply };

type Event =
  /** A Paxos message within configuration `group`'s participants. */
  | { kind: 'msg'; from: string; to: string; msg: PaxosMsg; group: number }
  | { kind: 'rmsg'; from: string; to: string; msg: ReplicaMsg }
  | { kind: 'client_next'; client: number }
  | { kind: 'request'; client: number; to: string; op: InventoryOp }
  | { kind: 'response'; client: number; reqId: string; result: InventoryResult }
  /** Events of one life of a node (`epoch`): ignored once it crashed. */
  | { kind: 'tick'; node: string; epoch: number }
  | { kind: 'wake'; node: string; epoch: number }
  | {
      kind: 'paxos_timer';
      node: string;
      epoch: number;
      group: number;
      inst: number;
      ballot: Ballot;
    }
  | { kind: 'paxos_flush'; node: string; epoch: number }
  | {
      kind: 'propose_timeout';
      node: string;
      epoch: number;
      inst: number;
      seq: number;
      entryEpoch: number;
    }
  /** The registry's view changed (a participant of a new configuration started, one stopped). */
  | { kind: 'tell_peers' }
  /** The admin client's next reconfiguration, and its retry after a timeout. */
  | { kind: 'admin_next' }
  | { kind: 'admin_timeout'; reqId: string; attempt: number }
  | { kind: 'catchup_timeout'; node: string; epoch: number; id: number }
  | { kind: 'client_timeout'; client: number; reqId: string; attempt: number }
  | FaultSimEvent
  /** A flush of disk `disk` (a node's, or one of its configurations' Paxos stores). */
  | { kind: 'flush'; node: string; disk: string; id: number }
  | { kind: 'random_ballot' };

interface Scheduled<E> {
  at: number;
  seq: number;
  event: E;
}

/** A binary min-heap on (at, seq): deterministic order for equal times. */
export class Queue<E = Event> {
  private heap: Scheduled<E>[] = [];
  get size(): number {
    return this.heap.length;
  }
  push(item: Scheduled<E>): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }
  pop(): Scheduled<E> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function describeMsg(msg: PaxosMsg): string {
  const b = 'ballot' in msg ? ` ballot=${msg.ballot.round}.${msg.ballot.leader}` : '';
  switch (msg.type) {
    case 'promise':
      return `promise inst=${msg.inst} ${b}${msg.accepted ? ` accepted@${msg.accepted.ballot.round}.${msg.accepted.ballot.leader}` : ''}`;
    case 'accept':
      return `accept inst=${msg.inst} ${b} ${JSON.stringify(msg.value)}${msg.chosen ? ` chosen=${msg.chosen.join(',')}` : ''}`;
    case 'decided':
      return `decided inst=${msg.inst} ${b} ${JSON.stringify(msg.value)}`;
    case 'chosen':
      return `chosen inst=${[msg.inst, ...(msg.more ?? [])].join(',')} ${b}`;
    case 'nack':
      return `nack inst=${msg.inst} ${b} promised=${msg.promised.round}.${msg.promised.leader}`;
    default:
      return `${msg.type} inst=${msg.inst} ${b}`;
  }
}

const before = <E>(a: Scheduled<E>, b: Scheduled<E>) =>
  a.at < b.at || (a.at === b.at && a.seq < b.seq);

type Rep = ReplicaState<InventoryState, InventoryOp, InventoryResult, Token>;

/** One simulated node: its Paxos participant and its replica, both the shipping cores. */
interface SimNode {
  name: string;
  up: boolean;
  /** Bumped at every restart: events of an earlier life are ignored. */
  epoch: number;
  /**
   * Its participant in the configuration (`group`) its replica is in, if a member: one Paxos
   * group per configuration, as replica.ts runs them (the previous one stops).
   */
  paxos: ParticipantState | undefined;
  group: number;
  /** Removed by a reconfiguration: stopped for good. */
  removed: boolean;
  /** A replica started to join (addReplica): the members it catches up from. */
  join: string[] | undefined;
  replica: Rep;
  /** Registered (caught up after its start): other replicas forward to it. */
  ready: boolean;
  /** The replica's proposals waiting for an outcome: inst -> the propose's sequence number. */
  proposing: Map<number, number>;
  /** Catch-up requests out: id -> the peer asked. */
  catchups: Map<number, string>;
  /** A `paxos_flush` is scheduled (the shell's mailbox-empty moment, for its proposer). */
  flushing: boolean;
}

interface Client {
  reqId: string | null;
  op: InventoryOp | null;
  issuedAt: number;
  attempt: number;
  issued: number;
}

const ITEMS = ['apple', 'pear', 'plum'];
/** At most this long (virtual ms) before a proposer's unannounced decisions are flushed. */
export const PIGGYBACK_FLUSH_MS = 0.5;
/** The random proposer's period (virtual ms). */
const TICK_MS = 5;
/** The replica's periodic tick (the actor shell's is 100 ms; virtual time runs faster here). */
const REPLICA_TICK_MS = 10;
const CLIENT_TIMEOUT_MS = 150;
/** The admin client's number, in the request and response events. */
const ADMIN = -1;
/** The replica's options in the simulation (timeouts scaled to its fast virtual network). */
const REPLICA_OPTIONS: ReplicaOptions = {
  window: 4,
  proposeTimeoutMs: 300,
  resendMs: 200,
  gapMs: 20,
  snapshotChunkBytes: 512,
};

/** The knobs of the random faults (shared with apps/sim/epaxos-sim.ts). */
export type FaultRates = Pick<
  SimOptions,
  'faultMs' | 'crashRate' | 'partitionRate' | 'powerLossRate' | 'powerLossNodes'
>;

/**
 * The random faults of one run, in time order, drawn from `random`: a mean gap of 1000 / rate
 * ms, each of a kind in proportion to its rate, each lasting 20-220 ms.
 */
/** The fault events both simulators schedule. */
export type FaultSimEvent =
  /** `id` names this outage: only its own restart ends it. */
  | { kind: 'crash'; nodes: string[]; id: number }
  | { kind: 'power_loss'; nodes: string[]; id: number }
  /** Without an id: at the end of faults, whatever took the node down. */
  | { kind: 'restart'; node: string; id?: number }
  | { kind: 'partition'; groups: string[][]; id: number }
  | { kind: 'heal'; id: number }
  | { kind: 'faults_end' };

/**
 * Schedules the explicit faults, then the random ones, each with its end (a fault without
 * `forMs` lasts until the faults end).
 */
export function scheduleFaults(
  o: FaultOptions,
  names: readonly string[],
  random: () => number,
  schedule: (at: number, e: FaultSimEvent) => void,
): void {
  let ids = 0;
  const one = (e: FaultEvent) => {
    const id = ids++;
    const end = e.forMs === undefined ? undefined : e.atMs + e.forMs;
    if (e.kind === 'partition') {
      schedule(e.atMs, { kind: 'partition', groups: e.groups, id });
      if (end !== undefined) schedule(end, { kind: 'heal', id });
      return;
    }
    schedule(e.atMs, { kind: e.kind === 'crash' ? 'crash' : 'power_loss', nodes: e.nodes, id });
    if (end !== undefined) for (const node of e.nodes) schedule(end, { kind: 'restart', node, id });
  };
  for (const e of o.schedule) one(e);
  for (const e of randomFaults(o, names, random)) one(e);
}

export function randomFaults(
  o: FaultRates,
  names: readonly string[],
  random: () => number,
): FaultEvent[] {
  const events: FaultEvent[] = [];
  const rates = o.crashRate + o.partitionRate + o.powerLossRate;
  if (rates > 0) {
    const scale = 4 / rates; // gaps of 100..400 ms at 4 events per second
    for (let t = 50 + random() * 200; t < o.faultMs; t += (100 + random() * 300) * scale) {
      const x = random() * rates;
      if (x < o.crashRate) {
        const node = names[Math.floor(random() * names.length)]!;
        events.push({ atMs: t, kind: 'crash', nodes: [node], forMs: 20 + random() * 200 });
      } else if (x < o.crashRate + o.partitionRate) {
        const side = names.filter(() => random() < 0.5);
        events.push({
          atMs: t,
          kind: 'partition',
          groups: [side],
          forMs: 20 + random() * 200,
        });
      } else {
        const pool = [...names];
        const nodes = Array.from(
          { length: Math.min(o.powerLossNodes, names.length) },
          () => pool.splice(Math.floor(random() * pool.length), 1)[0]!,
        );
        events.push({ atMs: t, kind: 'power-loss', nodes, forMs: 20 + random() * 200 });
      }
    }
  }
  return events;
}

/** Runs one simulation. Never throws for a broken invariant: it reports it as a violation. */
export function simulate(options: SimOptions): SimResult {
  const o = { traceKeep: 5000, ...options };
  const random = seededRandom(o.seed);
  const names = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  /** Fresh replicas the admin client adds (never a removed one's name again). */
  const spares = Array.from({ length: o.reconfigs }, (_, i) => `n${o.nodes + i + 1}`);
  const queue = new Queue();
  let seq = 0;
  let now = 0;
  const schedule = (at: number, event: Event) => queue.push({ at, seq: seq++, event });
  // Trace lines are formatted only if a violation is reported (formatting every event is slow).
  const trace: Array<[number, () => string]> = [];
  const note = (line: () => string) => {
    trace.push([now, line]);
    if (trace.length > o.traceKeep * 2) trace.splice(0, trace.length - o.traceKeep);
  };

  const m = emptyMetrics();

  // ---- global truth, for the invariants ----
  const submittedOps = new Map<string, string>(); // reqId -> JSON of the op
  /** (configuration, inst) -> JSON of the value: inst alone for the first configuration. */
  const decided = new Map<string | number, string>();
  /** The applied log: inst -> JSON of the entry (a void decision of an old group is not in it). */
  const appliedLog = new Map<number, string>();
  const firstProposedAt = new Map<number, number>();
  const decisionLatency: number[] = [];
  const chain: number[] = []; // chain[i]: hash of the log up to and including instance i
  const firstResult = new Map<string, string>(); // reqId -> JSON of the result
  const acked = new Map<string, string>(); // reqId -> JSON of the result the client got
  const opLatency: number[] = [];
  let faultsOn = true;
  let faultsEndedAt = 0;
  const partitions = new Partitions();
  /** The outage that took a node down: its restart is the one that brings it back. */
  const downBy = new Map<string, number>();

  class Violation extends Error {
    constructor(
      readonly kind: string,
      message: string,
      readonly inst?: number,
    ) {
      super(message);
    }
  }

  /**
   * Disks by key: a node's own (its snapshot, and its first configuration's Paxos store), and one
   * per later configuration it is a member of (`node#epoch`, as replica.ts names the stores).
   */
  const disks = new Map(names.map((n) => [n, new Disk(random, o.flush)]));
  const diskKey = (node: string, group: number) => (group === 0 ? node : `${node}#${group}`);
  const diskOf = (node: string, group: number): Disk => {
    const key = diskKey(node, group);
    let disk = disks.get(key);
    if (!disk) {
      disk = new Disk(random, o.flush);
      disks.set(key, disk);
    }
    return disk;
  };
  const nodeDisks = (node: string) =>
    [...disks.entries()].filter(([k]) => k === node || k.startsWith(`${node}#`)).map(([, d]) => d);
  const scheduleFlush = (n: SimNode, group: number, flush: { at: number; id: number } | null) => {
    if (flush)
      schedule(flush.at, {
        kind: 'flush',
        node: n.name,
        disk: diskKey(n.name, group),
        id: flush.id,
      });
  };
  const paxosMutations = new Set(PAXOS_MUTATIONS.filter((x) => x === o.mutate));
  const replicaMutations = new Set<ReplicaMutation>(
    SIM_REPLICA_MUTATIONS.filter((x) => x === o.mutate),
  );
  /** State hashes at log positions (after applying up to there): equal at every replica. */
  const stateAt = new Map<number, number>();

  /** The inventory machine, with the per-operation checks of this simulation around `apply`. */
  const checkedMachine = (node: string): Machine<InventoryState, InventoryOp, InventoryResult> => ({
    service: 'inventory',
    empty: emptyInventory,
    validate: validateOp,
    apply: (state, op) => {
      const result = applyOp(state, op);
      for (const [item, qty] of state.stock)
        if (qty < 0) throw new Violation('stock', `${node}: ${item} went negative (${qty})`);
      const json = JSON.stringify(result);
      const first = firstResult.get(op.reqId);
      if (first === undefined) firstResult.set(op.reqId, json);
      else if (op.kind !== 'view' && op.kind !== 'get' && first !== json)
        throw new Violation(
          'results',
          `${node} computed ${json} for ${op.reqId}, another replica ${first}`,
        );
      return result;
    },
    resultOf: (state, reqId) => state.results.get(reqId),
    snapshot,
    restore: (snap) => restore(snap as ReturnType<typeof snapshot>),
    forgetResults: (state) => state.results.clear(),
  });

  const nodes = new Map<string, SimNode>();
  /** A participant of configuration `group`, from what that configuration's disk holds. */
  const participantFor = (
    name: string,
    group: number,
    members: readonly string[],
    d?: NodeDurable,
  ) =>
    createParticipant(name, members, d ?? diskOf(name, group).committed(), paxosMutations, {
      terms: o.terms,
    });

  const clients: Client[] = Array.from({ length: o.clients }, () => ({
    reqId: null,
    op: null,
    issuedAt: 0,
    attempt: 0,
    issued: 0,
  }));
  const perClient = Math.ceil(o.ops / o.clients);

  // ---- network ----
  const delay = () => sampleDelay(o.delay, random);
  /** One message over the lossy network (loss and duplication only while faults are on). */
  const transmit = lossyNetwork<Event>(o, random, m, () => ({ now, faultsOn }), schedule);
  const sendMsg = (from: string, to: string, msg: PaxosMsg, group: number) =>
    transmit({ kind: 'msg', from, to, msg, group });
  const sendReplica = (from: string, to: string, msg: ReplicaMsg) =>
    transmit({ kind: 'rmsg', from, to, msg });

  // ---- the Paxos participant (apps/paxos/core.ts: the three role cores, wired) ----
  /**
   * Carries out effects in order, as the actor shell (apps/paxos/participant.ts) does: a durable
   * write is committed at once, and the effects after it wait until it is flushed.
   */
  const runPaxos = (
    n: SimNode,
    effects: Effect[],
    from = 0,
    p: ParticipantState | undefined = n.paxos,
    group = n.group,
  ) => {
    if (!p) return;
    if (n.paxos === p && p.proposer.unannounced !== undefined && !n.flushing) {
      // Decisions no accept carried: the shell announces them once its mailbox is empty, which
      // is soon, or later when messages keep coming.
      n.flushing = true;
      schedule(now + random() * PIGGYBACK_FLUSH_MS, {
        kind: 'paxos_flush',
        node: n.name,
        epoch: n.epoch,
      });
    }
    const disk = diskOf(n.name, group);
    for (let i = from; i < effects.length; i++) {
      const e = effects[i]!;
      if (
        e.type === 'persist' ||
        e.type === 'persist_lead' ||
        e.type === 'reserve' ||
        e.type === 'learn'
      ) {
        scheduleFlush(n, group, disk.write(e satisfies DiskWrite, now, m.events));
        if (o.mutate !== 'reply-before-flush') {
          disk.afterFlush(() => {
            if (n.paxos !== p) return; // the participant stopped (a new configuration)
            carryOut(n, e, p, group);
            runPaxos(n, effects, i + 1, p, group);
          });
          return;
        }
      }
      carryOut(n, e, p, group);
    }
  };
  /** Steps the node's participant, if it runs one, and carries out its effects. */
  const paxosStep = (n: SimNode, event: Parameters<typeof step>[1]) => {
    if (n.paxos) runPaxos(n, step(n.paxos, event));
  };

  /** One effect of the participant, once the writes before it are flushed. */
  /**
   * `p` of configuration `group`: the participant the effect is of. Its replica may have moved to
   * a new configuration meanwhile (an effect before this one made it apply a stop sign): the
   * participant had sent everything of its step by then (it is a process of its own in
   * replica.ts), so the rest still goes out, as its configuration's.
   */
  const carryOut = (n: SimNode, e: Effect, p: ParticipantState, group: number) => {
    const current = n.paxos === p;
    switch (e.type) {
      case 'persist':
        if (o.mutate === 'apply-accepted' && e.record.accepted)
          replicaEvent(n, {
            type: 'decide',
            now,
            inst: e.inst,
            value: e.record.accepted.value,
          });
        break;
      case 'learn':
        checkDecision(n.name, group, e.inst, e.value as Entry);
        replicaEvent(n, { type: 'decide', now, inst: e.inst, value: e.value });
        break;
      case 'missed':
        replicaEvent(n, { type: 'missed', now, inst: e.inst, epoch: group });
        break;
      case 'send':
        sendMsg(n.name, e.to, e.msg, group);
        break;
      case 'broadcast':
        if (e.msg.type === 'prepare') m.ballots++;
        for (const to of p.participants) sendMsg(n.name, to, e.msg, group);
        break;
      case 'timer':
        schedule(now + e.afterMs, {
          kind: 'paxos_timer',
          node: n.name,
          epoch: n.epoch,
          group,
          inst: e.inst,
          ballot: e.ballot,
        });
        break;
      // The proposer's outcomes answer the replica's proposal (Paxos.proposeInstance's reply).
      case 'settled':
        // Chosen, as the proposer saw a quorum accept it: a decision of its group even if the
        // learner's write of it is never flushed (its participant stopped meanwhile: seed 499
        // with --reconfigs 6 applied such a value, then found no decision of it).
        checkDecision(n.name, group, e.inst, e.value as Entry, 'chooses');
        if (current && n.proposing.delete(e.inst))
          replicaEvent(n, {
            type: 'proposed',
            now,
            inst: e.inst,
            outcome: { outcome: 'decided', value: e.value },
            epoch: group,
          });
        break;
      case 'abort':
        if (current && n.proposing.delete(e.inst))
          replicaEvent(n, {
            type: 'proposed',
            now,
            inst: e.inst,
            outcome: { outcome: 'aborted', reason: e.reason },
            epoch: group,
          });
        break;
      case 'reserve':
      case 'persist_lead':
      case 'round_seen':
      case 'chosen': // local to the participant: core.ts never hands it out
        break;
      default:
        e satisfies never;
    }
  };

  /** Agreement (within each configuration's group) and validity, at every decision learned. */
  const checkDecision = (
    node: string,
    group: number,
    inst: number,
    value: Entry,
    how = 'learns',
  ) => {
    const json = JSON.stringify(value);
    const key = group === 0 ? inst : `${group}:${inst}`;
    const known = decided.get(key);
    if (known === undefined) {
      for (const op of value.ops) {
        if (submittedOps.get(op.reqId) !== JSON.stringify(op))
          throw new Violation(
            'validity',
            `instance ${inst} decided an operation never submitted: ${JSON.stringify(op)}`,
            inst,
          );
      }
      decided.set(key, json);
      m.decisions++;
      if (value.ops.length === 0) m.noops++;
      const t0 = firstProposedAt.get(inst);
      if (t0 !== undefined) decisionLatency.push(now - t0);
    } else if (known !== json) {
      throw new Violation(
        'agreement',
        `instance ${inst} decided ${known} and ${json} (at ${node}${group > 0 ? `, configuration ${group}` : ''})`,
        inst,
      );
    }
    note(
      () => `${node} ${how} inst=${inst} ${json}${group > 0 ? ` (configuration ${group})` : ''}`,
    );
  };

  // ---- the replica (apps/rsm/core.ts) ----
  let proposeSeq = 0;
  let catchupIds = 0;
  /** Steps the node's replica core, checks what it applied, carries out its effects. */
  const replicaEvent = (n: SimNode, event: ReplicaEvent<InventoryOp, Token>) => {
    const r = n.replica;
    const before = r.applied;
    const snapshotBefore = r.snapshot?.inst;
    const effects = replicaStep(r, event);
    if (r.snapshot?.inst !== snapshotBefore && event.type === 'catchup_reply') {
      m.snapshotsAdopted++;
      note(() => `${n.name} adopts a snapshot at ${r.snapshot?.inst}`);
    }
    checkApplied(n, before);
    for (const e of effects) replicaEffect(n, e);
  };

  /** Identical logs (hash chains) and identical states at equal log positions. */
  const checkApplied = (n: SimNode, before: number) => {
    const r = n.replica;
    for (let inst = before; inst < r.applied; inst++) {
      const entry = r.history.get(inst);
      if (!entry) continue; // skipped by an adopted snapshot
      const h = hash32(`${inst === 0 ? 0 : chain[inst - 1]}|${JSON.stringify(entry)}`);
      if (chain[inst] === undefined) {
        if (inst > 0 && chain[inst - 1] === undefined)
          throw new Violation(
            'logs',
            `${n.name} applied ${inst} before anyone applied ${inst - 1}`,
            inst,
          );
        chain[inst] = h;
        appliedLog.set(inst, JSON.stringify(entry));
      } else if (chain[inst] !== h) {
        throw new Violation('logs', `${n.name}'s log differs from the others' at ${inst}`, inst);
      }
    }
    if (r.applied !== before) {
      const h = hash32(JSON.stringify(snapshot(r.state)));
      const known = stateAt.get(r.applied);
      if (known === undefined) stateAt.set(r.applied, h);
      else if (known !== h)
        throw new Violation(
          'state',
          `${n.name}'s state after instance ${r.applied - 1} differs from another replica's there`,
          r.applied - 1,
        );
    }
  };

  const replicaEffect = (n: SimNode, e: ReplicaEffect<InventoryOp, InventoryResult, Token>) => {
    switch (e.type) {
      case 'answer':
        for (const to of e.to) respond(n, to, e.op.reqId, e.result);
        break;
      case 'reply':
        if (e.to.kind === 'peer')
          sendReplica(n.name, e.to.node, {
            type: 'catchup_reply',
            id: e.to.id,
            reply: e.message as CatchupReply,
          });
        else {
          const message = e.message as InventoryResult | { rsmError: { code?: string } };
          if (typeof message === 'object' && message !== null && 'rsmError' in message) {
            // Fewer than a majority up, in this replica's view: a refusal, nothing applied. The
            // client's call goes unanswered and it retries after its timeout, as after a loss.
            if (message.rsmError.code === 'exceed_failure_tolerant') {
              note(() => `${n.name} refuses an operation: no majority up`);
              break;
            }
            // Not a member (joining, or removed): the caller retries at another replica.
            if (message.rsmError.code === 'not_member') {
              note(() => `${n.name} refuses an operation: not a member`);
              break;
            }
            throw new Violation('results', `${n.name} refused a valid operation`);
          }
          respond(n, e.to, e.to.reqId, message as InventoryResult);
        }
        break;
      case 'forward':
        sendReplica(n.name, e.to, { type: 'forward', ops: e.ops, epoch: n.replica.epoch });
        break;
      case 'watch':
        break; // the peers events tell the core when the watched leader goes
      case 'propose': {
        const seq = proposeSeq++;
        n.proposing.set(e.inst, seq);
        const entryEpoch = e.entry.epoch ?? 0;
        // Without a participant of that configuration here, at once (replica.ts answers such
        // a ballot `error`).
        const runs = n.paxos !== undefined && entryEpoch === n.group;
        schedule(now + (runs ? e.timeoutMs : 0), {
          kind: 'propose_timeout',
          node: n.name,
          epoch: n.epoch,
          inst: e.inst,
          seq,
          entryEpoch,
        });
        if (!runs) break;
        if (!firstProposedAt.has(e.inst)) firstProposedAt.set(e.inst, now);
        note(() => `${n.name} proposes inst=${e.inst} (${e.entry.ops.length} ops)`);
        paxosStep(n, { type: 'propose', inst: e.inst, value: e.entry });
        if (n.proposing.get(e.inst) === seq)
          paxosStep(n, { type: 'start_ballot', inst: e.inst, now });
        break;
      }
      case 'catchup_request': {
        const id = catchupIds++;
        n.catchups.set(id, e.to);
        sendReplica(n.name, e.to, { type: 'catchup_request', id, request: e.request });
        schedule(now + e.timeoutMs, { kind: 'catchup_timeout', node: n.name, epoch: n.epoch, id });
        break;
      }
      case 'save_snapshot': {
        // Saved, flushed, then the Paxos store compacted below it (as replica.ts does).
        const snap: Snapshot = e.snapshot;
        const disk = diskOf(n.name, 0);
        scheduleFlush(n, 0, disk.write({ type: 'snapshot', snapshot: snap }, now, m.events));
        disk.afterFlush(() => {
          m.snapshots++;
          // The participant's store is compacted (replica.ts: Paxos.compact of the current one).
          if (n.paxos) {
            const group = n.group;
            const pdisk = diskOf(n.name, group);
            scheduleFlush(
              n,
              group,
              pdisk.write({ type: 'compact', below: snap.inst }, now, m.events),
            );
            paxosStep(n, { type: 'compact', below: snap.inst });
          }
          replicaEvent(n, { type: 'snapshot_saved', now, snapshot: snap });
        });
        break;
      }
      case 'wake':
        schedule(now + e.afterMs, { kind: 'wake', node: n.name, epoch: n.epoch });
        break;
      case 'ready':
        n.ready = true;
        note(() => `${n.name} is ready`);
        tellPeers();
        break;
      case 'epoch':
        // A new configuration: its participant starts (if a member), the previous one stops.
        if (e.epoch === n.group && (n.paxos !== undefined) === e.members.includes(n.name)) break;
        note(() => `${n.name} enters configuration ${e.epoch}: ${e.members.join(',')}`);
        n.proposing.clear();
        n.paxos = undefined;
        n.group = e.epoch;
        if (e.members.includes(n.name)) n.paxos = participantFor(n.name, e.epoch, e.members);
        schedule(now, { kind: 'tell_peers' });
        break;
      case 'removed':
        note(() => `${n.name} was removed: it stops`);
        n.up = false;
        n.ready = false;
        n.removed = true;
        n.paxos = undefined;
        schedule(now, { kind: 'tell_peers' });
        break;
    }
  };

  const respond = (n: SimNode, to: Token, reqId: string, result: InventoryResult) => {
    if (to.kind !== 'client') return;
    schedule(now + delay(), { kind: 'response', client: to.client, reqId, result });
    note(() => `${n.name} answers ${reqId}`);
  };

  /** Who each up node sees: the registry's view in the real cluster (reachable, up, ready). */
  const tellPeers = () => {
    for (const n of nodes.values()) {
      if (!n.up) continue;
      const seen = [...nodes.values()].filter((p) => p.up && partitions.reachable(n.name, p.name));
      const epoch = n.replica.epoch;
      replicaEvent(n, {
        type: 'peers',
        now,
        replicas: seen.filter((p) => p.name !== n.name && p.ready).map((p) => p.name),
        // Participants of this replica's configuration (the registry's per-epoch names).
        participants: seen.filter((p) => p.paxos && p.group === epoch).map((p) => p.name),
      });
    }
  };

  /**
   * Every node up and at one log position: the end of a run (with the load over, a replica left
   * behind must still catch up: found by a flaky kill-restart run, where one that missed the last
   * decision stayed behind for ever).
   */
  const converged = (): boolean => {
    let at: number | undefined;
    for (const n of nodes.values()) {
      if (n.removed) continue;
      if (!n.up) return false;
      if (at === undefined) at = n.replica.applied;
      else if (n.replica.applied !== at) return false;
    }
    return true;
  };

  /** Where each node stands, for a liveness report. */
  const whereNodesStand = () =>
    [...nodes.values()]
      .map((n) => {
        const r = n.replica;
        const st = replicaStatus(r);
        return `${n.name}: ${n.up ? 'up' : 'down'}${n.ready ? ', ready' : ''}, applied ${st.applied}, decided max ${r.maxDecided}, leader ${st.leader}, in flight [${[...r.inflight.keys()].join(',')}], pending ${st.pending}, queued ${r.queue.length}, snapshot ${st.snapshotAt}, ${n.removed ? 'removed' : `configuration ${r.epoch}`}, paxos floor ${n.paxos?.learner.floor ?? '-'}${r.catchup ? `, catching up (asking ${r.catchup.peers.join(',') || 'no one'})` : ''}`;
      })
      .join('; ');

  /**
   * A node's life from what its disks hold: its snapshot, then the decisions after it, from each
   * configuration's store in turn (as replica.ts replays them). `join`: a new replica, with the
   * members to catch up from.
   */
  const start = (name: string, life: number, join?: string[]) => {
    const d = diskOf(name, 0).committed();
    const from = d.snapshot?.inst ?? 0;
    const replica = createReplica<InventoryState, InventoryOp, InventoryResult, Token>(
      {
        machine: checkedMachine(name),
        name,
        procs: join ?? names,
        join: join !== undefined,
        options: { ...REPLICA_OPTIONS, batchMax: o.batchMax, snapshotEvery: o.snapshotEvery },
        random,
        mutations: replicaMutations,
      },
      { snapshot: d.snapshot },
    );
    // The decisions replayed from disk are checked too. A decision committed but not yet flushed
    // when its node crashed was never announced, yet it is on disk (a crash keeps committed
    // writes) and replayed now.
    for (let group = -1; group !== replica.epoch; ) {
      group = replica.epoch;
      const dd = group === 0 ? d : diskOf(name, group).committed();
      const after = [...dd.decided].filter(([i]) => i >= replica.applied).sort(([a], [b]) => a - b);
      for (const [inst, value] of after) checkDecision(name, group, inst, value as Entry);
      replayDecided(replica, after);
    }
    const group = replica.epoch;
    const member = replica.members.includes(name);
    const n: SimNode = {
      name,
      up: true,
      epoch: life,
      paxos: member
        ? participantFor(name, group, replica.members, group === 0 ? d : undefined)
        : undefined,
      group,
      removed: false,
      join,
      replica,
      ready: false,
      proposing: new Map(),
      catchups: new Map(),
      flushing: false,
    };
    nodes.set(name, n);
    checkApplied(n, from);
    schedule(now + random() * REPLICA_TICK_MS, { kind: 'tick', node: name, epoch: life });
    replicaEvent(n, { type: 'start', now });
    tellPeers();
  };
  for (const name of names) start(name, 0);

  // ---- clients ----
  const issue = (c: number) => {
    const cl = clients[c]!;
    if (cl.issued >= perClient || m.submitted >= o.ops) {
      cl.reqId = null;
      return;
    }
    cl.issued++;
    m.submitted++;
    const reqId = `c${c}-${cl.issued}`;
    const item = ITEMS[Math.floor(random() * ITEMS.length)]!;
    const k = random();
    const qty = 1 + Math.floor(random() * 3);
    const op: InventoryOp =
      k < 0.4
        ? { kind: 'add', reqId, item, qty }
        : k < 0.75
          ? { kind: 'remove', reqId, item, qty }
          : k < 0.85
            ? {
                kind: 'order',
                reqId,
                lines: [
                  { item: 'apple', qty: 1 },
                  { item: 'plum', qty },
                ],
              }
            : { kind: 'view', reqId };
    submittedOps.set(reqId, JSON.stringify(op));
    cl.reqId = reqId;
    cl.op = op;
    cl.issuedAt = now;
    cl.attempt = 0;
    sendRequest(c);
  };

  const sendRequest = (c: number) => {
    const cl = clients[c]!;
    // Any replica started and not removed (clients keep to the members, as a real one told
    // not_member, or noproc, would: found by seed 145 with --nodes 7 --reconfigs 10, whose
    // clients sent 7 calls in 10 to removed replicas and ran out of time).
    const targets =
      o.reconfigs > 0 ? [...nodes.values()].filter((n) => !n.removed).map((n) => n.name) : names;
    const to = targets[Math.floor(random() * targets.length)]!;
    cl.attempt++;
    if (!(faultsOn && random() < o.lossP))
      schedule(now + delay(), { kind: 'request', client: c, to, op: cl.op! });
    schedule(now + CLIENT_TIMEOUT_MS, {
      kind: 'client_timeout',
      client: c,
      reqId: cl.reqId!,
      attempt: cl.attempt,
    });
  };

  // ---- the admin client: reconfigurations, one at a time, through the log ----
  const admin = {
    /** The configuration it knows (it is the only one to change it, one change at a time). */
    members: [...names],
    op: null as ReconfigOp | null,
    attempt: 0,
    /** Reconfigurations still to start, spares used. */
    left: o.reconfigs,
    spares: 0,
    issued: 0,
  };
  const adminNext = () => {
    if (admin.op !== null) {
      schedule(now + 20, { kind: 'admin_next' }); // the previous one is not done yet
      return;
    }
    admin.left--;
    const canAdd = admin.spares < spares.length && admin.members.length < o.nodes + 1;
    const canRemove = admin.members.length > 2;
    if (!canAdd && !canRemove) return;
    const reqId = `admin-${admin.issued++}`;
    let op: ReconfigOp;
    if (canAdd && (!canRemove || random() < 0.5)) {
      const name = spares[admin.spares++]!;
      note(() => `admin adds ${name} (joining from ${admin.members.join(',')})`);
      start(name, 0, [...admin.members]);
      op = { reqId, rsm: 'reconfig', add: name };
    } else {
      const name = admin.members[Math.floor(random() * admin.members.length)]!;
      note(() => `admin removes ${name}`);
      op = { reqId, rsm: 'reconfig', remove: name };
    }
    submittedOps.set(reqId, JSON.stringify(op));
    admin.op = op;
    admin.attempt = 0;
    adminSend();
  };
  const adminSend = () => {
    const to = admin.members[Math.floor(random() * admin.members.length)]!;
    admin.attempt++;
    if (!(faultsOn && random() < o.lossP))
      schedule(now + delay(), {
        kind: 'request',
        client: ADMIN,
        to,
        op: admin.op as unknown as InventoryOp,
      });
    schedule(now + CLIENT_TIMEOUT_MS, {
      kind: 'admin_timeout',
      reqId: admin.op!.reqId,
      attempt: admin.attempt,
    });
  };
  const adminDone = (reqId: string, result: ReconfigResult) => {
    const op = admin.op;
    if (op === null || op.reqId !== reqId) return; // a late duplicate
    const expected =
      op.add !== undefined
        ? [...admin.members, op.add]
        : admin.members.filter((p) => p !== op.remove);
    if (!result.ok || result.members.join(',') !== expected.join(','))
      throw new Violation(
        'reconfig',
        `${reqId} (${op.add ? `add ${op.add}` : `remove ${op.remove}`} to ${admin.members.join(',')}) answered ${JSON.stringify(result)}`,
      );
    note(() => `admin: configuration ${result.epoch} is ${result.members.join(',')}`);
    admin.members = result.members;
    admin.op = null;
    if (op.add !== undefined) m.added++;
    else m.removed++;
  };
  for (let k = 0; k < o.reconfigs; k++) schedule(random() * o.faultMs, { kind: 'admin_next' });

  // ---- faults ----
  scheduleFaults(o, names, random, schedule);
  if (o.randomProposer > 0) schedule(random() * TICK_MS, { kind: 'random_ballot' });
  schedule(o.faultMs, { kind: 'faults_end' });
  for (let c = 0; c < o.clients; c++) schedule(random(), { kind: 'client_next', client: c });

  // ---- the loop ----
  let violation: SimResult['violation'];
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
          m.acknowledged < m.submitted || m.submitted < o.ops
            ? `operations still unacknowledged ${o.livenessMs} ms (virtual) after faults stopped; ${whereNodesStand()}`
            : `the replicas did not reach one log position ${o.livenessMs} ms (virtual) after faults stopped; ${whereNodesStand()}`,
        );
      switch (e.kind) {
        case 'msg': {
          const n = nodes.get(e.to)!;
          // Only to the participant of that configuration (a stopped one is gone).
          if (!n.up || n.group !== e.group || !partitions.reachable(e.from, e.to)) break;
          note(() => `${e.from} -> ${e.to} ${describeMsg(e.msg)}`);
          paxosStep(n, { type: 'receive', from: e.from, msg: e.msg });
          break;
        }
        case 'rmsg': {
          const n = nodes.get(e.to)!;
          if (!n.up || !partitions.reachable(e.from, e.to)) break;
          const msg = e.msg;
          if (msg.type === 'forward')
            replicaEvent(n, {
              type: 'forward',
              now,
              ops: msg.ops,
              from: e.from,
              epoch: msg.epoch,
            });
          else if (msg.type === 'catchup_request')
            replicaEvent(n, {
              type: 'catchup_request',
              now,
              from: { kind: 'peer', node: e.from, id: msg.id },
              request: msg.request,
            });
          else if (n.catchups.delete(msg.id))
            replicaEvent(n, { type: 'catchup_reply', now, peer: e.from, reply: msg.reply });
          break;
        }
        case 'client_next':
          issue(e.client);
          break;
        case 'request': {
          const n = nodes.get(e.to)!;
          if (!n.up) break;
          replicaEvent(n, {
            type: 'request',
            now,
            from: { kind: 'client', client: e.client, reqId: e.op.reqId },
            op: e.op,
          });
          break;
        }
        case 'response': {
          if (e.client === ADMIN) {
            adminDone(e.reqId, e.result as unknown as ReconfigResult);
            break;
          }
          const cl = clients[e.client]!;
          if (cl.reqId !== e.reqId) break; // a late duplicate
          const json = JSON.stringify(e.result);
          const first = firstResult.get(e.reqId);
          if (cl.op!.kind !== 'view' && cl.op!.kind !== 'get' && first !== json)
            throw new Violation(
              'results',
              `client got ${json} for ${e.reqId}; the log gives ${first}`,
            );
          acked.set(e.reqId, json);
          m.acknowledged++;
          opLatency.push(now - cl.issuedAt);
          if (!faultsOn) m.settleMs = Math.max(m.settleMs, now - faultsEndedAt);
          issue(e.client);
          break;
        }
        case 'client_timeout': {
          const cl = clients[e.client]!;
          if (cl.reqId !== e.reqId || cl.attempt !== e.attempt) break;
          m.retries++;
          sendRequest(e.client);
          break;
        }
        case 'tick': {
          const n = nodes.get(e.node)!;
          if (!n.up || n.epoch !== e.epoch) break;
          replicaEvent(n, { type: 'tick', now });
          schedule(now + REPLICA_TICK_MS, { kind: 'tick', node: n.name, epoch: n.epoch });
          break;
        }
        case 'wake': {
          const n = nodes.get(e.node)!;
          if (n.up && n.epoch === e.epoch) replicaEvent(n, { type: 'wake', now });
          break;
        }
        case 'paxos_flush': {
          const n = nodes.get(e.node)!;
          if (!n.up || n.epoch !== e.epoch) break;
          n.flushing = false;
          paxosStep(n, { type: 'flush' });
          break;
        }
        case 'paxos_timer': {
          const n = nodes.get(e.node)!;
          if (n.up && n.epoch === e.epoch && n.group === e.group)
            paxosStep(n, { type: 'retry', inst: e.inst, ballot: e.ballot });
          break;
        }
        case 'propose_timeout': {
          // Paxos.proposeInstance's timeout: the replica hears `timeout`; the ballot goes on.
          const n = nodes.get(e.node)!;
          if (!n.up || n.epoch !== e.epoch || n.proposing.get(e.inst) !== e.seq) break;
          n.proposing.delete(e.inst);
          replicaEvent(n, {
            type: 'proposed',
            now,
            inst: e.inst,
            outcome: { outcome: 'timeout' },
            epoch: e.entryEpoch,
          });
          break;
        }
        case 'tell_peers':
          tellPeers();
          break;
        case 'admin_next':
          adminNext();
          break;
        case 'admin_timeout':
          if (admin.op?.reqId !== e.reqId || admin.attempt !== e.attempt) break;
          m.retries++;
          adminSend();
          break;
        case 'catchup_timeout': {
          const n = nodes.get(e.node)!;
          if (!n.up || n.epoch !== e.epoch) break;
          const peer = n.catchups.get(e.id);
          if (peer === undefined) break;
          n.catchups.delete(e.id);
          replicaEvent(n, { type: 'catchup_failed', now, peer });
          break;
        }
        case 'crash':
          for (const node of e.nodes) {
            const r = nodes.get(node)!;
            if (!r.up) continue;
            r.up = false;
            r.ready = false;
            downBy.set(node, e.id);
            m.crashes++;
            for (const disk of nodeDisks(node)) disk.crash();
            note(() => `${node} crashes`);
            if (o.mutate === 'amnesia') for (const disk of nodeDisks(node)) disk.wipe();
          }
          tellPeers();
          break;
        case 'power_loss':
          for (const node of e.nodes) {
            const r = nodes.get(node)!;
            // The machine goes dark even if its process was already down.
            if (r.up) downBy.set(node, e.id);
            r.up = false;
            r.ready = false;
            m.powerLosses++;
            let lost = 0;
            for (const disk of nodeDisks(node)) {
              disk.crash();
              lost += disk.powerLoss();
            }
            note(() => `${node} loses power (${lost} unflushed writes lost)`);
          }
          tellPeers();
          break;
        case 'restart': {
          const old = nodes.get(e.node)!;
          if (old.up || old.removed || (e.id !== undefined && downBy.get(e.node) !== e.id)) break;
          note(() => `${e.node} restarts`);
          // From what is on its disk: the snapshot, then the decisions after it are replayed.
          start(e.node, old.epoch + 1, old.join);
          break;
        }
        case 'partition':
          partitions.cut(e.id, e.groups);
          m.partitions++;
          note(() => `partition: ${e.groups.map((g) => `{${g.join(',')}}`).join(' | ')} | rest`);
          tellPeers();
          break;
        case 'heal':
          if (partitions.heal(e.id)) {
            note(() => 'partition healed');
            tellPeers();
          }
          break;
        case 'flush': {
          const r = nodes.get(e.node)!;
          for (const then of disks.get(e.disk)!.flush(e.id)) if (r.up) then();
          break;
        }
        case 'random_ballot': {
          if (!faultsOn) break;
          if (random() < o.randomProposer) {
            const up = [...nodes.values()].filter((n) => n.up && n.paxos);
            if (up.length > 0) {
              const r = up[Math.floor(random() * up.length)]!;
              const paxos = r.paxos!;
              let inst = Math.max(r.replica.applied, paxos.learner.floor);
              while (paxos.learner.decided.has(inst)) inst++;
              m.randomBallots++;
              note(() => `${r.name} starts a random ballot inst=${inst} `);
              paxosStep(r, { type: 'start_ballot', inst });
            }
          }
          schedule(now + TICK_MS, { kind: 'random_ballot' });
          break;
        }
        case 'faults_end':
          faultsOn = false;
          faultsEndedAt = now;
          partitions.heal();
          tellPeers();
          for (const n of nodes.values())
            if (!n.up && !n.removed) schedule(now, { kind: 'restart', node: n.name });
          note(() => 'faults end');
          break;
      }
      const adminIdle = admin.op === null && admin.left === 0;
      if (
        !faultsOn &&
        m.acknowledged === m.submitted &&
        m.submitted >= o.ops &&
        adminIdle &&
        converged()
      )
        break;
    }
    if (m.acknowledged < m.submitted || m.submitted < o.ops)
      throw new Violation(
        'liveness',
        `${m.submitted - m.acknowledged} operations never acknowledged; ${whereNodesStand()}`,
      );
    if (admin.op !== null || admin.left > 0)
      throw new Violation(
        'liveness',
        `reconfiguration ${admin.op?.reqId ?? ''} never acknowledged`,
      );
    // No acknowledged operation lost: each is in the applied log, at a position its
    // configuration's group decided so (not a void decision, not a value merely accepted).
    const inLog = new Set<string>();
    for (const [inst, v] of appliedLog) {
      const entry = JSON.parse(v) as Entry;
      const group = entry.epoch ?? 0;
      if (decided.get(group === 0 ? inst : `${group}:${inst}`) !== v) continue;
      for (const op of entry.ops) inLog.add(op.reqId);
    }
    for (const reqId of acked.keys())
      if (!inLog.has(reqId)) throw new Violation('lost', `acknowledged ${reqId} is not in the log`);
  } catch (thrown) {
    // The core asserts its own invariants too: a broken one is a violation like the others.
    const err =
      thrown instanceof InvariantError
        ? new Violation(
            'invariant',
            thrown.message,
            Number(/instance (\d+)/.exec(thrown.message)?.[1] ?? Number.NaN),
          )
        : thrown;
    if (!(err instanceof Violation)) throw err;
    // The events of the instance concerned, with crashes, restarts and partitions for context.
    const context =
      / (crashes|restarts|loses power|partition|faults end|enters configuration|was removed|admin)/;
    const lines = trace.map(([t, line]) => `${t.toFixed(2).padStart(9)} ${line()}`);
    const relevant =
      err.inst === undefined || Number.isNaN(err.inst)
        ? lines.slice(-40)
        : lines.filter((l) => l.includes(`inst=${err.inst} `) || context.test(l)).slice(-60);
    violation = { kind: err.kind, message: err.message, inst: err.inst, trace: relevant };
  }

  m.virtualMs = Math.round(now);
  m.opLatencyP50 = percentile(opLatency, 50);
  m.opLatencyP99 = percentile(opLatency, 99);
  m.decisionLatencyP50 = percentile(decisionLatency, 50);
  m.decisionLatencyP99 = percentile(decisionLatency, 99);
  m.settleMs = Math.round(m.settleMs);
  addDiskStats(m, disks.values());
  // The first configuration's instances in order, then the later ones' (by key).
  const order = (k: string | number) => (typeof k === 'number' ? k : Number.POSITIVE_INFINITY);
  const digest = runDigest(
    [...decided.entries()].sort(
      ([a], [b]) => order(a) - order(b) || String(a).localeCompare(String(b)),
    ),
    m,
  );
  return { ok: violation === undefined, violation, metrics: m, digest };
}
