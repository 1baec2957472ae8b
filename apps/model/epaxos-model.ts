// The EPaxos model: N replicas running the real core (apps/epaxos/replica.ts), every command on
// one key (so every two interfere and must execute in one order everywhere). Transitions: the
// next command is proposed at any replica (commands are interchangeable, so they come in order
// c1, c2, ...), a message is delivered (the network keeps every message sent deliverable: any
// loss, duplication and order at once), an armed timer fires (a resend, the fast-path wait, a
// watch that starts a recovery: at most --timers in a run), a replica crashes and restarts from
// its disk (at most --crashes). Checked on every transition: one command and attributes per
// instance wherever and whenever it commits, execution only of committed instances, once per
// instance per life, every two lives execute the commands they share in the same order, and the
// core's own assertions.

import { ExecutedSet } from '../epaxos/executed.ts';
import type { Effect, EpaxosMsg, InstanceKey, InstanceRecord } from '../epaxos/messages.ts';
import {
  createReplica,
  type EpaxosMutation,
  propose,
  type ReplicaState,
  replicaStep,
  restartEffects,
} from '../epaxos/replica.ts';
import { encodeState } from './codec.ts';
import type { Model, Successor } from './explore.ts';

export interface EpaxosModelOptions {
  replicas: number;
  /** Commands proposed in a run (c1, c2, ...), all on one key. */
  commands: number;
  /** Timer firings in a whole run, over all replicas. */
  timers: number;
  crashes: number;
  mutations: readonly EpaxosMutation[];
}

/** Bounds that are exhausted in about a second (README: model checking). */
export const DEFAULT_EPAXOS_MODEL: EpaxosModelOptions = {
  replicas: 3,
  commands: 1,
  timers: 0,
  crashes: 1,
  mutations: [],
};

export type EpaxosStep =
  | { kind: 'propose'; node: string; cmd: string }
  | { kind: 'deliver'; from: string; to: string; msg: EpaxosMsg }
  | { kind: 'timer'; node: string; inst: InstanceKey; ballot: string | null }
  | { kind: 'crash'; node: string };

interface Disk {
  records: Map<InstanceKey, InstanceRecord>;
  ballotN: number;
}

interface NodeModel {
  state: ReplicaState;
  disk: Disk;
  /** Armed timers, as `inst|ballot` (ballot `-` for a watch). */
  timers: Set<string>;
  /** Index of this life's execution sequence in `orders`. */
  life: number;
  /**
   * The number interned for replicaKey's JSON, once computed (a node is not changed after it is
   * shared): equal numbers for equal keys, so the global key and the step cache hash a few
   * digits where they hashed the whole replica's JSON, 7 times over at 7 replicas.
   */
  id?: number;
}

export interface EpaxosGlobal {
  nodes: NodeModel[];
  /**
   * Every message sent, by its number in the model (`from|to|json` once read). A set is never
   * changed once a state holds it: a step that sends something new gets a copy.
   */
  net: Set<number>;
  proposed: number;
  timersFired: number;
  crashes: number;
  /** Ghost: the attributes each instance was first committed with (JSON). */
  committed: Map<InstanceKey, string>;
  /** Ghost: each replica life's execution sequence of command ids. */
  orders: string[][];
}

const KEY = 'k';

function cloneReplica(s: ReplicaState): ReplicaState {
  const sets = <K, V>(m: Map<K, Set<V>>) => new Map([...m].map(([k, v]) => [k, new Set(v)]));
  return {
    ...s,
    records: new Map(s.records),
    pendingByKey: sets(s.pendingByKey),
    lastExecutedByKey: new Map(s.lastExecutedByKey),
    committed: new Map(s.committed),
    executed: ExecutedSet.from(s.executed.summary()),
    waiters: sets(s.waiters),
    leading: new Map(
      [...s.leading].map(([k, l]) => [
        k,
        { ...l, deps: [...l.deps], oks: new Set(l.oks), reports: new Map(l.reports) },
      ]),
    ),
    watched: new Set(s.watched),
    seenUpTo: new Map(s.seenUpTo),
    asked: new Set(s.asked),
    heard: new Map(s.heard),
    patience: new Map([...s.patience].map(([k, p]) => [k, { ...p }])),
    checkpointed: new Map(s.checkpointed),
    trimmedUpTo: new Map(s.trimmedUpTo),
    fence: s.fence && { ...s.fence },
  };
}

const sorted = <T>(xs: Iterable<T>): T[] => [...xs].sort();
const entries = <V>(m: Map<string, V>): Array<[string, V]> =>
  [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * A replica's state as it matters for what it does next. `heard` counts messages (unbounded
 * here, where a message may be delivered any number of times); it only matters through
 * "heard from this leader since the watch was armed", so that is what is kept.
 */
function replicaKey(n: NodeModel): unknown {
  const s = n.state;
  return [
    entries(s.records),
    s.nextN,
    s.ballotN,
    entries(s.pendingByKey).map(([k, v]) => [k, sorted(v)]),
    entries(s.lastExecutedByKey),
    sorted(s.committed.keys()),
    s.executed.summary(),
    entries(s.waiters).map(([k, v]) => [k, sorted(v)]),
    entries(s.leading).map(([k, l]) => [
      k,
      l.ballot,
      l.phase,
      l.cmd.id,
      l.seq,
      l.deps,
      l.original,
      l.allUnchanged,
      sorted(l.oks),
      l.resends,
      entries(l.reports),
    ]),
    sorted(s.watched),
    entries(s.seenUpTo),
    sorted(s.asked),
    entries(s.patience).map(([inst, p]) => {
      const owner = inst.slice(0, inst.lastIndexOf('.'));
      return [inst, p.tries, (s.heard.get(owner) ?? 0) > p.heard];
    }),
    entries(n.disk.records),
    n.disk.ballotN,
    sorted(n.timers),
  ];
}

export interface EpaxosModel extends Model<EpaxosGlobal, EpaxosStep> {
  names: string[];
  /** A step in words (what check:model and the replay print). */
  describe(step: EpaxosStep): string;
  /** A step's canonical text: equal for equal steps whatever their keys' order (the replay). */
  stepKey(step: EpaxosStep): string;
}

/** A message as the trace prints it: `preaccept r1.0 ballot 0.r1 seq=0 deps=[]`. */
export function formatEpaxosMsg(m: EpaxosMsg): string {
  const attrs = 'seq' in m ? ` seq=${m.seq} deps=[${m.deps.join(',')}]` : '';
  const b = 'ballot' in m ? ` ballot ${m.ballot.n}.${m.ballot.replica}` : '';
  return `${m.type} ${m.inst}${b}${attrs}`;
}

export function epaxosModel(options: EpaxosModelOptions): EpaxosModel {
  const o = options;
  const names = Array.from({ length: o.replicas }, (_, i) => `r${i + 1}`);
  const mutations = new Set(o.mutations);
  const boot = (name: string, disk?: Disk) =>
    createReplica(name, names, disk && { records: disk.records, ballotN: disk.ballotN }, {
      mutations,
    });

  /** A step's effects on its replica: writes to its disk, timers armed. */
  const carryLocal = (n: NodeModel, effects: readonly Effect[]): void => {
    for (const e of effects) {
      if (e.type === 'persist') n.disk.records.set(e.inst, e.record);
      else if (e.type === 'reserve') n.disk.ballotN = Math.max(n.disk.ballotN, e.ballotN);
      else if (e.type === 'timer')
        n.timers.add(`${e.inst}|${e.ballot === null ? '-' : `${e.ballot.n}.${e.ballot.replica}`}`);
    }
  };

  /** What a step's effects do outside its replica, read once per cached step. */
  type Outward =
    | { type: 'send'; wire: number }
    | { type: 'committed'; inst: InstanceKey; attrs: string }
    | { type: 'execute'; inst: InstanceKey; cmd: string };
  const outwardOf = (i: number, effects: readonly Effect[]): Outward[] => {
    const me = names[i]!;
    const out: Outward[] = [];
    for (const e of effects)
      if (e.type === 'send')
        out.push({ type: 'send', wire: wireOf(`${me}|${e.to}|${JSON.stringify(e.msg)}`).id });
      else if (e.type === 'committed')
        out.push({
          type: 'committed',
          inst: e.inst,
          attrs: JSON.stringify([e.cmd.id, e.seq, [...e.deps].sort()]),
        });
      else if (e.type === 'execute') out.push({ type: 'execute', inst: e.inst, cmd: e.cmd.id });
    return out;
  };

  /**
   * A step's effects on the rest (messages, the ghosts), checked; a violation or null. `g` is
   * the new global state, which still shares its network, ghosts and orders with the state
   * before: each is copied before its first change.
   */
  const carryGlobal = (
    g: EpaxosGlobal,
    i: number,
    n: NodeModel,
    outward: readonly Outward[],
  ): string | null => {
    const me = names[i]!;
    let netCopied = false;
    let committedCopied = false;
    let ordersCopied = false;
    for (const e of outward) {
      switch (e.type) {
        case 'send':
          if (g.net.has(e.wire)) break;
          if (!netCopied) {
            g.net = new Set(g.net);
            netCopied = true;
          }
          g.net.add(e.wire);
          break;
        case 'committed': {
          const first = g.committed.get(e.inst);
          if (first === undefined) {
            if (!committedCopied) {
              g.committed = new Map(g.committed);
              committedCopied = true;
            }
            g.committed.set(e.inst, e.attrs);
          } else if (first !== e.attrs)
            return `committed: ${e.inst} committed at ${me} as ${e.attrs}, before as ${first}`;
          break;
        }
        case 'execute': {
          if (!n.state.committed.has(e.inst) && !n.state.executed.has(e.inst))
            return `executed-uncommitted: ${me} executes ${e.inst} before committing it`;
          if (e.cmd === '') break;
          const mine = g.orders[n.life]!;
          if (mine.includes(e.cmd)) break; // a retried command: the first execution counts
          for (let k = 0; k < g.orders.length; k++) {
            if (k === n.life) continue;
            const other = g.orders[k]!;
            const at = other.indexOf(e.cmd);
            if (at < 0) continue;
            // Everything this life executed before it must come before it there too.
            const wrong = mine.find((id) => other.indexOf(id) > at);
            if (wrong !== undefined)
              return `order: one life executed ${wrong} before ${e.cmd}, another after it`;
          }
          if (!ordersCopied) {
            g.orders = [...g.orders];
            ordersCopied = true;
          }
          g.orders[n.life] = [...mine, e.cmd];
          break;
        }
      }
    }
    return null;
  };

  const cloneNode = (n: NodeModel): NodeModel => ({
    state: cloneReplica(n.state),
    disk: { records: new Map(n.disk.records), ballotN: n.disk.ballotN },
    timers: new Set(n.timers),
    life: n.life,
  });

  /** The global state with only replica i replaced (carryGlobal copies what else changes). */
  const withNode = (g: EpaxosGlobal, i: number, n: NodeModel): EpaxosGlobal => {
    const nodes = [...g.nodes];
    nodes[i] = n;
    return { ...g, nodes };
  };

  /**
   * Replica i's step, computed once per (replica state, event): the core is pure, so the
   * replica after it (shared, never changed again) and its effects are reused.
   */
  const cache = new Map<string, { node: NodeModel; outward: Outward[]; thrown: string | null }>();
  /** One number per distinct replica key. */
  const nodeIds = new Map<string, number>();
  const nodeId = (n: NodeModel): number => {
    if (n.id !== undefined) return n.id;
    const text = JSON.stringify(replicaKey(n));
    let id = nodeIds.get(text);
    if (id === undefined) {
      id = nodeIds.size;
      nodeIds.set(text, id);
    }
    n.id = id;
    return id;
  };
  /**
   * Each distinct message on the wire (`from|to|json`), read once: its number, its receiver and
   * its delivery step (shared by every state that holds it; nothing changes a step).
   */
  interface Wire {
    id: number;
    text: string;
    from: string;
    to: number;
    json: string;
    step: EpaxosStep;
  }
  const wires = new Map<string, Wire>();
  const wireById: Wire[] = [];
  const wireOf = (text: string): Wire => {
    let w = wires.get(text);
    if (w === undefined) {
      const [from, to] = text.split('|', 2) as [string, string];
      const json = text.slice(from.length + to.length + 2);
      const msg = JSON.parse(json) as EpaxosMsg;
      w = {
        id: wires.size,
        text,
        from,
        to: names.indexOf(to),
        json,
        step: { kind: 'deliver', from, to, msg },
      };
      wires.set(text, w);
      wireById.push(w);
    }
    return w;
  };
  /**
   * A network's messages in the order of their text (the order successors come in), and its part
   * of the state's key: once per network, which states share until a step sends something new.
   */
  const netRead = new WeakMap<Set<number>, { sorted: Wire[]; key: string }>();
  const readNet = (net: Set<number>): { sorted: Wire[]; key: string } => {
    let r = netRead.get(net);
    if (r === undefined) {
      const sorted = [...net].map((id) => wireById[id]!);
      sorted.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
      // The text order is one canonical order of the set: the key lists the numbers in it.
      r = { sorted, key: sorted.map((w) => w.id).join(',') };
      netRead.set(net, r);
    }
    return r;
  };
  const stepAt = (
    g: EpaxosGlobal,
    i: number,
    event: string,
    step: (s: ReplicaState) => Effect[],
    before?: (n: NodeModel) => void,
  ): { next: EpaxosGlobal; violation: string | null } => {
    const n0 = g.nodes[i]!;
    const ck = `${i}|${n0.life}|${nodeId(n0)}|${event}`;
    let hit = cache.get(ck);
    if (!hit) {
      const n = cloneNode(n0);
      before?.(n);
      let effects: Effect[] = [];
      let thrown: string | null = null;
      try {
        effects = step(n.state);
      } catch (err) {
        thrown = `the step threw: ${(err as Error).message}`;
      }
      carryLocal(n, effects);
      hit = { node: n, outward: outwardOf(i, effects), thrown };
      cache.set(ck, hit);
    }
    const next = withNode(g, i, hit.node);
    return { next, violation: hit.thrown ?? carryGlobal(next, i, hit.node, hit.outward) };
  };

  return {
    names,
    initial: () => ({
      nodes: names.map((name, i) => ({
        state: boot(name),
        disk: { records: new Map(), ballotN: 0 },
        timers: new Set<string>(),
        life: i,
      })),
      net: new Set(),
      proposed: 0,
      timersFired: 0,
      crashes: 0,
      committed: new Map(),
      orders: names.map(() => []),
    }),
    key: (g) => {
      return `${g.nodes.map(nodeId).join(',')}|${readNet(g.net).key}|${g.proposed}|${g.timersFired}|${g.crashes}|${JSON.stringify([entries(g.committed), g.orders, g.nodes.map((n) => n.life)])}`;
    },
    successors(g, only) {
      const out: Array<Successor<EpaxosGlobal, EpaxosStep>> = [];
      if (g.proposed < o.commands) {
        const cmd = `c${g.proposed + 1}`;
        names.forEach((node, i) => {
          const step: EpaxosStep = { kind: 'propose', node, cmd };
          if (only && !only(step)) return;
          const r = stepAt(
            g,
            i,
            `propose ${cmd}`,
            (s) => propose(s, { id: cmd, keys: [KEY], op: cmd }).effects,
          );
          r.next.proposed++;
          out.push({ step, ...r });
        });
      }
      for (const { id, from, to, json, step } of readNet(g.net).sorted) {
        if (only && !only(step)) continue;
        // The core gets its own copy of the message (it may keep parts of it in its state).
        const r = stepAt(g, to, `m${id}`, (s) =>
          replicaStep(s, { type: 'receive', from, msg: JSON.parse(json) as EpaxosMsg }),
        );
        out.push({ step, ...r });
      }
      if (g.timersFired < o.timers)
        g.nodes.forEach((n, i) => {
          for (const t of sorted(n.timers)) {
            const [inst, b] = t.split('|') as [string, string];
            const dot = b.indexOf('.');
            const ballot =
              b === '-' ? null : { n: Number(b.slice(0, dot)), replica: b.slice(dot + 1) };
            const step: EpaxosStep = {
              kind: 'timer',
              node: names[i]!,
              inst,
              ballot: b === '-' ? null : b,
            };
            if (only && !only(step)) continue;
            const r = stepAt(
              g,
              i,
              `timer ${t}`,
              (s) => replicaStep(s, { type: 'timer', inst, ballot }),
              (m) => m.timers.delete(t),
            );
            r.next.timersFired++;
            out.push({ step, ...r });
          }
        });
      if (g.crashes < o.crashes)
        names.forEach((node, i) => {
          if (only && !only({ kind: 'crash', node })) return;
          const old = g.nodes[i]!;
          const n: NodeModel = {
            state: boot(node, old.disk),
            disk: { records: new Map(old.disk.records), ballotN: old.disk.ballotN },
            timers: new Set(),
            life: g.orders.length,
          };
          const next = withNode(g, i, n);
          next.crashes++;
          next.orders = [...g.orders, []];
          let violation: string | null;
          try {
            const effects = restartEffects(n.state);
            carryLocal(n, effects);
            violation = carryGlobal(next, i, n, outwardOf(i, effects));
          } catch (err) {
            violation = `the step threw: ${(err as Error).message}`;
          }
          out.push({ step: { kind: 'crash', node }, next, violation });
        });
      return out;
    },
    describe(step) {
      switch (step.kind) {
        case 'propose':
          return `${step.node} proposes ${step.cmd}`;
        case 'crash':
          return `${step.node} crashes and restarts from its disk`;
        case 'timer':
          return `${step.node}'s timer for ${step.inst}${step.ballot === null ? ' (watch: recover it)' : ` (ballot ${step.ballot})`} fires`;
        case 'deliver':
          return `${step.to} receives ${formatEpaxosMsg(step.msg)} from ${step.from}`;
      }
    },
    stepKey: (step) => encodeState(step),
  };
}
