// The replicated log's model: N replicas running the real replica core (apps/rsm/core.ts,
// `replicaStep`) over a minimal append machine, with a bounded number of client operations.
//
// The consensus layer below the core is abstracted, soundly and explicitly: Paxos itself is
// checked by the Paxos model. Here every `propose` effect puts its entry on the table for its
// instance, and an instance is decided when the model lets one of the entries proposed for it
// win; from then on that value is the instance's for ever (one value per instance, and one that
// was proposed: Paxos's guarantee). A `propose` is answered, once, with the decided value (once
// there is one) or with a timeout (at any time, decided or not); a decision is announced to
// each replica's participant (its `decide` event, written to its disk) at any time after it.
//
// Transitions: a client submits the next operation (o1, o2, ... : interchangeable, so in order)
// to any replica; a forwarded batch is delivered (the network keeps every message sent
// deliverable: any loss, duplication and order at once); an instance is decided; a proposal is
// answered; a decision is announced to a replica; a catch-up call is served, answered or fails;
// a replica's pending `wake` fires; a client whose call timed out retries it (same reqId) at any
// replica. A replica's clock jumps past every timeout and it gets a `tick`. Clock jumps, proposal
// and catch-up timeouts and client retries are all timeouts: at most --timers of them in a run.
// A replica crashes and restarts from its disk (the decisions its participant learnt; at most
// --crashes); the messages sent to its old life are lost. Each replica has its own clock: the core
// compares only its own times, and real clocks are not synchronised either.
//
// Checked on every transition: every replica applied, at each position below its applied one,
// the value decided there (so the replicas' logs are prefixes of one log); its machine's state
// is that log's operations once each, in order (no operation applied twice, none skipped);
// every proposed (so every applied) operation was submitted by a client; every client reply is
// the machine's answer after that operation in the agreed order (single-copy semantics: the
// append machine answers with the whole sequence so far); and the core's own assertions.
import {
  type CatchupReply,
  type CatchupRequest,
  createReplica,
  type ReplicaConfig,
  type ReplicaEffect,
  type ReplicaEvent,
  type ReplicaMutation,
  type ReplicaState,
  replicaStep,
} from '../rsm/core.ts';
import type { Entry, Machine } from '../rsm/machine.ts';
import { decodeState, encodeState } from './codec.ts';
import type { Model, Successor } from './explore.ts';

export interface RsmModelOptions {
  replicas: number;
  /** Client operations submitted in a run (o1, o2, ...), each once, to any replica. */
  ops: number;
  /** Clock jumps (each followed by a `tick`) in a whole run, over all replicas. */
  timers: number;
  /** Crash-and-restart events in a whole run. */
  crashes: number;
  mutations: readonly ReplicaMutation[];
}

/**
 * Bounds that are exhausted in about a second (README: model checking); with --crashes 1 too,
 * about half a million states (tens of seconds).
 */
export const DEFAULT_RSM_MODEL: RsmModelOptions = {
  replicas: 2,
  ops: 2,
  timers: 1,
  crashes: 0,
  mutations: [],
};

/** The mutations of apps/rsm/core.ts the model can reach (it takes no snapshots). */
export const RSM_MODEL_MUTATIONS: readonly ReplicaMutation[] = ['apply-past-gap'];

/** How far a replica's clock jumps: past every timeout of the core (resend, gap, catch-up). */
export const CLOCK_JUMP_MS = 10_000;

// ---- the append machine: the state is the sequence of operations; a reply is all of it ----

export interface AppendOp {
  reqId: string;
}
export interface AppendState {
  seq: string[];
  /** Remembered replies by reqId (a retried operation is applied once). */
  results: Map<string, string>;
}

export const appendMachine: Machine<AppendState, AppendOp, string> = {
  service: 'append',
  empty: () => ({ seq: [], results: new Map() }),
  validate(op: unknown): asserts op is AppendOp {
    if (typeof op !== 'object' || op === null || typeof (op as AppendOp).reqId !== 'string')
      throw new Error('an operation needs a reqId');
  },
  apply(state, op) {
    const known = state.results.get(op.reqId);
    if (known !== undefined) return known;
    state.seq.push(op.reqId);
    const result = state.seq.join(' ');
    state.results.set(op.reqId, result);
    return result;
  },
  resultOf: (state, reqId) => state.results.get(reqId),
  snapshot: (state) => ({ seq: [...state.seq], results: [...state.results] }),
  restore: (snap) => {
    const s = snap as { seq: string[]; results: Array<[string, string]> };
    return { seq: [...s.seq], results: new Map(s.results) };
  },
};

type Core = ReplicaState<AppendState, AppendOp, string, string>;
type Event = ReplicaEvent<AppendOp, string>;
type Effect = ReplicaEffect<AppendOp, string, string>;

/** Client tokens are `client:<reqId>`, peers catching up `peer:<name>`. */
const clientToken = (reqId: string) => `client:${reqId}`;
const peerToken = (name: string) => `peer:${name}`;

export type RsmStep =
  | { kind: 'submit' | 'retry'; node: string; op: string }
  | { kind: 'forward'; from: string; to: string; ops: string[] }
  | { kind: 'choose'; inst: number; entry: string }
  | { kind: 'answer'; node: string; inst: number; outcome: 'decided' | 'timeout' }
  | { kind: 'decide'; node: string; inst: number }
  | { kind: 'serve'; node: string; peer: string }
  | { kind: 'catchup_reply'; node: string; peer: string }
  | { kind: 'catchup_failed'; node: string; peer: string }
  | { kind: 'wake'; node: string }
  | { kind: 'tick'; node: string }
  | { kind: 'crash'; node: string };

/** A replica: its core state (without its config) and what the model keeps beside it. */
interface NodeEntry {
  text: string;
  ready: boolean;
  applied: number;
  /** history[i] as JSON for i < applied (null: missing). */
  history: Array<string | null>;
  seq: string[];
  replicasUp: string[];
  /** Instances with a `propose` out (its answer not in yet). */
  outstanding: number[];
  /** The catch-up call under way: the peer asked and the request. */
  asking: { to: string; request: CatchupRequest } | null;
  wakeAt: number | undefined;
  clock: number;
  wake: boolean;
  /** The decisions this replica's participant learnt (its disk), by instance. */
  disk: Array<[number, string]>;
}

interface NodeResult {
  next: number;
  effects: Effect[];
  threw: string | null;
}

export interface RsmGlobal {
  nodes: number[];
  /** Forwarded batches sent (wire ids, sorted): a set, each deliverable any number of times. */
  net: number[];
  /** Per replica: the reply to its catch-up call, served and not delivered (wire id), or -1. */
  replies: number[];
  /** Per instance: the entries proposed (JSON, sorted). */
  cands: string[][];
  /** Per instance: the decided entry (JSON), or null. */
  chosen: Array<string | null>;
  submitted: number;
  ticks: number;
  crashes: number;
}

export interface RsmModel extends Model<RsmGlobal, RsmStep> {
  names: string[];
  describe(g: RsmGlobal, step: RsmStep): string;
  stepKey(step: RsmStep): string;
  stats(): { nodeStates: number; nodeSteps: number };
}

export function rsmModel(options: RsmModelOptions): RsmModel {
  const o = options;
  const names = Array.from({ length: o.replicas }, (_, i) => `p${i + 1}`);
  const opIds = Array.from({ length: o.ops }, (_, i) => `o${i + 1}`);
  const mutations = new Set(o.mutations);
  const configs: Array<ReplicaConfig<AppendState, AppendOp, string>> = names.map((name) => ({
    machine: appendMachine,
    name,
    procs: names,
    // No snapshots (the model does not take them), and no randomness: the backoff after a
    // failed ballot is 0 (its length only matters to liveness).
    options: { snapshotEvery: 1e9 },
    random: () => 0,
    mutations,
  }));

  const nodeIds = new Map<string, number>();
  const nodes: NodeEntry[] = [];
  const wireIds = new Map<string, number>();
  const wires: Array<{ from: string; to: string; text: string }> = [];
  const cache = new Map<string, NodeResult>();

  const internWire = (from: string, to: string, msg: unknown): number => {
    const text = JSON.stringify(msg);
    const key = `${from}>${to}:${text}`;
    let id = wireIds.get(key);
    if (id === undefined) {
      id = wires.length;
      wires.push({ from, to, text });
      wireIds.set(key, id);
    }
    return id;
  };

  const internNode = (
    core: Core,
    clock: number,
    wake: boolean,
    disk: Array<[number, string]>,
  ): number => {
    const { config: _c, opts: _o, quorum: _q, ...rest } = core;
    const text = encodeState({ core: rest, clock, wake, disk });
    let id = nodeIds.get(text);
    if (id === undefined) {
      id = nodes.length;
      const history: Array<string | null> = [];
      for (let i = 0; i < core.applied; i++) {
        const e = core.history.get(i);
        history.push(e === undefined ? null : JSON.stringify(e));
      }
      const c = core.catchup;
      nodes.push({
        text,
        ready: core.ready,
        applied: core.applied,
        history,
        seq: [...core.state.seq],
        replicasUp: [...core.replicasUp].sort(),
        outstanding: [...core.inflight].filter(([, f]) => f.outstanding).map(([i]) => i),
        asking:
          c?.asking && c.peers.length > 0
            ? {
                to: c.peers[0]!,
                request: c.transfer
                  ? { from: c.at, chunk: { inst: c.transfer.inst, index: c.transfer.parts.length } }
                  : { from: c.at },
              }
            : null,
        wakeAt: core.wakeAt,
        clock,
        wake,
        disk,
      });
      nodeIds.set(text, id);
    }
    return id;
  };

  const decodeNode = (i: number, id: number): { core: Core; clock: number; wake: boolean } => {
    const d = decodeState<{
      core: Omit<Core, 'config' | 'opts' | 'quorum'>;
      clock: number;
      wake: boolean;
    }>(nodes[id]!.text);
    const fresh = createReplica<AppendState, AppendOp, string, string>(configs[i]!);
    return { core: { ...fresh, ...d.core } as Core, clock: d.clock, wake: d.wake };
  };

  type NodeEvent =
    | { kind: 'event'; make: (now: number) => Event; disk?: [number, string] }
    | { kind: 'tick' }
    | { kind: 'wake' }
    | { kind: 'crash'; replicas: string[] };

  /** Steps replica i (decoded afresh: no state is shared between runs). */
  const runNode = (i: number, id: number, ev: NodeEvent): NodeResult => {
    const entry = nodes[id]!;
    let { core, clock, wake } = decodeNode(i, id);
    let disk = entry.disk;
    const effects: Effect[] = [];
    let threw: string | null = null;
    try {
      switch (ev.kind) {
        case 'event':
          if (ev.disk) disk = [...disk, ev.disk].sort(([a], [b]) => a - b);
          effects.push(...replicaStep(core, ev.make(clock)));
          break;
        case 'tick':
          clock += CLOCK_JUMP_MS;
          effects.push(...replicaStep(core, { type: 'tick', now: clock }));
          break;
        case 'wake':
          wake = false;
          clock = Math.max(clock, core.wakeAt ?? clock);
          effects.push(...replicaStep(core, { type: 'wake', now: clock }));
          break;
        case 'crash':
          wake = false;
          core = createReplica<AppendState, AppendOp, string, string>(configs[i]!, {
            decided: disk.map(([inst, json]) => [inst, JSON.parse(json)] as [number, unknown]),
          });
          effects.push(...replicaStep(core, { type: 'start', now: clock }));
          effects.push(
            ...replicaStep(core, {
              type: 'peers',
              now: clock,
              replicas: ev.replicas,
              participants: names,
            }),
          );
          break;
      }
    } catch (err) {
      threw = `the core threw: ${(err as Error).message}`;
    }
    if (effects.some((e) => e.type === 'wake')) wake = true;
    return { next: internNode(core, clock, wake, disk), effects, threw };
  };

  const stepNode = (i: number, id: number, key: string, ev: NodeEvent): NodeResult => {
    const k = `${i}:${id}:${key}`;
    let r = cache.get(k);
    if (r === undefined) {
      r = runNode(i, id, ev);
      cache.set(k, r);
    }
    return r;
  };

  // ---- checks ----

  /** Entries (JSON) by a small number, for short keys. */
  const entryIds = new Map<string, number>();
  const entryId = (json: string): number => {
    let id = entryIds.get(json);
    if (id === undefined) {
      id = entryIds.size;
      entryIds.set(json, id);
    }
    return id;
  };
  const chosenKey = (chosen: Array<string | null>, upTo: number): string => {
    let k = '';
    for (let i = 0; i < upTo; i++) {
      const c = chosen[i] ?? null;
      k += c === null ? '-;' : `${entryId(c)};`;
    }
    return k;
  };

  /** The operations of the decided log's contiguous prefix, each once, in order. */
  const agreedOrder = (chosen: Array<string | null>): string[] => {
    const order: string[] = [];
    for (const c of chosen) {
      if (c === null) break;
      for (const op of (JSON.parse(c) as Entry<AppendOp>).ops)
        if (!order.includes(op.reqId)) order.push(op.reqId);
    }
    return order;
  };

  const verdicts = new Map<string, string | null>();
  /** What replica i has applied, against the decided log. */
  const checkNode = (i: number, id: number, chosen: Array<string | null>): string | null => {
    const n = nodes[id]!;
    const k = `${id}|${chosenKey(chosen, n.applied)}`;
    let v = verdicts.get(k);
    if (v !== undefined) return v;
    v = null;
    const me = names[i]!;
    const order: string[] = [];
    for (let inst = 0; inst < n.applied && v === null; inst++) {
      const h = n.history[inst];
      const c = chosen[inst] ?? null;
      if (h === null || h === undefined)
        v = `log: ${me} applied up to instance ${n.applied - 1} but has no entry at ${inst}${c === null ? ' (undecided)' : ` (decided ${c})`}`;
      else if (c === null) v = `log: ${me} applied ${h} at instance ${inst}, which is undecided`;
      else if (c !== h) v = `log: ${me} applied ${h} at instance ${inst}, decided there: ${c}`;
      else
        for (const op of (JSON.parse(h) as Entry<AppendOp>).ops)
          if (!order.includes(op.reqId)) order.push(op.reqId);
    }
    if (v === null && n.seq.join(' ') !== order.join(' '))
      v = `state: ${me}'s machine holds [${n.seq.join(' ')}], its log's operations are [${order.join(' ')}] (an operation applied twice, skipped or out of order)`;
    verdicts.set(k, v);
    return v;
  };

  /** A client's reply: the answer after its operation in the agreed order. */
  const checkReply = (
    me: string,
    reqId: string,
    message: unknown,
    chosen: Array<string | null>,
  ): string | null => {
    // A refusal because fewer than a majority are up claims no result: nothing to check.
    if ((message as { rsmError?: { code?: string } })?.rsmError?.code === 'exceed_failure_tolerant')
      return null;
    if (typeof message !== 'string')
      return `reply: ${me} answered ${reqId} with ${JSON.stringify(message)}`;
    const order = agreedOrder(chosen);
    const at = order.indexOf(reqId);
    if (at < 0) return `reply: ${me} answered ${reqId} before it is in the decided log`;
    const expected = order.slice(0, at + 1).join(' ');
    if (message !== expected)
      return `reply: ${me} answered ${reqId} with [${message}], the decided order gives [${expected}]`;
    return null;
  };

  /** The view of who is up that replica j gets from the registry. */
  const viewOf = (g: RsmGlobal, j: number): string[] =>
    names.filter((_p, k) => k !== j && nodes[g.nodes[k]!]!.ready);

  /**
   * Applies replica i's step result to the global state: its messages, proposals, replies; then
   * the registry's news (a replica became ready, or restarted) to the others, until none changes.
   */
  const carry = (
    g: RsmGlobal,
    i: number,
    r: NodeResult,
  ): { next: RsmGlobal; violation: string | null } => {
    const next: RsmGlobal = {
      ...g,
      nodes: [...g.nodes],
      replies: [...g.replies],
      cands: g.cands.map((c) => c),
      chosen: [...g.chosen],
    };
    const net = new Set(g.net);
    let violation: string | null = null;
    /** A client reply's verdict: reported after the replicas' own (which say more). */
    let replyViolation: string | null = null;
    const apply = (j: number, res: NodeResult) => {
      const me = names[j]!;
      next.nodes[j] = res.next;
      violation ??= res.threw;
      for (const e of res.effects) {
        switch (e.type) {
          case 'forward':
            net.add(
              internWire(
                me,
                e.to,
                e.ops.map((op) => op.reqId),
              ),
            );
            break;
          case 'propose': {
            const json = JSON.stringify(e.entry);
            for (const op of e.entry.ops)
              if (
                !opIds.slice(0, next.submitted).includes(op.reqId) ||
                Object.keys(op).length !== 1
              )
                violation ??= `validity: ${me} proposes ${JSON.stringify(op)}, which no client submitted`;
            while (next.cands.length <= e.inst) {
              next.cands.push([]);
              next.chosen.push(null);
            }
            // Once decided, what else was proposed there no longer matters (kept out of the key).
            const c = next.cands[e.inst]!;
            if (next.chosen[e.inst] === null && !c.includes(json))
              next.cands[e.inst] = [...c, json].sort();
            break;
          }
          case 'answer':
            for (const to of e.to)
              replyViolation ??= checkReply(me, to.slice('client:'.length), e.result, next.chosen);
            break;
          case 'reply':
            if (e.to.startsWith('peer:')) {
              const asker = names.indexOf(e.to.slice('peer:'.length));
              next.replies[asker] = internWire(me, names[asker]!, e.message);
            } else
              replyViolation ??= checkReply(
                me,
                e.to.slice('client:'.length),
                e.message,
                next.chosen,
              );
            break;
          case 'save_snapshot':
            violation ??= `model: ${me} takes a snapshot, which the model does not carry out`;
            break;
          default:
            break; // watch (the registry's view covers it), wake (kept with the node), ready
        }
      }
    };
    apply(i, r);
    for (let changed = true; changed && violation === null; ) {
      changed = false;
      for (let j = 0; j < names.length; j++) {
        const view = viewOf(next, j);
        const n = nodes[next.nodes[j]!]!;
        if (view.join(',') === n.replicasUp.join(',')) continue;
        const res = stepNode(j, next.nodes[j]!, `peers:${view.join(',')}`, {
          kind: 'event',
          make: (now) => ({ type: 'peers', now, replicas: view, participants: names }),
        });
        apply(j, res);
        changed = true;
      }
    }
    next.net = net.size === g.net.length ? g.net : [...net].sort((a, b) => a - b);
    if (violation === null)
      for (let j = 0; j < names.length && violation === null; j++)
        violation = checkNode(j, next.nodes[j]!, next.chosen);
    return { next, violation: violation ?? replyViolation };
  };

  const initial = (): RsmGlobal => {
    // Every replica boots together: started, told that every participant is up and no replica
    // is registered yet (so each is caught up at once and ready), then told about the others.
    const g: RsmGlobal = {
      nodes: [],
      net: [],
      replies: names.map(() => -1),
      cands: [],
      chosen: [],
      submitted: 0,
      ticks: 0,
      crashes: 0,
    };
    for (let i = 0; i < names.length; i++) {
      const core = createReplica<AppendState, AppendOp, string, string>(configs[i]!);
      replicaStep(core, { type: 'start', now: 0 });
      replicaStep(core, { type: 'peers', now: 0, replicas: [], participants: names });
      g.nodes.push(internNode(core, 0, false, []));
    }
    for (let i = 0; i < names.length; i++) {
      const view = viewOf(g, i);
      const r = stepNode(i, g.nodes[i]!, `peers:${view.join(',')}`, {
        kind: 'event',
        make: (now) => ({ type: 'peers', now, replicas: view, participants: names }),
      });
      if (r.threw || r.effects.some((e) => e.type !== 'wake' && e.type !== 'watch'))
        throw new Error(`the model's boot did not settle at ${names[i]}`);
      g.nodes[i] = r.next;
    }
    return g;
  };

  const key = (g: RsmGlobal): string =>
    `${g.nodes.join(',')}|${g.net.join(',')}|${g.replies.join(',')}|${g.cands.map((c) => c.map(entryId).join('.')).join(';')}|${chosenKey(g.chosen, g.chosen.length)}|${g.submitted},${g.ticks},${g.crashes}`;

  const successors = (g: RsmGlobal): Array<Successor<RsmGlobal, RsmStep>> => {
    const out: Array<Successor<RsmGlobal, RsmStep>> = [];
    const push = (step: RsmStep, i: number, r: NodeResult, base: Partial<RsmGlobal> = {}) => {
      const { next, violation } = carry({ ...g, ...base }, i, r);
      out.push({ step, next, violation });
    };
    // A client submits the next operation to any replica.
    if (g.submitted < o.ops) {
      const reqId = opIds[g.submitted]!;
      for (let i = 0; i < names.length; i++) {
        const r = stepNode(i, g.nodes[i]!, `req:${reqId}`, {
          kind: 'event',
          make: (now) => ({ type: 'request', now, from: clientToken(reqId), op: { reqId } }),
        });
        push({ kind: 'submit', node: names[i]!, op: reqId }, i, r, { submitted: g.submitted + 1 });
      }
    }
    // A client whose call timed out retries it, under the same reqId, at any replica (a
    // timeout: counted in --timers).
    if (g.ticks < o.timers)
      for (const reqId of opIds.slice(0, g.submitted))
        for (let i = 0; i < names.length; i++) {
          const r = stepNode(i, g.nodes[i]!, `req:${reqId}`, {
            kind: 'event',
            make: (now) => ({ type: 'request', now, from: clientToken(reqId), op: { reqId } }),
          });
          push({ kind: 'retry', node: names[i]!, op: reqId }, i, r, { ticks: g.ticks + 1 });
        }
    // A forwarded batch is delivered (again).
    for (const w of g.net) {
      const wire = wires[w]!;
      const i = names.indexOf(wire.to);
      const ops = JSON.parse(wire.text) as string[];
      const r = stepNode(i, g.nodes[i]!, `fwd:${w}`, {
        kind: 'event',
        make: (now) => ({ type: 'forward', now, ops: ops.map((reqId) => ({ reqId })) }),
      });
      push({ kind: 'forward', from: wire.from, to: wire.to, ops }, i, r);
    }
    // An instance is decided: one of the entries proposed for it wins, for ever.
    g.cands.forEach((cands, inst) => {
      if (g.chosen[inst] !== null) return;
      for (const entry of cands) {
        const chosen = [...g.chosen];
        chosen[inst] = entry;
        const cands = [...g.cands];
        cands[inst] = [];
        const next: RsmGlobal = { ...g, chosen, cands };
        let violation: string | null = null;
        for (let j = 0; j < names.length && violation === null; j++)
          violation = checkNode(j, g.nodes[j]!, chosen);
        out.push({ step: { kind: 'choose', inst, entry }, next, violation });
      }
    });
    for (let i = 0; i < names.length; i++) {
      const id = g.nodes[i]!;
      const n = nodes[id]!;
      const node = names[i]!;
      // A proposal is answered: the decided value, or a timeout.
      for (const inst of n.outstanding) {
        const chosen = g.chosen[inst] ?? null;
        if (chosen !== null) {
          const r = stepNode(i, id, `prop:${inst}:${chosen}`, {
            kind: 'event',
            make: (now) => ({
              type: 'proposed',
              now,
              inst,
              outcome: { outcome: 'decided', value: JSON.parse(chosen) as unknown },
            }),
          });
          push({ kind: 'answer', node, inst, outcome: 'decided' }, i, r);
        }
        if (g.ticks >= o.timers) continue;
        const r = stepNode(i, id, `prop:${inst}:timeout`, {
          kind: 'event',
          make: (now) => ({ type: 'proposed', now, inst, outcome: { outcome: 'timeout' } }),
        });
        push({ kind: 'answer', node, inst, outcome: 'timeout' }, i, r, { ticks: g.ticks + 1 });
      }
      // A decision is announced by the replica's participant (and is on its disk from then on).
      g.chosen.forEach((chosen, inst) => {
        if (chosen === null || n.disk.some(([d]) => d === inst)) return;
        const r = stepNode(i, id, `dec:${inst}:${chosen}`, {
          kind: 'event',
          make: (now) => ({ type: 'decide', now, inst, value: JSON.parse(chosen) as unknown }),
          disk: [inst, chosen],
        });
        push({ kind: 'decide', node, inst }, i, r);
      });
      // The catch-up call under way: served by the peer, then answered; or it fails.
      if (n.asking !== null) {
        const peer = n.asking.to;
        const p = names.indexOf(peer);
        if (g.replies[i] === -1) {
          const request = n.asking.request;
          const r = stepNode(p, g.nodes[p]!, `serve:${node}:${JSON.stringify(request)}`, {
            kind: 'event',
            make: (now) => ({ type: 'catchup_request', now, from: peerToken(node), request }),
          });
          push({ kind: 'serve', node: peer, peer: node }, p, r);
        } else {
          const w = g.replies[i]!;
          const r = stepNode(i, id, `crep:${w}`, {
            kind: 'event',
            make: (now) => ({
              type: 'catchup_reply',
              now,
              peer,
              reply: JSON.parse(wires[w]!.text) as CatchupReply,
            }),
          });
          const replies = [...g.replies];
          replies[i] = -1;
          push({ kind: 'catchup_reply', node, peer }, i, r, { replies });
        }
        if (g.ticks < o.timers) {
          const r = stepNode(i, id, `cfail:${peer}`, {
            kind: 'event',
            make: (now) => ({ type: 'catchup_failed', now, peer }),
          });
          const replies = [...g.replies];
          replies[i] = -1;
          push({ kind: 'catchup_failed', node, peer }, i, r, { replies, ticks: g.ticks + 1 });
        }
      }
      if (n.wake) push({ kind: 'wake', node }, i, stepNode(i, id, 'wake', { kind: 'wake' }));
      if (g.ticks < o.timers)
        push({ kind: 'tick', node }, i, stepNode(i, id, 'tick', { kind: 'tick' }), {
          ticks: g.ticks + 1,
        });
      if (g.crashes < o.crashes) {
        const replicas = viewOf(g, i);
        const r = stepNode(i, id, `crash:${replicas.join(',')}`, { kind: 'crash', replicas });
        const replies = [...g.replies];
        replies[i] = -1;
        // Messages to the replica's old life die with it (they were sent to its old process).
        const net = g.net.filter((w) => wires[w]!.to !== node);
        push({ kind: 'crash', node }, i, r, { crashes: g.crashes + 1, replies, net });
      }
    }
    return out;
  };

  const describe = (g: RsmGlobal, step: RsmStep): string => {
    const i =
      'node' in step ? names.indexOf(step.node) : 'to' in step ? names.indexOf(step.to) : -1;
    const n = i >= 0 ? nodes[g.nodes[i]!]! : null;
    switch (step.kind) {
      case 'submit':
        return `a client submits ${step.op} to ${step.node}`;
      case 'retry':
        return `the client of ${step.op} times out and retries it at ${step.node}`;
      case 'forward':
        return `${step.to} receives ${step.from}'s forward of [${step.ops.join(' ')}]`;
      case 'choose':
        return `instance ${step.inst} is decided: ${entryWords(step.entry)}`;
      case 'answer':
        return step.outcome === 'decided'
          ? `${step.node}'s proposal for instance ${step.inst} is answered: decided ${entryWords(g.chosen[step.inst]!)}`
          : `${step.node}'s proposal for instance ${step.inst} times out`;
      case 'decide':
        return `${step.node}'s participant learns instance ${step.inst} (${entryWords(g.chosen[step.inst]!)})`;
      case 'serve':
        return `${step.node} serves ${step.peer}'s catch-up request`;
      case 'catchup_reply':
        return `${step.node} receives ${step.peer}'s catch-up reply`;
      case 'catchup_failed':
        return `${step.node}'s catch-up call to ${step.peer} fails`;
      case 'wake':
        return `${step.node}'s wake-up fires`;
      case 'tick':
        return `${step.node}'s clock jumps ${CLOCK_JUMP_MS} ms (to ${(n?.clock ?? 0) + CLOCK_JUMP_MS}) and it ticks`;
      case 'crash':
        return `${step.node} crashes and restarts from its disk (${n && n.disk.length > 0 ? `decisions at ${n.disk.map(([d]) => d).join(', ')}` : 'no decisions'})`;
    }
  };

  return {
    names,
    initial,
    key,
    successors,
    describe,
    stepKey: (step) => JSON.stringify(step),
    stats: () => ({ nodeStates: nodes.length, nodeSteps: cache.size }),
  };
}

function entryWords(json: string): string {
  const e = JSON.parse(json) as Entry<AppendOp>;
  return e.ops.length === 0 ? 'a no-op' : `[${e.ops.map((op) => op.reqId).join(' ')}]`;
}
