// The single-decree Paxos model: N participants running the real step function (apps/paxos/core.ts
// or a student's core on the same interface) under every delivery order, loss, duplication,
// crash and restart within the bounds. Each participant's state is interned once, and each
// (participant state, event) is stepped once: the step function is pure, so its result is reused.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Ballot, compareBallots, formatBallot } from '../paxos/ballot.ts';
import * as shipping from '../paxos/core.ts';
import type { AcceptorRecord, Effect, PaxosMsg } from '../paxos/messages.ts';
import { NO_MUTATIONS, type PaxosMutation } from '../paxos/mutations.ts';
import { decodeState, encodeState, parseState, rebuildState } from './codec.ts';
import type { Model, Successor } from './explore.ts';
import type { MergedSpace, MergedTransition } from './merged.ts';

/** The step-function interface a checked core implements (apps/paxos/core.ts does). */
export interface PaxosCore {
  createParticipant(
    me: string,
    participants: readonly string[],
    durable?: shipping.DurableState,
    mutations?: ReadonlySet<PaxosMutation>,
  ): unknown;
  step(state: never, event: shipping.Event): Effect[];
  /**
   * Optional: the state with what cannot change the participant's behaviour set to one fixed
   * value (apps/paxos/core.ts `modelView`). The model interns views, so states that differ only
   * there are one. It must be exact: two states with the same view give the same effects and
   * views after every event (test/model/view.test.ts checks the shipping core's).
   */
  modelView?(state: never): unknown;
}

export const SHIPPING_CORE: PaxosCore = shipping as unknown as PaxosCore;

export interface PaxosModelOptions {
  participants: number;
  /** Distinct values that may be proposed (A, B, ...). */
  values: number;
  /** start_ballot events in a whole run, over every participant. */
  ballots: number;
  /** Crash-and-restart events in a whole run. */
  crashes: number;
  /** Duplicate deliveries in a whole run. */
  dup: number;
  /** Messages the network may lose in a whole run (0: none; Infinity: any). */
  loss: number;
  mutations: readonly PaxosMutation[];
  /**
   * set: every message sent stays deliverable for ever (the network of the TLA+ specifications):
   * any loss, any number of duplicates and any order, all at once, `dup` and `loss` unused;
   * multiset: a delivery consumes one copy, with `dup` duplicates and `loss` losses at most.
   */
  network: 'set' | 'multiset';
  core?: PaxosCore;
  /**
   * Each participant also remembers (ghost state) every accept it ever sent: the value it
   * proposed under each of its ballots. It changes nothing in a search over whole states (the
   * network holds those messages already) but keeps the merged search precise: without it, two
   * paths where p1 proposed different values under one ballot and then crashed (forgetting
   * which) meet in one configuration, and the merged network holds both accepts, which no real
   * run has (the core's assertion "two values proposed under ballot 2.p1" then fires, at 3
   * participants, 3 ballots and 1 crash). The search is sound whatever is remembered; this only
   * makes it precise. With accepts remembered, no run so far found a possible violation that the
   * shipping core does not have.
   */
  ghostSends?: boolean;
  /** Intern the core's modelView of each state, when it has one (default true). */
  view?: boolean;
  /**
   * The merged search keeps one of each pair of configurations that differ by swapping the values
   * A and B, once both were proposed (the roles compare values only for equality; a core that
   * reads "A" or "B" as anything but a value breaks this: --no-symmetry).
   */
  symmetry?: boolean;
}

export const DEFAULT_PAXOS_MODEL: PaxosModelOptions = {
  participants: 3,
  values: 2,
  ballots: 3,
  crashes: 1,
  dup: 1,
  loss: Number.POSITIVE_INFINITY,
  mutations: [],
  network: 'set',
};

/** One step of a run, as the trace file stores it. */
export type PaxosStep =
  | { kind: 'start'; node: string; value: string | null }
  | { kind: 'deliver' | 'duplicate' | 'drop'; from: string; to: string; msg: PaxosMsg }
  | { kind: 'crash'; node: string };

/** The global state: interned participants, the network as a sorted multiset, budgets used. */
export interface PaxosGlobal {
  nodes: number[];
  net: number[];
  started: number;
  crashes: number;
  dups: number;
  drops: number;
  /** Values A.. proposed so far (always a prefix: unused values are interchangeable). */
  used: number;
}

interface Disk {
  records: Map<number, AcceptorRecord>;
  decided: Map<number, unknown>;
  reservedRound: number;
}

interface NodeEntry {
  text: string;
  /** The value proposed in this life, if any. */
  value: string | null;
  /** The decision on this participant's disk (instance 0), JSON, or null. */
  decided: string | null;
  promised: Ballot | null;
  /** Ghost history: every (ballot, value) this participant's acceptor ever accepted, as text. */
  votes: string[];
  /** Ghost history (with ghostSends): every accept it ever sent, as text. */
  said: string[];
}

interface Wire {
  from: string;
  to: string;
  text: string;
}

interface NodeResult {
  next: number;
  sends: number[];
  words: string;
  violation: string | null;
}

export const VALUE_NAMES = 'ABCDEFGHIJ';

export interface PaxosModel extends Model<PaxosGlobal, PaxosStep> {
  names: string[];
  /** The step in words, as the counterexample prints it. */
  describe(s: PaxosGlobal, step: PaxosStep): string;
  /** Distinct participant states and (state, event) steps computed. */
  stats(): { nodeStates: number; nodeSteps: number; messages: number };
  /** The step in the trace file's form, to match one when replaying. */
  stepKey(step: PaxosStep): string;
  /**
   * The set network only: explores every combination of participant states and budgets once,
   * with the union of every network it was reached with (see exploreMerged in merged.ts).
   */
  mergedSpace(): MergedSpace;
  /** Every distinct participant core state interned so far, decoded afresh (for tests). */
  coreStates(): unknown[];
  /** Every message sent so far (for tests). */
  messages(): Array<{ from: string; to: string; msg: PaxosMsg }>;
}

export function paxosModel(options: PaxosModelOptions): PaxosModel {
  const o = options;
  const core = o.core ?? SHIPPING_CORE;
  const names = Array.from({ length: o.participants }, (_, i) => `p${i + 1}`);
  const mutations: ReadonlySet<PaxosMutation> =
    o.mutations.length > 0 ? new Set(o.mutations) : NO_MUTATIONS;
  const values = VALUE_NAMES.slice(0, o.values).split('');
  const modelView = o.view !== false ? core.modelView : undefined;

  const nodeIds = new Map<string, number>();
  const nodes: NodeEntry[] = [];
  const wireIds = new Map<string, number>();
  const wires: Wire[] = [];
  const cache = new Map<string, NodeResult>();

  const internNode = (
    core: unknown,
    disk: Disk,
    value: string | null,
    votes: string[],
    said: string[] = [],
  ): number => {
    const text = encodeState({
      core: modelView ? modelView(core as never) : core,
      disk,
      value,
      votes,
      said,
    });
    return nodeIds.get(text) ?? addNode(text, disk, value, votes, said);
  };
  const addNode = (
    text: string,
    disk: Disk,
    value: string | null,
    votes: string[],
    said: string[],
  ): number => {
    const id = nodes.length;
    const d = disk.decided.get(0);
    nodes.push({
      text,
      value,
      decided: disk.decided.has(0) ? JSON.stringify(d) : null,
      promised: disk.records.get(0)?.promised ?? null,
      votes,
      said,
    });
    nodeIds.set(text, id);
    return id;
  };
  /** The participant state with this text (as `internNode` wrote it; another model's). */
  const internNodeText = (text: string): number => {
    const known = nodeIds.get(text);
    if (known !== undefined) return known;
    const d = decodeState<{
      disk: Disk;
      value: string | null;
      votes: string[];
      said: string[];
    }>(text);
    return addNode(text, d.disk, d.value, d.votes, d.said);
  };
  const internWire = (
    from: string,
    to: string,
    msg: PaxosMsg,
    text: string = encodeState(msg),
  ): number => {
    const key = `${from}>${to}:${text}`;
    let id = wireIds.get(key);
    if (id === undefined) {
      id = wires.length;
      wires.push({ from, to, text });
      wireIds.set(key, id);
    }
    return id;
  };
  const emptyDisk = (): Disk => ({ records: new Map(), decided: new Map(), reservedRound: 0 });

  // Symmetry between the values A and B: the roles compare values only for equality, so swapping
  // the two everywhere (states, disks, ghosts, messages) maps runs to runs, once both are in play.
  const swapValue = (v: unknown): unknown => (v === 'A' ? 'B' : v === 'B' ? 'A' : v);
  const swapDeep = (v: unknown): unknown => {
    if (typeof v === 'string') return swapValue(v);
    if (Array.isArray(v)) return v.map(swapDeep);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [swapDeep(k), swapDeep(x)]));
    if (v instanceof Set) return new Set([...v].map(swapDeep));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = swapDeep(x);
      return out;
    }
    return v;
  };
  const swappedNode: number[] = [];
  /** The participant state with A and B swapped (interned). */
  const swapNode = (id: number): number => {
    let s = swappedNode[id];
    if (s === undefined) {
      const d = decodeState<{ core: unknown; disk: Disk; value: string | null }>(nodes[id]!.text);
      const e = nodes[id]!;
      const votes = e.votes.map((v) => {
        const at = v.indexOf(' ');
        return `${v.slice(0, at)} ${JSON.stringify(swapValue(JSON.parse(v.slice(at + 1))))}`;
      });
      const said = e.said.map((m) => encodeState(swapDeep(decodeState(m))));
      s = internNode(
        swapDeep(d.core),
        swapDeep(d.disk) as Disk,
        swapValue(d.value) as string | null,
        votes.sort(),
        said.sort(),
      );
      swappedNode[id] = s;
      swappedNode[s] = id;
    }
    return s;
  };
  const swappedWire: number[] = [];
  /** The message with A and B swapped (interned). */
  const swapWire = (w: number): number => {
    let s = swappedWire[w];
    if (s === undefined) {
      const x = wires[w]!;
      s = internWire(x.from, x.to, swapDeep(decodeState<PaxosMsg>(x.text)) as PaxosMsg);
      swappedWire[w] = s;
      swappedWire[s] = w;
    }
    return s;
  };

  /** Each participant state's text parsed (not rebuilt: `rebuildState` copies it for each run). */
  const parsedNodes: unknown[] = [];
  /** Each message's text parsed, likewise. */
  const parsedWires: unknown[] = [];
  /** Runs events on one participant (decoded afresh: no state is shared between runs). */
  const runNode = (
    index: number,
    id: number,
    event:
      | { kind: 'start'; value: string | null }
      | { kind: 'receive'; wire: number }
      | { kind: 'crash' },
  ): NodeResult => {
    const me = names[index]!;
    const entry = nodes[id]!;
    let parsed = parsedNodes[id];
    if (parsed === undefined) {
      parsed = parseState(entry.text);
      parsedNodes[id] = parsed;
    }
    const decoded = rebuildState<{ core: unknown; disk: Disk; value: string | null }>(parsed);
    const votes = [...entry.votes];
    const said = new Set(entry.said);
    const remember = (msg: PaxosMsg) => {
      if (!o.ghostSends) return;
      if (msg.type === 'accept') said.add(encodeState(msg));
    };
    let state = decoded.core;
    const disk = decoded.disk;
    let value = decoded.value;
    const sends: number[] = [];
    const words: string[] = [];
    let violation: string | null = null;
    const apply = (effects: Effect[]) => {
      for (const e of effects) {
        switch (e.type) {
          case 'send':
            remember(e.msg);
            sends.push(internWire(me, e.to, e.msg));
            words.push(`sends ${formatMsg(e.msg)} to ${e.to}`);
            break;
          case 'broadcast':
            remember(e.msg);
            {
              const text = encodeState(e.msg);
              for (const to of names) sends.push(internWire(me, to, e.msg, text));
            }
            words.push(`sends ${formatMsg(e.msg)} to all`);
            break;
          case 'persist': {
            const before = disk.records.get(e.inst)?.promised ?? null;
            const after = e.record.promised;
            if (before !== null && (after === null || compareBallots(after, before) < 0))
              violation ??= `ballot monotonicity: ${me}'s promise went from ${formatBallot(before)} down to ${formatBallot(after)}`;
            disk.records.set(e.inst, e.record);
            if (e.record.accepted) {
              const a = e.record.accepted;
              const vote = `${formatBallot(a.ballot)} ${JSON.stringify(a.value)}`;
              if (!votes.includes(vote)) votes.push(vote);
            }
            words.push(
              `writes promised ${formatBallot(e.record.promised)}, accepted ${formatAccepted(e.record.accepted)}`,
            );
            break;
          }
          case 'reserve':
            disk.reservedRound = e.round;
            words.push(`reserves round ${e.round}`);
            break;
          case 'learn': {
            const v = JSON.stringify(e.value);
            if (disk.decided.has(e.inst) && JSON.stringify(disk.decided.get(e.inst)) !== v)
              violation ??= `decided-never-changes: ${me} decided ${JSON.stringify(disk.decided.get(e.inst))}, then ${v}`;
            disk.decided.set(e.inst, e.value);
            words.push(`learns ${v}`);
            break;
          }
          case 'abort':
            words.push(`gives up (${e.reason})`);
            break;
          default:
            break; // timers: a retransmission is a copy of a message sent (see the README)
        }
      }
    };
    try {
      if (event.kind === 'crash') {
        state = core.createParticipant(me, names, { ...disk }, mutations);
        value = null;
      } else if (event.kind === 'start') {
        if (value === null && event.value !== null) {
          value = event.value;
          apply(core.step(state as never, { type: 'propose', inst: 0, value }));
        }
        apply(core.step(state as never, { type: 'start_ballot', inst: 0 }));
      } else {
        const w = wires[event.wire]!;
        let parsedMsg = parsedWires[event.wire];
        if (parsedMsg === undefined) {
          parsedMsg = parseState(w.text);
          parsedWires[event.wire] = parsedMsg;
        }
        const msg = rebuildState<PaxosMsg>(parsedMsg);
        apply(core.step(state as never, { type: 'receive', from: w.from, msg }));
      }
    } catch (err) {
      violation ??= `the step function threw: ${(err as Error).message}`;
    }
    return {
      next: internNode(state, disk, value, votes.sort(), [...said].sort()),
      sends,
      words: words.join('; '),
      violation,
    };
  };

  const stepNode = (
    index: number,
    id: number,
    key: string,
    event: Parameters<typeof runNode>[2],
  ): NodeResult => {
    const k = `${index}:${id}:${key}`;
    let r = cache.get(k);
    if (r === undefined) {
      r = runNode(index, id, event);
      cache.set(k, r);
    }
    return r;
  };

  /** Receive steps: by participant state id, then by wire and participant (numbers, not strings:
   * the hot path of both searches). Starts and crashes stay in `cache`. */
  const receiveCache: Array<Map<number, NodeResult> | undefined> = [];
  let receiveSteps = 0;
  /** Participant i, in state id, receives wire w (each (state, wire) stepped once). */
  const receive = (i: number, id: number, w: number): NodeResult => {
    // One Map per participant state: a single one would pass a Map's 2^24 entries.
    let byWire = receiveCache[id];
    if (byWire === undefined) {
      byWire = new Map();
      receiveCache[id] = byWire;
    }
    const k = w * 8 + i;
    let r = byWire.get(k);
    if (r === undefined) {
      r = runNode(i, id, { kind: 'receive', wire: w });
      byWire.set(k, r);
      receiveSteps++;
    }
    return r;
  };
  const quorum = Math.floor(o.participants / 2) + 1;
  // Cached by what checkGlobal reads: each participant's votes and decision (a class number
  // per participant state), and the values used. A few thousand combinations for tens of
  // millions of global states.
  const outcomeClasses = new Map<string, number>();
  const outcomeOf: number[] = [];
  const outcomeClass = (id: number): number => {
    let c = outcomeOf[id];
    if (c === undefined) {
      const e = nodes[id]!;
      const k = `${e.votes.join('|')}#${e.decided}`;
      c = outcomeClasses.get(k);
      if (c === undefined) {
        c = outcomeClasses.size;
        outcomeClasses.set(k, c);
      }
      outcomeOf[id] = c;
    }
    return c;
  };
  const verdicts = new Map<number | string, string | null>();
  /** The verdict of checkGlobal for these participant states and values used (read, not kept:
   * the merged search calls this for every configuration it finds, with its own buffers). */
  const verdictOf = (ids: ArrayLike<number>, used: number): string | null => {
    // The key: a number below 2^30 while it fits (a small integer, which a Map hashes fastest;
    // 9 bits per participant), else text.
    let k: number | string = used;
    for (let i = 0; i < ids.length; i++) {
      const c = outcomeClass(ids[i]!);
      if (c >= 512 || k >= 2 ** 21) {
        k = `${used},${Array.from(ids, outcomeClass).join(',')}`;
        break;
      }
      k = k * 512 + c;
    }
    let v = verdicts.get(k);
    if (v === undefined) {
      v = checkGlobal(ids, used);
      verdicts.set(k, v);
    }
    return v;
  };
  /**
   * Agreement on what is chosen (a value a quorum of acceptors accepted under one ballot, ever:
   * Paxos's safety property, which the learners' agreement follows from), then agreement and
   * validity across the participants' disks.
   */
  const checkGlobal = (ids: ArrayLike<number>, used: number): string | null => {
    const voters = new Map<string, string[]>();
    for (let i = 0; i < ids.length; i++)
      for (const v of nodes[ids[i]!]!.votes) voters.set(v, [...(voters.get(v) ?? []), names[i]!]);
    let chosen: { vote: string; by: string[] } | null = null;
    for (const [vote, by] of [...voters].sort(([x], [y]) => (x < y ? -1 : 1))) {
      if (by.length < quorum) continue;
      const value = vote.slice(vote.indexOf(' ') + 1);
      if (chosen === null) chosen = { vote, by };
      else if (chosen.vote.slice(chosen.vote.indexOf(' ') + 1) !== value) {
        const say = (c: { vote: string; by: string[] }) => {
          const [b, v] = [
            c.vote.slice(0, c.vote.indexOf(' ')),
            c.vote.slice(c.vote.indexOf(' ') + 1),
          ];
          return `${v} at ballot ${b} (accepted by ${c.by.join(', ')})`;
        };
        return `agreement: two values chosen, ${say(chosen)} and ${say({ vote, by })}`;
      }
    }
    let first: { node: string; value: string } | null = null;
    for (let i = 0; i < ids.length; i++) {
      const d = nodes[ids[i]!]!.decided;
      if (d === null) continue;
      const allowed = values.slice(0, used).map((v) => JSON.stringify(v));
      if (!allowed.includes(d)) return `validity: ${names[i]} decided ${d}, which nobody proposed`;
      if (first === null) first = { node: names[i]!, value: d };
      else if (first.value !== d)
        return `agreement: ${first.node} decided ${first.value}, ${names[i]} decided ${d}`;
    }
    return null;
  };

  const withNet = (net: number[], remove: number | null, add: number[]): number[] => {
    if (o.network === 'set') {
      if (add.length === 0) return net;
      const set = new Set(net);
      for (const a of add) set.add(a);
      return set.size === net.length ? net : [...set].sort((x, y) => x - y);
    }
    const out = [...net];
    if (remove !== null) out.splice(out.indexOf(remove), 1);
    for (const a of add) out.push(a);
    return out.sort((x, y) => x - y);
  };

  const initial = (): PaxosGlobal => ({
    nodes: names.map((me) =>
      internNode(core.createParticipant(me, names, emptyDisk(), mutations), emptyDisk(), null, []),
    ),
    net: [],
    started: 0,
    crashes: 0,
    dups: 0,
    drops: 0,
    used: 0,
  });

  const key = (g: PaxosGlobal): string =>
    `${g.nodes.join(',')}|${g.net.join(',')}|${g.started},${g.crashes},${g.dups},${o.loss === Number.POSITIVE_INFINITY ? 0 : g.drops},${g.used}`;
  // (in the set network dups and drops stay 0)

  const distinct = (net: number[]): number[] => net.filter((w, i) => i === 0 || net[i - 1] !== w);

  const wireStep = (kind: 'deliver' | 'duplicate' | 'drop', w: number): PaxosStep => {
    const wire = wires[w]!;
    return { kind, from: wire.from, to: wire.to, msg: decodeState<PaxosMsg>(wire.text) };
  };

  const successors = (g: PaxosGlobal): Array<Successor<PaxosGlobal, PaxosStep>> => {
    const out: Array<Successor<PaxosGlobal, PaxosStep>> = [];
    const withNode = (
      i: number,
      r: NodeResult,
      base: Partial<PaxosGlobal>,
      step: PaxosStep,
      net: number[],
    ) => {
      const nodesNext = [...g.nodes];
      nodesNext[i] = r.next;
      const next: PaxosGlobal = { ...g, ...base, nodes: nodesNext, net };
      out.push({ step, next, violation: r.violation ?? verdictOf(next.nodes, next.used) });
    };
    if (g.started < o.ballots) {
      for (let i = 0; i < names.length; i++) {
        const id = g.nodes[i]!;
        const own = nodes[id]!.value;
        const choices =
          own !== null ? [null] : values.slice(0, Math.min(g.used + 1, values.length));
        for (const v of choices) {
          const r = stepNode(i, id, `s:${v}`, { kind: 'start', value: v });
          const used = v === null ? g.used : Math.max(g.used, values.indexOf(v) + 1);
          withNode(
            i,
            r,
            { started: g.started + 1, used },
            { kind: 'start', node: names[i]!, value: v },
            withNet(g.net, null, r.sends),
          );
        }
      }
    }
    const inFlight = distinct(g.net);
    for (const w of inFlight) {
      const to = names.indexOf(wires[w]!.to);
      const r = receive(to, g.nodes[to]!, w);
      withNode(to, r, {}, wireStep('deliver', w), withNet(g.net, w, r.sends));
    }
    if (o.network === 'multiset' && g.dups < o.dup) {
      for (const w of inFlight) {
        const to = names.indexOf(wires[w]!.to);
        const r = receive(to, g.nodes[to]!, w);
        withNode(
          to,
          r,
          { dups: g.dups + 1 },
          wireStep('duplicate', w),
          withNet(g.net, null, r.sends),
        );
      }
    }
    if (o.network === 'multiset' && g.drops < o.loss) {
      for (const w of inFlight) {
        const next: PaxosGlobal = { ...g, drops: g.drops + 1, net: withNet(g.net, w, []) };
        out.push({ step: wireStep('drop', w), next, violation: null });
      }
    }
    if (g.crashes < o.crashes) {
      for (let i = 0; i < names.length; i++) {
        const r = stepNode(i, g.nodes[i]!, 'c', { kind: 'crash' });
        withNode(i, r, { crashes: g.crashes + 1 }, { kind: 'crash', node: names[i]! }, g.net);
      }
    }
    return out;
  };

  /** The participant a step runs on and what it did (from the step cache). */
  const resultFor = (g: PaxosGlobal, step: PaxosStep): { i: number; r: NodeResult | null } => {
    if (step.kind === 'drop') return { i: names.indexOf(step.to), r: null };
    if (step.kind === 'start' || step.kind === 'crash') {
      const i = names.indexOf(step.node);
      const event =
        step.kind === 'crash'
          ? ({ kind: 'crash' } as const)
          : { kind: 'start' as const, value: step.value };
      return {
        i,
        r: stepNode(i, g.nodes[i]!, step.kind === 'crash' ? 'c' : `s:${step.value}`, event),
      };
    }
    const i = names.indexOf(step.to);
    const w = wireIds.get(`${step.from}>${step.to}:${encodeState(step.msg)}`);
    if (w === undefined) return { i, r: null };
    return { i, r: receive(i, g.nodes[i]!, w) };
  };

  const describe = (g: PaxosGlobal, step: PaxosStep): string => {
    const { i, r } = resultFor(g, step);
    const changed = r !== null && r.next !== g.nodes[i];
    const threw = r?.violation?.startsWith('the step function threw') ? 'the step throws' : '';
    const words = r?.words || threw || (changed ? 'counts it' : '');
    switch (step.kind) {
      case 'start': {
        const proposes = step.value !== null ? `proposes ${JSON.stringify(step.value)} and ` : '';
        return `${step.node} ${proposes}starts a ballot: ${words || 'nothing happens'}`;
      }
      case 'deliver':
      case 'duplicate': {
        const dup = step.kind === 'duplicate' ? 'a duplicate of ' : '';
        return `${step.to} receives ${dup}${formatMsg(step.msg)} from ${step.from}: ${words || 'ignores it'}`;
      }
      case 'drop':
        return `the network loses ${formatMsg(step.msg)} from ${step.from} to ${step.to}`;
      case 'crash': {
        const e = r ? nodes[r.next]! : null;
        return `${step.node} crashes and restarts from its disk (promised ${formatBallot(e?.promised ?? null)}, decided ${e?.decided ?? 'nothing'})`;
      }
    }
  };

  const stepKey = (step: PaxosStep): string => encodeState(step);

  /** The wire's addressee, by wire id (grows with the wires). */
  const wireTo: number[] = [];
  const mergedSpace = (): MergedSpace => {
    if (o.network !== 'set')
      throw new Error('the merged search needs the set network (a monotone network)');
    const P = names.length;
    /** Participant i's starts and crashes in state id, with these budgets. */
    const localOf = (i: number, id: number, budgets: readonly number[]): MergedTransition[] => {
      const [started, crashes, used] = budgets as [number, number, number];
      const out: MergedTransition[] = [];
      if (started < o.ballots) {
        const own = nodes[id]!.value;
        const choices = own !== null ? [null] : values.slice(0, Math.min(used + 1, values.length));
        for (const v of choices) {
          const r = stepNode(i, id, `s:${v}`, { kind: 'start', value: v });
          const u = v === null ? used : Math.max(used, values.indexOf(v) + 1);
          out.push({ i, r, budgets: [started + 1, crashes, u] });
        }
      }
      if (crashes < o.crashes)
        out.push({
          i,
          r: stepNode(i, id, 'c', { kind: 'crash' }),
          budgets: [started, crashes + 1, used],
        });
      return out;
    };
    return {
      participants: P,
      initial: () => {
        const g = initial();
        return { nodes: g.nodes, budgets: [g.started, g.crashes, g.used] };
      },
      wires: () => wires.length,
      wireTo: (w) => {
        for (let x = wireTo.length; x < wires.length; x++) wireTo.push(names.indexOf(wires[x]!.to));
        return wireTo[w]!;
      },
      // Uncached here: the search keeps each step it asks for once, in typed arrays, and a second
      // cache would hold every result's words for nothing.
      receive: (i, id, w) => {
        receiveSteps++;
        return runNode(i, id, { kind: 'receive', wire: w });
      },
      local: localOf,
      violation: (nodesNow, budgets) => verdictOf(nodesNow, budgets[2]!),
      stats: () => ({ nodeStates: nodes.length, nodeSteps: cache.size + receiveSteps }),
      texts: {
        node: (id) => nodes[id]!.text,
        nodeFrom: internNodeText,
        wire: (w) => `${wires[w]!.from}>${wires[w]!.to}:${wires[w]!.text}`,
        wireFrom: (text) => {
          const gt = text.indexOf('>');
          const colon = text.indexOf(':', gt);
          const from = text.slice(0, gt);
          const to = text.slice(gt + 1, colon);
          const msg = text.slice(colon + 1);
          if (gt < 1 || !names.includes(from) || !names.includes(to))
            throw new Error(`not a wire of this model: ${text.slice(0, 80)}`);
          return internWire(from, to, decodeState<PaxosMsg>(msg), msg);
        },
      },
      ...(o.symmetry && values.length >= 2
        ? {
            symmetry: {
              // Once A and B were both proposed, every choice of the model is symmetric in them.
              applies: (budgets: ArrayLike<number>) => budgets[2]! >= 2,
              node: swapNode,
              wire: swapWire,
            },
          }
        : {}),
    };
  };

  return {
    mergedSpace,
    coreStates: () => nodes.map((n) => decodeState<{ core: unknown }>(n.text).core),
    messages: () =>
      wires.map((w) => ({ from: w.from, to: w.to, msg: decodeState<PaxosMsg>(w.text) })),
    names,
    initial,
    key,
    successors,
    describe,
    stepKey,
    stats: () => ({
      nodeStates: nodes.length,
      nodeSteps: cache.size + receiveSteps,
      messages: wires.length,
    }),
  };
}

export function formatMsg(m: PaxosMsg): string {
  const b = 'ballot' in m ? formatBallot(m.ballot) : '-';
  switch (m.type) {
    case 'prepare':
      return `prepare(${b})`;
    case 'promise':
      return `promise(${b}, accepted ${formatAccepted(m.accepted)})`;
    case 'accept':
      return `accept(${b}, ${JSON.stringify(m.value)})`;
    case 'accepted':
      return `accepted(${b})`;
    case 'nack':
      return `nack(${b}, promised ${formatBallot(m.promised)})`;
    case 'compacted':
      return `compacted(${b})`;
    case 'decided':
      return `decided(${JSON.stringify(m.value)})`;
    case 'chosen':
      return `chosen(${b})`;
  }
}

function formatAccepted(a: { ballot: Ballot; value: unknown } | null): string {
  return a === null ? 'nothing' : `${JSON.stringify(a.value)} at ${formatBallot(a.ballot)}`;
}

/**
 * The merged search's space, built afresh in a worker thread of the parallel search
 * (apps/model/parallel.ts): the options are copied to the worker, and a core given by `--impl` is
 * loaded there from its path.
 */
export async function paxosMergedSpace(args: {
  options: PaxosModelOptions;
  impl?: string;
}): Promise<MergedSpace> {
  const core =
    args.impl !== undefined
      ? ((await import(pathToFileURL(resolve(args.impl)).href)) as PaxosCore)
      : undefined;
  return paxosModel({ ...args.options, ...(core ? { core } : {}) }).mergedSpace();
}
