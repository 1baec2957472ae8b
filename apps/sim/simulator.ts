// A deterministic simulation of the replicated inventory: N replicas, each running the Paxos
// core (apps/paxos/core.ts) and the inventory state machine (apps/inventory/machine.ts), and
// clients, in one process with virtual time and a seeded scheduler. The network delays (a chosen
// distribution, network.ts), loses, duplicates and reorders messages and is cut by partitions
// that heal; each node's disk (disk.ts) commits at once and flushes later; replicas crash (and
// restart from what was committed) or lose power (and restart from what was flushed), at random
// or on an explicit schedule (schedule.ts). Invariants are checked at every step; after faults
// stop, every submitted operation must be acknowledged within a bound.
// Same seed, same run: every random choice comes from one seeded generator, and events at the
// same virtual time run in the order they were scheduled.

import { hash32, seededRandom } from '../../transport/faults.ts';
import {
  applyOp,
  emptyInventory,
  type InventoryOp,
  type InventoryResult,
  type InventoryState,
} from '../inventory/machine.ts';
import { createParticipant, InvariantError, type ParticipantState, step } from '../paxos/core.ts';
import type { Effect, PaxosMsg } from '../paxos/messages.ts';
import { PAXOS_MUTATIONS, type PaxosMutation } from '../paxos/mutations.ts';
import { DEFAULT_FLUSH, Disk, type DiskWrite, type FlushTiming } from './disk.ts';
import { type DelayDist, Partitions, sampleDelay } from './network.ts';
import type { FaultEvent } from './schedule.ts';

/**
 * Deliberately broken variants, to show the checks can fail: the simulator's own (a crash loses
 * the disk; a replica applies accepted values; the runner sends what a write guards before the
 * write is flushed) and the Paxos roles' (apps/paxos/mutations.ts).
 */
export type SimMutation = 'amnesia' | 'apply-accepted' | 'reply-before-flush' | PaxosMutation;

export const SIM_MUTATIONS: readonly SimMutation[] = [
  'amnesia',
  'apply-accepted',
  'reply-before-flush',
  ...PAXOS_MUTATIONS,
];

export interface SimOptions {
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
  /**
   * Duelling proposers during the fault phase: every tick, with this probability, a random up
   * node starts a ballot for the lowest instance it does not know decided.
   */
  randomProposer: number;
  /** After faults stop, every submitted operation must be acknowledged within this (virtual ms). */
  livenessMs: number;
  /** Most operations per instance. */
  batchMax: number;
  /** Test only: a deliberately broken variant, to show the checks can fail. */
  mutate?: SimMutation;
  /** Keep the last N events for a trace on a violation (default 5000). */
  traceKeep?: number;
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
  livenessMs: 30_000,
  batchMax: 16,
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
  /** Virtual ms from the end of faults until the last operation was acknowledged. */
  settleMs: number;
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
    settleMs: 0,
  };
}

export interface SimResult {
  ok: boolean;
  violation?: { kind: string; message: string; inst?: number; trace: string[] };
  metrics: SimMetrics;
  /** A digest of the decided log and the metrics: equal for equal seeds. */
  digest: string;
}

type Entry = { ops: InventoryOp[] };

type Event =
  | { kind: 'msg'; from: string; to: string; msg: PaxosMsg }
  | { kind: 'client_next'; client: number }
  | { kind: 'request'; client: number; to: string; op: InventoryOp }
  | { kind: 'response'; client: number; reqId: string; result: InventoryResult }
  | { kind: 'tick'; node: string; epoch: number }
  | { kind: 'client_timeout'; client: number; reqId: string; attempt: number }
  /** `id` names this outage: only its own restart ends it. */
  | { kind: 'crash'; nodes: string[]; id: number }
  | { kind: 'power_loss'; nodes: string[]; id: number }
  /** Without an id: at the end of faults, whatever took the node down. */
  | { kind: 'restart'; node: string; id?: number }
  | { kind: 'partition'; groups: string[][]; id: number }
  | { kind: 'heal'; id: number }
  | { kind: 'flush'; node: string; id: number }
  | { kind: 'random_ballot' }
  | { kind: 'faults_end' };

interface Scheduled {
  at: number;
  seq: number;
  event: Event;
}

/** A binary min-heap on (at, seq): deterministic order for equal times. */
class Queue {
  private heap: Scheduled[] = [];
  get size(): number {
    return this.heap.length;
  }
  push(item: Scheduled): void {
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
  pop(): Scheduled | undefined {
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
    case 'decided':
      return `${msg.type} inst=${msg.inst} ${b} ${JSON.stringify(msg.value)}`;
    case 'nack':
      return `nack inst=${msg.inst} ${b} promised=${msg.promised.round}.${msg.promised.leader}`;
    default:
      return `${msg.type} inst=${msg.inst} ${b}`;
  }
}

const before = (a: Scheduled, b: Scheduled) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

interface Replica {
  name: string;
  up: boolean;
  /** Bumped at every restart: ticks of an earlier life are ignored. */
  epoch: number;
  core: ParticipantState;
  inv: InventoryState;
  applied: number;
  /** Decided, not applied yet. */
  buffer: Map<number, Entry>;
  maxSeen: number;
  /** Requests received here: answered when applied here. */
  pending: Map<string, { op: InventoryOp; clients: number[] }>;
  queue: InventoryOp[];
  owned: Set<string>;
  inflight: Map<number, { ops: InventoryOp[]; since: number }>;
  nextInst: number;
  backoffUntil: number;
  gapSince: number;
  /** After a restart: probe instance `applied` until the log's end is reached. */
  probing: boolean;
}

interface Client {
  reqId: string | null;
  op: InventoryOp | null;
  issuedAt: number;
  attempt: number;
  issued: number;
}

const ITEMS = ['apple', 'pear', 'plum'];
const TICK_MS = 5;
const CLIENT_TIMEOUT_MS = 150;
const BALLOT_RETRY_MS = 40;
const GAP_MS = 20;
const WINDOW = 4;

/** Runs one simulation. Never throws for a broken invariant: it reports it as a violation. */
export function simulate(options: SimOptions): SimResult {
  const o = { traceKeep: 5000, ...options };
  const random = seededRandom(o.seed);
  const names = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
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
  const decided = new Map<number, string>(); // inst -> JSON of the value
  const firstProposedAt = new Map<number, number>();
  const decisionLatency: number[] = [];
  const chain: number[] = []; // chain[i]: hash of the log up to and including instance i
  const firstResult = new Map<string, string>(); // reqId -> JSON of the result
  const acked = new Map<string, string>(); // reqId -> JSON of the result the client got
  const opLatency: number[] = [];
  let faultsOn = true;
  let faultsEndedAt = 0;
  const partitions = new Partitions();
  let outageIds = 0;
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

  const disks = new Map(names.map((n) => [n, new Disk(random, o.flush)]));
  const paxosMutations = new Set(PAXOS_MUTATIONS.filter((x) => x === o.mutate));
  const replicas = new Map<string, Replica>();
  const fresh = (name: string, epoch: number): Replica => {
    return {
      name,
      up: true,
      epoch,
      core: createParticipant(name, names, disks.get(name)!.committed(), paxosMutations),
      inv: emptyInventory(),
      applied: 0,
      buffer: new Map(),
      maxSeen: -1,
      pending: new Map(),
      queue: [],
      owned: new Set(),
      inflight: new Map(),
      nextInst: 0,
      backoffUntil: 0,
      gapSince: 0,
      probing: epoch > 0,
    };
  };
  for (const n of names) replicas.set(n, fresh(n, 0));

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
  const sendMsg = (from: string, to: string, msg: PaxosMsg) => {
    m.messages++;
    if (faultsOn && random() < o.lossP) {
      m.dropped++;
      return;
    }
    schedule(now + delay(), { kind: 'msg', from, to, msg });
    if (faultsOn && random() < o.dupP) {
      m.duplicated++;
      schedule(now + delay(), { kind: 'msg', from, to, msg });
    }
  };

  // ---- replica logic ----
  /**
   * Carries out effects in order, as the actor shell (apps/paxos/participant.ts) does: a durable
   * write is committed at once, and the effects after it wait until it is flushed.
   */
  const run = (r: Replica, effects: Effect[], from = 0) => {
    const disk = disks.get(r.name)!;
    for (let i = from; i < effects.length; i++) {
      const e = effects[i]!;
      if (e.type === 'persist' || e.type === 'reserve' || e.type === 'learn') {
        const flush = disk.write(e satisfies DiskWrite, now, m.events);
        if (flush) schedule(flush.at, { kind: 'flush', node: r.name, id: flush.id });
        if (o.mutate !== 'reply-before-flush') {
          disk.afterFlush(() => {
            carryOut(r, e);
            run(r, effects, i + 1);
          });
          return;
        }
      }
      carryOut(r, e);
    }
  };

  /** One effect, once the writes before it are flushed. */
  const carryOut = (r: Replica, e: Effect) => {
    switch (e.type) {
      case 'reserve':
        break;
      case 'persist':
        if (o.mutate === 'apply-accepted' && e.record.accepted)
          learn(r, e.inst, e.record.accepted.value as Entry);
        break;
      case 'learn':
        learn(r, e.inst, e.value as Entry);
        break;
      case 'send':
        sendMsg(r.name, e.to, e.msg);
        break;
      case 'broadcast':
        if (e.msg.type === 'prepare') m.ballots++;
        for (const to of names) sendMsg(r.name, to, e.msg);
        break;
      case 'abort': {
        const f = r.inflight.get(e.inst);
        if (f) {
          r.inflight.delete(e.inst);
          requeue(r, f.ops);
        }
        r.backoffUntil = now + random() * 20;
        break;
      }
      default:
        break;
    }
  };

  const requeue = (r: Replica, ops: InventoryOp[]) => {
    const again = ops.filter((op) => r.owned.has(op.reqId));
    r.queue.unshift(...again);
  };

  const learn = (r: Replica, inst: number, value: Entry) => {
    const json = JSON.stringify(value);
    const known = decided.get(inst);
    if (known === undefined) {
      // Validity: only submitted operations (or none) are ever decided.
      for (const op of value.ops) {
        if (submittedOps.get(op.reqId) !== JSON.stringify(op))
          throw new Violation(
            'validity',
            `instance ${inst} decided an operation never submitted: ${JSON.stringify(op)}`,
            inst,
          );
      }
      decided.set(inst, json);
      m.decisions++;
      if (value.ops.length === 0) m.noops++;
      const t0 = firstProposedAt.get(inst);
      if (t0 !== undefined) decisionLatency.push(now - t0);
    } else if (known !== json) {
      throw new Violation(
        'agreement',
        `instance ${inst} decided ${known} and ${json} (at ${r.name})`,
        inst,
      );
    }
    note(() => `${r.name} learns inst=${inst} ${json}`);
    if (inst > r.maxSeen) r.maxSeen = inst;
    const f = r.inflight.get(inst);
    // A restarted replica's no-op probe decided as a no-op: it has reached the log's end.
    if (r.probing && f && f.ops.length === 0 && value.ops.length === 0) r.probing = false;
    if (f) {
      r.inflight.delete(inst);
      const inLog = new Set(value.ops.map((op) => op.reqId));
      requeue(
        r,
        f.ops.filter((op) => !inLog.has(op.reqId)),
      );
    }
    if (inst >= r.applied && !r.buffer.has(inst)) r.buffer.set(inst, value);
    applyReady(r);
  };

  const applyReady = (r: Replica) => {
    for (let entry = r.buffer.get(r.applied); entry; entry = r.buffer.get(r.applied)) {
      const inst = r.applied;
      r.buffer.delete(inst);
      // Identical logs: every replica's log hashes the same at every position.
      const h = hash32(`${inst === 0 ? 0 : chain[inst - 1]}|${JSON.stringify(entry)}`);
      if (chain[inst] === undefined) {
        if (inst > 0 && chain[inst - 1] === undefined)
          throw new Violation(
            'logs',
            `${r.name} applied ${inst} before anyone applied ${inst - 1}`,
            inst,
          );
        chain[inst] = h;
      } else if (chain[inst] !== h) {
        throw new Violation(
          'logs',
          `${r.name}'s log differs from the others' at instance ${inst}`,
          inst,
        );
      }
      for (const op of entry.ops) {
        const result = applyOp(r.inv, op);
        for (const [item, qty] of r.inv.stock)
          if (qty < 0)
            throw new Violation('stock', `${r.name}: ${item} went negative (${qty})`, inst);
        const json = JSON.stringify(result);
        const first = firstResult.get(op.reqId);
        if (first === undefined) firstResult.set(op.reqId, json);
        else if (op.kind !== 'view' && op.kind !== 'get' && first !== json)
          throw new Violation(
            'results',
            `${r.name} computed ${json} for ${op.reqId}, another replica ${first}`,
            inst,
          );
        r.owned.delete(op.reqId);
        const p = r.pending.get(op.reqId);
        if (p) {
          r.pending.delete(op.reqId);
          for (const c of p.clients)
            schedule(now + delay(), { kind: 'response', client: c, reqId: op.reqId, result });
        }
      }
      r.applied++;
    }
  };

  const freeInst = (r: Replica) => {
    r.nextInst = Math.max(r.nextInst, r.applied, r.maxSeen + 1);
    while (r.inflight.has(r.nextInst) || r.core.learner.decided.has(r.nextInst)) r.nextInst++;
    return r.nextInst++;
  };

  const propose = (r: Replica, inst: number, ops: InventoryOp[]) => {
    r.inflight.set(inst, { ops, since: now });
    if (!firstProposedAt.has(inst)) firstProposedAt.set(inst, now);
    step(r.core, { type: 'propose', inst, value: { ops } satisfies Entry });
    note(() => `${r.name} proposes inst=${inst} (${ops.length} ops)`);
    run(r, step(r.core, { type: 'start_ballot', inst }));
  };

  const pump = (r: Replica) => {
    if (now < r.backoffUntil) return;
    while (r.inflight.size < WINDOW && r.queue.length > 0) {
      const batch = r.queue.splice(0, o.batchMax).filter((op) => r.owned.has(op.reqId));
      if (batch.length > 0) propose(r, freeInst(r), batch);
    }
  };

  const tick = (r: Replica) => {
    // A ballot that got no answer (messages lost, a partition): try again, a higher ballot.
    for (const [inst, f] of r.inflight) {
      if (now - f.since > BALLOT_RETRY_MS + random() * BALLOT_RETRY_MS) {
        f.since = now;
        run(r, step(r.core, { type: 'start_ballot', inst }));
      }
    }
    // A hole in the log: fill it (Paxos decides what was accepted there, or the no-op).
    const hole = r.buffer.size > 0 && !r.buffer.has(r.applied);
    if (hole) {
      if (r.gapSince === 0) r.gapSince = now;
      if (now - r.gapSince > GAP_MS) {
        for (let i = r.applied; i < r.maxSeen && r.inflight.size < WINDOW; i++)
          if (!r.buffer.has(i) && !r.inflight.has(i)) propose(r, i, []);
      }
    } else r.gapSince = 0;
    // Restarted: learn how far the log goes by probing the next instance.
    if (r.probing && r.inflight.size === 0 && !hole) propose(r, r.applied, []);
    pump(r);
  };

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
    const to = names[Math.floor(random() * names.length)]!;
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

  // ---- faults ----
  /** Schedules a fault and its end; `forMs` undefined: it lasts until the faults end. */
  const scheduleFault = (at: number, e: FaultEvent) => {
    const id = outageIds++;
    const end = e.forMs === undefined ? undefined : at + e.forMs;
    if (e.kind === 'partition') {
      schedule(at, { kind: 'partition', groups: e.groups, id });
      if (end !== undefined) schedule(end, { kind: 'heal', id });
      return;
    }
    schedule(at, { kind: e.kind === 'crash' ? 'crash' : 'power_loss', nodes: e.nodes, id });
    if (end !== undefined) for (const node of e.nodes) schedule(end, { kind: 'restart', node, id });
  };
  for (const e of o.schedule) scheduleFault(e.atMs, e);
  // Random faults: a mean gap of 1000 / rate ms, each of a kind in proportion to its rate.
  const rates = o.crashRate + o.partitionRate + o.powerLossRate;
  if (rates > 0) {
    const scale = 4 / rates; // gaps of 100..400 ms at 4 events per second
    for (let t = 50 + random() * 200; t < o.faultMs; t += (100 + random() * 300) * scale) {
      const x = random() * rates;
      if (x < o.crashRate) {
        const node = names[Math.floor(random() * names.length)]!;
        scheduleFault(t, { atMs: t, kind: 'crash', nodes: [node], forMs: 20 + random() * 200 });
      } else if (x < o.crashRate + o.partitionRate) {
        const side = names.filter(() => random() < 0.5);
        scheduleFault(t, {
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
        scheduleFault(t, { atMs: t, kind: 'power-loss', nodes, forMs: 20 + random() * 200 });
      }
    }
  }
  if (o.randomProposer > 0) schedule(random() * TICK_MS, { kind: 'random_ballot' });
  schedule(o.faultMs, { kind: 'faults_end' });
  for (const n of names) schedule(random() * TICK_MS, { kind: 'tick', node: n, epoch: 0 });
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
          `operations still unacknowledged ${o.livenessMs} ms (virtual) after faults stopped`,
        );
      switch (e.kind) {
        case 'msg': {
          const r = replicas.get(e.to)!;
          if (!r.up || !partitions.reachable(e.from, e.to)) break;
          note(() => `${e.from} -> ${e.to} ${describeMsg(e.msg)}`);
          run(r, step(r.core, { type: 'receive', from: e.from, msg: e.msg }));
          break;
        }
        case 'client_next':
          issue(e.client);
          break;
        case 'request': {
          const r = replicas.get(e.to)!;
          if (!r.up) break;
          const op = e.op;
          const known = r.inv.results.get(op.reqId);
          if (known && op.kind !== 'view' && op.kind !== 'get') {
            schedule(now + delay(), {
              kind: 'response',
              client: e.client,
              reqId: op.reqId,
              result: known,
            });
            break;
          }
          const p = r.pending.get(op.reqId);
          if (p) p.clients.push(e.client);
          else r.pending.set(op.reqId, { op, clients: [e.client] });
          if (!r.owned.has(op.reqId)) {
            r.owned.add(op.reqId);
            r.queue.push(op);
          }
          pump(r);
          break;
        }
        case 'response': {
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
          const r = replicas.get(e.node)!;
          if (!r.up || r.epoch !== e.epoch) break;
          tick(r);
          if (clients.some((c) => c.reqId !== null) || r.inflight.size > 0 || r.probing)
            schedule(now + TICK_MS, { kind: 'tick', node: r.name, epoch: r.epoch });
          else schedule(now + TICK_MS * 20, { kind: 'tick', node: r.name, epoch: r.epoch });
          break;
        }
        case 'crash':
          for (const node of e.nodes) {
            const r = replicas.get(node)!;
            if (!r.up) continue;
            r.up = false;
            downBy.set(node, e.id);
            m.crashes++;
            disks.get(node)!.crash();
            note(() => `${node} crashes`);
            if (o.mutate === 'amnesia') disks.get(node)!.wipe();
          }
          break;
        case 'power_loss':
          for (const node of e.nodes) {
            const r = replicas.get(node)!;
            // The machine goes dark even if its process was already down.
            if (r.up) downBy.set(node, e.id);
            r.up = false;
            m.powerLosses++;
            const disk = disks.get(node)!;
            disk.crash();
            const lost = disk.powerLoss();
            note(() => `${node} loses power (${lost} unflushed writes lost)`);
          }
          break;
        case 'restart': {
          const old = replicas.get(e.node)!;
          if (old.up || (e.id !== undefined && downBy.get(e.node) !== e.id)) break;
          const r = fresh(e.node, old.epoch + 1);
          replicas.set(e.node, r);
          note(() => `${r.name} restarts`);
          // Its log is replayed from the committed decisions (in order, up to the first hole).
          const d = disks.get(r.name)!.committed();
          for (const inst of [...d.decided.keys()].sort((a, b) => a - b))
            learn(r, inst, d.decided.get(inst) as Entry);
          schedule(now + TICK_MS, { kind: 'tick', node: r.name, epoch: r.epoch });
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
        case 'flush': {
          const r = replicas.get(e.node)!;
          for (const then of disks.get(e.node)!.flush(e.id)) if (r.up) then();
          break;
        }
        case 'random_ballot': {
          if (!faultsOn) break;
          if (random() < o.randomProposer) {
            const up = names.filter((n) => replicas.get(n)!.up);
            if (up.length > 0) {
              const r = replicas.get(up[Math.floor(random() * up.length)]!)!;
              let inst = r.applied;
              while (r.core.learner.decided.has(inst)) inst++;
              m.randomBallots++;
              note(() => `${r.name} starts a random ballot inst=${inst} `);
              run(r, step(r.core, { type: 'start_ballot', inst }));
            }
          }
          schedule(now + TICK_MS, { kind: 'random_ballot' });
          break;
        }
        case 'faults_end':
          faultsOn = false;
          faultsEndedAt = now;
          partitions.heal();
          for (const n of names)
            if (!replicas.get(n)!.up) schedule(now, { kind: 'restart', node: n });
          note(() => 'faults end');
          break;
      }
      if (!faultsOn && m.acknowledged === m.submitted && m.submitted >= o.ops) break;
    }
    if (m.acknowledged < m.submitted || m.submitted < o.ops)
      throw new Violation(
        'liveness',
        `${m.submitted - m.acknowledged} operations never acknowledged`,
      );
    // No acknowledged operation lost: each is in the decided log.
    const inLog = new Set<string>();
    for (const v of decided.values())
      for (const op of (JSON.parse(v) as Entry).ops) inLog.add(op.reqId);
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
    const context = / (crashes|restarts|loses power|partition|faults end)/;
    const lines = trace.map(([t, line]) => `${t.toFixed(2).padStart(9)} ${line()}`);
    const relevant =
      err.inst === undefined || Number.isNaN(err.inst)
        ? lines.slice(-40)
        : lines.filter((l) => l.includes(`inst=${err.inst} `) || context.test(l)).slice(-60);
    violation = { kind: err.kind, message: err.message, inst: err.inst, trace: relevant };
  }

  const pct = (xs: number[], p: number) => {
    if (xs.length === 0) return 0;
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 100) / 100;
  };
  m.virtualMs = Math.round(now);
  m.opLatencyP50 = pct(opLatency, 50);
  m.opLatencyP99 = pct(opLatency, 99);
  m.decisionLatencyP50 = pct(decisionLatency, 50);
  m.decisionLatencyP99 = pct(decisionLatency, 99);
  m.settleMs = Math.round(m.settleMs);
  for (const d of disks.values()) {
    m.diskWrites += d.stats.writes;
    m.flushes += d.stats.flushes;
    m.lostWrites += d.stats.lostWrites;
  }
  const log = [...decided.entries()]
    .sort(([a], [b]) => a - b)
    .map(([i, v]) => `${i}:${v}`)
    .join('\n');
  const digest = hash32(`${log}\n${JSON.stringify(m)}`)
    .toString(16)
    .padStart(8, '0');
  return { ok: violation === undefined, violation, metrics: m, digest };
}
