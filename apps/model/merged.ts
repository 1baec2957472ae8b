// The merged-network search: a sound over-approximation of every reachable state of a model whose
// network only grows (the set network: a message sent stays deliverable for ever).
//
// Many reachable states differ only in their network: the same participant states, reached by
// paths that sent different messages the participants no longer remember sending. This search
// keeps one entry per combination of participant states and budgets (a "configuration") with the
// UNION of the networks of every path that reached it, and explores each configuration again
// whenever that union grows, until nothing grows.
//
// Why it is sound (no violation here means none in any reachable state):
// - a participant's step depends only on its own state and the event (the step function is pure;
//   each (state, event) is stepped once and reused), and whether a step can happen depends only on
//   the configuration (starts, crashes: the budgets) or on the message being in the network;
// - so by induction on a path's length, every reachable state (C, N) has an entry for C whose
//   network holds N: the path's next step is enabled there too (its message is in N, so in the
//   union), it gives the same participant state, and it sends the same messages;
// - every invariant is a function of the configuration and of the step (agreement, validity,
//   decided-never-changes, ballot monotonicity, the core's assertions), and is checked on every
//   step taken from every entry, so on every step of every reachable path.
// It may also take steps no real path takes (a message from one path delivered on another), so a
// violation found here is only possible: the caller confirms it with the exact search, which gives
// the shortest real trace.
import { createHash } from 'node:crypto';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { searchLimits } from './explore.ts';

/** One participant's step as the model's cache holds it. */
export interface StepResult {
  /** The participant's state after it (an interned id). */
  next: number;
  /** Wire ids it sent. */
  sends: number[];
  /** A broken invariant seen in the step itself, or null. */
  violation: string | null;
}

/** A step that needs no message (a start, a crash): who, what, the budgets after. */
export interface MergedTransition {
  i: number;
  r: StepResult;
  budgets: number[];
}

/** What the search needs from a model (paxos-model.ts `mergedSpace()`). */
export interface MergedSpace {
  participants: number;
  initial(): { nodes: number[]; budgets: number[] };
  /** Wire ids interned so far (they grow as steps send new messages). */
  wires(): number;
  /** The participant a wire is addressed to. */
  wireTo(w: number): number;
  /** Participant i, in state id, receives wire w. */
  receive(i: number, id: number, w: number): StepResult;
  /** Participant i's starts and crashes in state id, with these budgets (asked once for each). */
  local(i: number, id: number, budgets: readonly number[]): MergedTransition[];
  /** The invariants over the whole configuration (agreement, validity), or null. */
  violation(nodes: ArrayLike<number>, budgets: ArrayLike<number>): string | null;
  stats(): { nodeStates: number; nodeSteps: number };
  /**
   * Optional: a symmetry of the model (an involution on participant states and wires that maps
   * runs to runs and keeps every invariant's verdict), where `applies` says it holds for these
   * budgets. Of a configuration and its image, only the smaller is kept.
   */
  symmetry?: {
    applies(budgets: ArrayLike<number>): boolean;
    node(id: number): number;
    wire(w: number): number;
  };
  /**
   * Optional: each participant state and wire as text, and the id of a text (interned if new).
   * The parallel search needs them (each worker numbers states and wires in its own model, and
   * tells another a state or wire by its text, once), and so does `dump`.
   */
  texts?: {
    node(id: number): string;
    nodeFrom(text: string): number;
    wire(w: number): string;
    wireFrom(text: string): number;
  };
}

/**
 * One worker's share of a parallel search (apps/model/parallel.ts sets it up). Each configuration
 * has one owner, by a hash of its participant states' texts and budgets (the same for a
 * configuration and its image under the symmetry); a step to a configuration another worker owns
 * is sent there in a batch, with the texts of states, wires and networks the receiver has not
 * been told yet.
 */
export interface MergedPartition {
  self: number;
  workers: number;
  /** Shared control words: the `CTL_*` layout below, over a SharedArrayBuffer. */
  ctl: Int32Array;
  /** A port to each other worker (null at `self`). */
  ports: Array<MessagePort | null>;
}

/** Shared control words: STOP (a bound or a possible violation), DONE (every worker idle, no
 * batch in flight), then CTL_STRIDE words per worker from CTL_WORKER. */
export const CTL_STOP = 0;
export const CTL_DONE = 1;
const CTL_SLEEP = 2;
const CTL_WORKER = 4;
const CTL_STRIDE = 8;
/** Per worker: idle (queue empty, batches sent), times it left idle, batches sent, batches
 * received, configurations found. */
const IDLE = 1;
const EPOCH = 2;
const SENT = 3;
const RECV = 4;
const COUNT = 5;
/** Ints in the control array for this many workers. */
export const ctlLength = (workers: number): number => CTL_WORKER + CTL_STRIDE * workers;

export interface MergedOptions {
  maxStates?: number;
  maxSeconds?: number;
  maxHeapMb?: number;
  onProgress?: (p: MergedProgress) => void;
  progressMs?: number;
  /** The order of exploration: 'rank' (default; see `exploreMerged`) or 'fifo'. */
  order?: 'rank' | 'fifo';
  /** Set in the workers of a parallel search (apps/model/parallel.ts). */
  partition?: MergedPartition;
}

export interface MergedProgress {
  configurations: number;
  expansions: number;
  queued: number;
  elapsedMs: number;
  perSec: number;
  heapMb: number;
}

interface Totals {
  /** Distinct configurations (participant states and budgets) found, each checked. */
  configurations: number;
  /** Configurations explored, re-explorations after their network grew included. */
  expansions: number;
  transitions: number;
  /** Messages (wires) in the largest network. */
  messages: number;
  elapsedMs: number;
  /** The order it ended in: 'fifo' if asked, or once a cycle in the receipt graph was found. */
  order: 'rank' | 'fifo';
  /** The network merged for a configuration (wire ids), or null if none was found. */
  networkOf(nodes: readonly number[], budgets: readonly number[]): number[] | null;
  /**
   * Every configuration with its network, as the SHA-256 of its text (needs the space's
   * `texts`): participant states, budgets and sorted wires; of a configuration and its image
   * under the symmetry, the smaller digest. Two searches covered the same if their dumps are
   * equal as sets.
   */
  dump(): string[];
}

export type MergedResult =
  | (Totals & { kind: 'clean' })
  | (Totals & { kind: 'bound'; bound: 'states' | 'seconds' | 'memory' })
  /** A step from some entry broke an invariant: possible, to be confirmed by the exact search. */
  | (Totals & { kind: 'possible'; violation: string });

/** The number of bits set in a 32-bit word. */
function bitCount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** `a` if it has index `at`, else a copy at least twice as long, the new part filled with `fill`. */
function cover(a: Int32Array<ArrayBuffer>, at: number, fill: number): Int32Array<ArrayBuffer> {
  if (at < a.length) return a;
  let n = a.length * 2;
  while (n <= at) n *= 2;
  const g = new Int32Array(n);
  if (fill !== 0) g.fill(fill, a.length);
  g.set(a);
  return g;
}

/** Runs the merged-network search to its fixpoint, or to a bound, or to a possible violation. */
export function exploreMerged(space: MergedSpace, options: MergedOptions = {}): MergedResult {
  const started = performance.now();
  const { maxStates, maxMs, maxHeap, progressMs } = searchLimits(options);
  const P = space.participants;
  const init = space.initial();
  const B = init.budgets.length;
  /** A configuration: P participant state ids, then B budgets, in one row of `conf`. */
  const S = P + B;

  // Configurations in rows: P participant states and B budgets, then the number of the network.
  let capacity = 1 << 16;
  /** Ints per row: the network's number is read with the configuration (one cache miss, not two). */
  const R = S + 1;
  let conf = new Int32Array(capacity * R);
  let count = 0;
  // Networks in rows of W words (bit w: wire w), interned: configurations reached with the same
  // union share one row (most do). A network only grows: a configuration whose network grows
  // points to another row, and rows are never freed.
  let W = 1;
  let netCap = 1 << 12;
  let nets = new Uint32Array(netCap * W);
  let netCount = 0;
  let netTable = new Int32Array(1 << 13).fill(-1);
  let netMask = netTable.length - 1;
  /** The network being built for a configuration (W words). */
  let tmp = new Uint32Array(W);
  // Open addressing over configuration numbers (-1: empty).
  let table = new Int32Array(1 << 17).fill(-1);
  let mask = table.length - 1;
  // The order of exploration (see `enqueue`): by rank, or first in, first out.
  let queue: number[] = [];
  let head = 0;
  let queued = 0;
  let inQueue = new Uint8Array(capacity);
  let wireTo = new Int32Array(64).fill(-1);
  let expansions = 0;
  let transitions = 0;
  let widest = 0;
  let possible: string | null = null;

  /** FNV-1a over `len` ints from `at`, finished with a multiply-xorshift. */
  const hashInts = (a: Int32Array | Uint32Array, at: number, len: number): number => {
    let h = 0x811c9dc5;
    for (let k = 0; k < len; k++) {
      h = Math.imul(h ^ a[at + k]!, 0x01000193);
      h ^= h >>> 15;
    }
    return Math.imul(h ^ (h >>> 13), 0x85ebca6b) >>> 0;
  };
  const hashRow = (row: Int32Array, at: number): number => hashInts(row, at, S);
  const sameRow = (c: number, row: Int32Array): boolean => {
    const at = c * R;
    for (let k = 0; k < S; k++) if (conf[at + k] !== row[k]) return false;
    return true;
  };
  const find = (row: Int32Array): number => {
    let i = hashRow(row, 0) & mask;
    for (;;) {
      const c = table[i]!;
      if (c < 0 || sameRow(c, row)) return i;
      i = (i + 1) & mask;
    }
  };
  const growTable = () => {
    table = new Int32Array(table.length * 2).fill(-1);
    mask = table.length - 1;
    for (let c = 0; c < count; c++) {
      let i = hashRow(conf, c * R) & mask;
      while (table[i]! >= 0) i = (i + 1) & mask;
      table[i] = c;
    }
  };
  const growRows = () => {
    const cap = capacity * 2;
    const nc = new Int32Array(cap * R);
    nc.set(conf);
    conf = nc;
    const ni = new Uint8Array(cap);
    ni.set(inQueue);
    inQueue = ni;
    capacity = cap;
  };
  const hashNet = (a: Uint32Array, at: number): number => hashInts(a, at, W);
  const rehashNets = (size: number) => {
    netTable = new Int32Array(size).fill(-1);
    netMask = size - 1;
    for (let n = 0; n < netCount; n++) {
      let i = hashNet(nets, n * W) & netMask;
      while (netTable[i]! >= 0) i = (i + 1) & netMask;
      netTable[i] = n;
    }
  };
  /** The number of the network in `tmp` (added if new). */
  const internNet = (): number => {
    let i = hashNet(tmp, 0) & netMask;
    for (;;) {
      const n = netTable[i]!;
      if (n < 0) break;
      let same = true;
      const at = n * W;
      for (let k = 0; k < W; k++)
        if (nets[at + k] !== tmp[k]) {
          same = false;
          break;
        }
      if (same) return n;
      i = (i + 1) & netMask;
    }
    if (netCount === netCap) {
      netCap *= 2;
      const nn = new Uint32Array(netCap * W);
      nn.set(nets);
      nets = nn;
    }
    const n = netCount++;
    nets.set(tmp, n * W);
    netTable[i] = n;
    if (netCount * 2 > netTable.length) rehashNets(netTable.length * 2);
    return n;
  };
  const growWords = (words: number) => {
    let nw = W;
    while (nw < words) nw *= 2;
    const nn = new Uint32Array(netCap * nw);
    for (let n = 0; n < netCount; n++) nn.set(nets.subarray(n * W, n * W + W), n * nw);
    nets = nn;
    const tb = new Uint32Array(P * nw);
    for (let t = 0; t < P; t++) tb.set(toBits.subarray(t * W, t * W + W), t * nw);
    toBits = tb;
    const kn = new Uint32Array(nw);
    kn.set(known);
    known = kn;
    W = nw;
    tmp = new Uint32Array(W);
    rehashNets(netTable.length);
  };
  // Each participant's wires (bit w of row t: wire w is addressed to participant t), and the
  // wires whose addressee is known, in rows of W words as the networks.
  let toBits = new Uint32Array(P * W);
  let known = new Uint32Array(W);
  const to = (w: number): number => {
    wireTo = cover(wireTo, w, -1);
    let t = wireTo[w]!;
    if (t < 0) {
      t = space.wireTo(w);
      wireTo[w] = t;
      if (w >>> 5 >= W) growWords((w >>> 5) + 1);
      toBits[t * W + (w >>> 5)]! |= 1 << (w & 31);
      known[w >>> 5]! |= 1 << (w & 31);
    }
    return t;
  };
  const sym = space.symmetry;
  // Exploring in rank order. A configuration is explored again whenever its network grows, and it
  // grows when a predecessor is explored after it; so explore predecessors first. A start or a
  // crash uses up budget, so it leads to a higher level (the budgets' sum). A receipt keeps the
  // level and moves one participant along an edge of the receipt graph (an edge for each receipt
  // that changed a participant's state), which has no cycles in practice: promises, acceptances,
  // disks and ghosts only grow. Rank each participant state by the longest path to it in that
  // graph as found so far, and a configuration by the sum of its participants' ranks: every step
  // that changes a configuration then raises its (level, rank), and taking the lowest first
  // explores a configuration after all of its predecessors, almost always once. Ranks rise as
  // receipts are found; a configuration whose rank rose since it was queued is moved on when it
  // comes up. A core whose receipts can bring a state back (a cycle: some rank passes the number
  // of states) is explored first in first out from then on. Order only decides how often a
  // configuration is explored over, never what is covered. At 3 participants, 2 values, 3
  // ballots, 1 crash: 59.4 million explorations for 59.1 million configurations (first in, first
  // out, before: 199.3 million).
  let ranked = (options.order ?? 'rank') === 'rank';
  let cycle = false;
  let nodeRank = new Int32Array(1 << 12);
  let highestNode = 0;
  const rankOf = (id: number): number => (id < nodeRank.length ? nodeRank[id]! : 0);
  const setRank = (id: number, r: number) => {
    nodeRank = cover(nodeRank, id, 0);
    nodeRank[id] = r;
  };
  /** The receipt graph: each participant state's successors. */
  const succ: number[][] = [];
  const addEdge = (a: number, b: number) => {
    if (a === b) return;
    const out = succ[a];
    if (out === undefined) succ[a] = [b];
    else out.push(b);
    highestNode = Math.max(highestNode, a, b);
    if (rankOf(b) > rankOf(a)) return;
    setRank(b, rankOf(a) + 1);
    const stack = [b];
    while (stack.length > 0) {
      const x = stack.pop()!;
      const rx = rankOf(x);
      if (rx > highestNode) {
        cycle = true; // a longest path is shorter than the number of states
        return;
      }
      for (const y of succ[x] ?? [])
        if (rankOf(y) <= rx) {
          setRank(y, rx + 1);
          stack.push(y);
        }
    }
  };
  /** The symmetry's image of each participant state once asked for (-1: not yet). */
  let partner = new Int32Array(1 << 12).fill(-1);
  const partnerOf = (id: number): number => {
    let q = id < partner.length ? partner[id]! : -1;
    if (q < 0) {
      q = sym!.node(id);
      partner = cover(partner, Math.max(id, q), -1);
      partner[id] = q;
      partner[q] = id;
    }
    return q;
  };
  /** A participant state's rank; with a symmetry, the higher of its and its image's (the search
   * keeps either of a configuration and its image, so both must come up in the same place). */
  const rankSym = (id: number): number => {
    const q = id < partner.length ? partner[id]! : -1;
    return q < 0 ? rankOf(id) : Math.max(rankOf(id), rankOf(q));
  };
  const rankOfConf = (c: number): number => {
    let r = 0;
    for (let k = 0; k < P; k++) r += rankSym(conf[c * R + k]!);
    return r;
  };
  const levelOf = (c: number): number => {
    let l = 0;
    for (let k = P; k < S; k++) l += conf[c * R + k]!;
    return l;
  };
  /** Queued configurations by level, then rank (within one rank, last in first out). */
  const levels: Array<{ ranks: number[][]; lowest: number; size: number }> = [];
  let lowLevel = 0;
  const toBucket = (c: number, level: number, r: number) => {
    while (levels.length <= level) levels.push({ ranks: [], lowest: 0, size: 0 });
    const l = levels[level]!;
    while (l.ranks.length <= r) l.ranks.push([]);
    l.ranks[r]!.push(c);
    l.size++;
    if (r < l.lowest) l.lowest = r;
    if (level < lowLevel) lowLevel = level;
  };
  /** A cycle in the receipt graph: every queued configuration goes to the first-in-first-out queue. */
  const giveUpRanks = () => {
    ranked = false;
    for (const l of levels) for (const b of l.ranks) for (const c of b) queue.push(c);
    levels.length = 0;
  };
  const enqueue = (c: number) => {
    if (inQueue[c]) return;
    inQueue[c] = 1;
    queued++;
    if (ranked) toBucket(c, levelOf(c), rankOfConf(c));
    else queue.push(c);
  };
  const dequeue = (): number => {
    if (cycle && ranked) giveUpRanks();
    if (ranked) {
      for (;;) {
        while (levels[lowLevel]!.size === 0) lowLevel++;
        const l = levels[lowLevel]!;
        while (l.ranks[l.lowest]!.length === 0) l.lowest++;
        const c = l.ranks[l.lowest]!.pop()!;
        l.size--;
        const r = rankOfConf(c);
        if (r <= l.lowest) return c;
        toBucket(c, lowLevel, r); // its rank rose since it was queued
      }
    }
    const c = queue[head++]!;
    if (head > 1 << 20) {
      queue = queue.slice(head);
      head = 0;
    }
    return c;
  };

  const scratch = new Int32Array(S);
  const scratchNodes = scratch.subarray(0, P);
  const scratchBudgets = scratch.subarray(P);
  const image = new Int32Array(S);
  /**
   * With a symmetry that applies to the configuration in `scratch`: 1 if its image is the smaller
   * (then put there; the caller maps the network and the sends), 2 if it is its own image; else 0.
   */
  const toImage = (): 0 | 1 | 2 => {
    if (sym === undefined || !sym.applies(scratchBudgets)) return 0;
    for (let k = 0; k < P; k++) image[k] = partnerOf(scratch[k]!);
    let k = 0;
    while (k < P && image[k] === scratch[k]) k++;
    if (k === P) return 2;
    if (image[k]! > scratch[k]!) return 0;
    for (let j = 0; j < P; j++) scratch[j] = image[j]!;
    return 1;
  };
  // Networks are combined by number: the union of two networks and the image of one under the
  // symmetry are kept (the union in a cache that forgets on collision), so most merges read no
  // network row at all.
  const UNION_SLOTS = 1 << 20;
  /** Slots of 4 ints (one read): a, b, their union's number, unused. */
  const unions = new Int32Array(UNION_SLOTS * 4).fill(-1);
  /** The number of the union of networks a and b. */
  const union = (a: number, b: number): number => {
    if (a === b) return a;
    const slot = ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) >>> 12) << 2;
    if (unions[slot] === a && unions[slot + 1] === b) return unions[slot + 2]!;
    const at = a * W;
    const bt = b * W;
    let sameA = true;
    let sameB = true;
    for (let k = 0; k < W; k++) {
      const x = nets[at + k]! | nets[bt + k]!;
      tmp[k] = x;
      if (x !== nets[at + k]) sameA = false;
      if (x !== nets[bt + k]) sameB = false;
    }
    const u = sameA ? a : sameB ? b : internNet();
    unions[slot] = a;
    unions[slot + 1] = b;
    unions[slot + 2] = u;
    return u;
  };
  /** Network n with the wires src[off, off+len) added (n itself if it holds them all). */
  const withSends = (n: number, src: ArrayLike<number>, off: number, len: number): number => {
    const at = n * W;
    let j = off;
    const end = off + len;
    while (j < end && (nets[at + (src[j]! >>> 5)]! & (1 << (src[j]! & 31))) !== 0) j++;
    if (j === end) return n;
    tmp.set(nets.subarray(at, at + W));
    for (; j < end; j++) tmp[src[j]! >>> 5]! |= 1 << (src[j]! & 31);
    return internNet();
  };
  /** The wires of network n, in order (into `out`, emptied first). */
  const wiresOf = (n: number, out: number[] = []): number[] => {
    out.length = 0;
    for (let x = 0; x < W; x++) {
      let word = nets[n * W + x]!;
      while (word !== 0) {
        const bit = word & -word;
        word ^= bit;
        out.push((x << 5) | (31 - Math.clz32(bit)));
      }
    }
    return out;
  };
  /** The number of the network of exactly these wires (added if new). */
  const internWires = (wires: readonly number[]): number => {
    for (const w of wires) if (w >>> 5 >= W) growWords((w >>> 5) + 1);
    tmp.fill(0);
    for (const w of wires) tmp[w >>> 5]! |= 1 << (w & 31);
    return internNet();
  };
  let imageNets = new Int32Array(1 << 12).fill(-1);
  /** The number of the image of network n under the symmetry. */
  const imageNet = (n: number): number => {
    imageNets = cover(imageNets, n, -1);
    let m = imageNets[n]!;
    if (m >= 0) return m;
    m = internWires(wiresOf(n).map(sym!.wire));
    imageNets = cover(imageNets, m, -1);
    imageNets[n] = m;
    imageNets[m] = n;
    return m;
  };
  const mappedSends: number[] = [];
  /**
   * Merges network `netIn` (a number) plus the sends src[off, off+len) into the configuration in
   * `scratch`; queues it if it grew.
   */
  const merge = (netIn: number, srcIn: ArrayLike<number>, offIn: number, lenIn: number) => {
    let net = netIn;
    let src = srcIn;
    let off = offIn;
    let len = lenIn;
    const mapping = toImage();
    if (mapping === 1) {
      net = imageNet(netIn);
      mappedSends.length = 0;
      for (let j = offIn; j < offIn + lenIn; j++) mappedSends.push(sym!.wire(srcIn[j]!));
      src = mappedSends;
      off = 0;
      len = mappedSends.length;
    }
    for (let j = off; j < off + len; j++) if (src[j]! >>> 5 >= W) growWords((src[j]! >>> 5) + 1);
    // What this step brings: the network with the sends; for a configuration that is its own
    // image, with the image of that too (the swapped run reaches it as well), so that what it
    // holds does not depend on which of its predecessor and that one's image was kept.
    let incoming = withSends(net, src, off, len);
    if (mapping === 2) incoming = union(incoming, imageNet(incoming));
    const slot = find(scratch);
    let c = table[slot]!;
    if (c < 0) {
      const v = space.violation(scratchNodes, scratchBudgets);
      if (v !== null) {
        possible ??= v;
        return;
      }
      if (count === capacity) growRows();
      c = count++;
      conf.set(scratch, c * R);
      conf[c * R + S] = incoming;
      table[slot] = c;
      if (count * 2 > table.length) growTable();
      enqueue(c);
      return;
    }
    const before = conf[c * R + S]!;
    const after = union(before, incoming);
    if (after === before) return;
    conf[c * R + S] = after;
    enqueue(c);
  };

  const has = (net: Uint32Array, w: number) =>
    w >>> 5 < net.length && (net[w >>> 5]! & (1 << (w & 31))) !== 0;

  // Every step result the search used, in one typed array (the hot path reads no objects, and one
  // result is one read): at x, the participant's next state, flags, the number of sends, then the
  // sends (wire ids).
  let res = new Int32Array(1 << 14);
  let resUsed = 0;
  /** Flags: 1, the step breaks an invariant; 2, it changes nothing and sends nothing. */
  const resViolation = new Map<number, string>();
  const addResult = (id: number, r: StepResult, receipt: boolean): number => {
    while (resUsed + 3 + r.sends.length > res.length) {
      const b = new Int32Array(res.length * 2);
      b.set(res);
      res = b;
    }
    const x = resUsed;
    if (receipt && ranked) addEdge(id, r.next);
    let flag = 0;
    if (r.violation !== null) {
      flag |= 1;
      resViolation.set(x, r.violation);
    }
    if (r.next === id && r.sends.length === 0) flag |= 2;
    res[x] = r.next;
    res[x + 1] = flag;
    res[x + 2] = r.sends.length;
    for (let j = 0; j < r.sends.length; j++) res[x + 3 + j] = r.sends[j]!;
    resUsed = x + 3 + r.sends.length;
    return x;
  };
  // Receive results by (participant state, wire): result + 1 (0: not stepped yet).
  let stateCap = 1 << 10;
  let wireCap = 64;
  let byStateWire = new Int32Array(stateCap * wireCap);
  // The same, as bits: the receipt is known to change nothing and send nothing (about half of all
  // receipts: a message the participant is past). Exploring skips these a word at a time, without
  // reading byStateWire (hundreds of megabytes at 3 participants, 3 ballots: a cache miss each).
  let noop = new Uint32Array(stateCap * (wireCap >>> 5));
  /** Room in byStateWire and noop for participant state id and wire w. */
  const stepRoom = (id: number, w: number) => {
    if (id >= stateCap || w >= wireCap) {
      let sc = stateCap;
      while (sc <= id) sc *= 2;
      let wc = wireCap;
      while (wc <= w) wc *= 2;
      const grown = new Int32Array(sc * wc);
      const grownNoop = new Uint32Array(sc * (wc >>> 5));
      for (let st = 0; st < stateCap; st++) {
        grown.set(byStateWire.subarray(st * wireCap, st * wireCap + wireCap), st * wc);
        const nw = wireCap >>> 5;
        grownNoop.set(noop.subarray(st * nw, st * nw + nw), st * (wc >>> 5));
      }
      byStateWire = grown;
      noop = grownNoop;
      stateCap = sc;
      wireCap = wc;
    }
  };
  /** Keeps a receipt's result (x, from addResult). */
  const keepStep = (id: number, w: number, x: number) => {
    byStateWire[id * wireCap + w] = x + 1;
    if (res[x + 1]! & 2) noop[id * (wireCap >>> 5) + (w >>> 5)]! |= 1 << (w & 31);
  };
  const receiveResult = (t: number, id: number, w: number): number => {
    stepRoom(id, w);
    let x = byStateWire[id * wireCap + w]! - 1;
    if (x < 0) {
      x = addResult(id, space.receive(t, id, w), true);
      keepStep(id, w, x);
      if (part !== null && (res[x + 1]! & 1) === 0) shareStep(t, id, w, x);
    }
    return x;
  };
  // Starts and crashes by budgets (their text), then by participant state.
  type Local = Array<{ x: number; budgets: number[] }>;
  const localCache = new Map<string, Local[]>();
  // Consecutive configurations mostly have the same budgets (they come up level by level):
  // the last lookup is kept, so the text key is built only when the budgets change.
  const lastBudgets = new Int32Array(B).fill(-1);
  let lastByState: Local[] = [];
  /** The starts and crashes for the budgets in row[P..S), by participant state. */
  const localsFor = (row: Int32Array): Local[] => {
    let same = true;
    for (let k = 0; k < B; k++) if (row[P + k] !== lastBudgets[k]) same = false;
    if (same) return lastByState;
    for (let k = 0; k < B; k++) lastBudgets[k] = row[P + k]!;
    const key = lastBudgets.join(',');
    let byState = localCache.get(key);
    if (byState === undefined) {
      byState = [];
      localCache.set(key, byState);
    }
    lastByState = byState;
    return byState;
  };
  const localFor = (i: number, id: number, byState: Local[]): Local => {
    let out = byState[id];
    if (out === undefined) {
      out = space.local(i, id, Array.from(lastBudgets)).map((t) => ({
        x: addResult(id, t.r, false),
        budgets: t.budgets,
      }));
      byState[id] = out;
    }
    return out;
  };

  /** Configuration `row` takes participant i's step x (a result), with the budgets after. */
  const take = (
    row: Int32Array,
    net: Uint32Array,
    netId: number,
    i: number,
    x: number,
    budgets: readonly number[] | null,
  ) => {
    transitions++;
    const flag = res[x + 1]!;
    if (flag & 1) {
      possible ??= resViolation.get(x)!;
      return;
    }
    // Changes nothing; or only uses up budget (a start or crash that leaves the participant as it
    // was): what follows is a subset of what follows from here, explored already.
    if (flag & 2) return;
    const next = res[x]!;
    const off = x + 3;
    const len = res[x + 2]!;
    if (next === row[i]) {
      let all = true;
      for (let j = off; j < off + len; j++) if (!has(net, res[j]!)) all = false;
      if (all) return;
    }
    scratch.set(row);
    scratch[i] = next;
    if (budgets !== null) for (let k = 0; k < B; k++) scratch[P + k] = budgets[k]!;
    if (part !== null) {
      const owner = ownerOf();
      if (owner !== part.self) {
        sendTo(owner, netId, res, off, len);
        return;
      }
    }
    merge(netId, res, off, len);
  };

  // The parallel search: this worker's share (see MergedPartition).
  const part = options.partition ?? null;
  const N = part?.workers ?? 1;
  const ctl = part?.ctl ?? new Int32Array(ctlLength(1));
  const me = part?.self ?? 0;
  const slot = (w: number, field: number) => CTL_WORKER + CTL_STRIDE * w + field;
  const texts = space.texts;
  if (part !== null && texts === undefined)
    throw new Error('a parallel search needs the model to give its states and wires as text');
  /** Each participant state's hash (of its text; 0: not yet). */
  let nodeHashes = new Int32Array(1 << 12);
  const nodeHash = (id: number): number => {
    let h = id < nodeHashes.length ? nodeHashes[id]! : 0;
    if (h === 0) {
      nodeHashes = cover(nodeHashes, id, 0);
      const text = texts!.node(id);
      h = 0x811c9dc5;
      for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) | 1;
      nodeHashes[id] = h;
    }
    return h;
  };
  const mix = (h: number, x: number): number => {
    const m = Math.imul(h ^ x, 0x01000193);
    return m ^ (m >>> 15);
  };
  /**
   * The worker that owns the configuration in `scratch`: by its budgets and the first
   * participant's state (the same for a configuration and its image under the symmetry). A
   * receipt by any other participant then stays with its worker: at 3 participants, 3 ballots,
   * 1 crash, about one successor in four goes to another worker, against one in two with every
   * participant's state in the hash, and the search is 1.2 times as fast; the shares stay
   * within a few percent of each other.
   */
  const ownerOf = (): number => {
    let a = 0x9e3779b9;
    for (let k = P; k < S; k++) a = mix(a, scratch[k]!);
    let h = mix(a, nodeHash(scratch[0]!)) >>> 0;
    if (sym?.applies(scratchBudgets))
      h = Math.min(h, mix(a, nodeHash(partnerOf(scratch[0]!))) >>> 0);
    return (Math.imul(h ^ (h >>> 13), 0x85ebca6b) >>> 0) % N;
  };
  /** What is on its way to each other worker, and what it has been told. */
  interface Outbox {
    ints: Int32Array<ArrayBuffer>;
    len: number;
    nodes: Array<[number, string]>;
    wires: Array<[number, string]>;
    sentNode: Int32Array<ArrayBuffer>;
    sentWire: Int32Array<ArrayBuffer>;
    sentNet: Int32Array<ArrayBuffer>;
  }
  const BATCH = 1 << 15;
  const outbox: Outbox[] = Array.from({ length: N }, () => ({
    ints: new Int32Array(BATCH),
    len: 0,
    nodes: [],
    wires: [],
    sentNode: new Int32Array(64),
    sentWire: new Int32Array(64),
    sentNet: new Int32Array(64),
  }));
  const flush = (q: number) => {
    const o = outbox[q]!;
    if (o.len === 0 && o.nodes.length === 0 && o.wires.length === 0) return;
    Atomics.add(ctl, slot(me, SENT), 1);
    part!.ports[q]!.postMessage({ ints: o.ints, len: o.len, nodes: o.nodes, wires: o.wires }, [
      o.ints.buffer,
    ]);
    o.ints = new Int32Array(BATCH);
    o.len = 0;
    o.nodes = [];
    o.wires = [];
  };
  const flushAll = () => {
    for (let q = 0; q < N; q++) if (q !== me) flush(q);
  };
  /** Room for `need` more ints in worker q's batch (sending what is there if it is full). */
  const room = (q: number, need: number): Outbox => {
    const o = outbox[q]!;
    if (o.len + need > o.ints.length) {
      flush(q);
      if (need > o.ints.length) o.ints = new Int32Array(need * 2);
    }
    return o;
  };
  const tellWire = (o: Outbox, w: number) => {
    o.sentWire = cover(o.sentWire, w, 0);
    if (o.sentWire[w] !== 0) return;
    o.sentWire[w] = 1;
    o.wires.push([w, texts!.wire(w)]);
  };
  const tellNode = (o: Outbox, id: number) => {
    o.sentNode = cover(o.sentNode, id, 0);
    if (o.sentNode[id] !== 0) return;
    o.sentNode[id] = 1;
    o.nodes.push([id, texts!.node(id)]);
  };
  /**
   * Every other worker learns a receipt's result (x) as this one stepped it: the core's steps
   * are the costliest part of a search's first minutes, and each worker meets most participant
   * states. (One that breaks an invariant is not sent: the worker that meets it steps it.)
   */
  const shareStep = (t: number, id: number, w: number, x: number) => {
    const len = res[x + 2]!;
    for (let q = 0; q < N; q++) {
      if (q === me) continue;
      let o = outbox[q]!;
      tellNode(o, id);
      tellNode(o, res[x]!);
      tellWire(o, w);
      for (let j = 0; j < len; j++) tellWire(o, res[x + 3 + j]!);
      o = room(q, 7 + len);
      o.ints[o.len++] = -2;
      o.ints[o.len++] = t;
      o.ints[o.len++] = id;
      o.ints[o.len++] = w;
      o.ints[o.len++] = res[x]!;
      o.ints[o.len++] = res[x + 1]!;
      o.ints[o.len++] = len;
      for (let j = 0; j < len; j++) o.ints[o.len++] = res[x + 3 + j]!;
    }
  };
  const netWires: number[] = [];
  /** Worker q gets the configuration in `scratch`, reached with network netId plus the sends. */
  const sendTo = (q: number, netId: number, src: Int32Array, off: number, len: number) => {
    let o = outbox[q]!;
    for (let k = 0; k < P; k++) tellNode(o, scratch[k]!);
    o.sentNet = cover(o.sentNet, netId, 0);
    if (o.sentNet[netId] === 0) {
      o.sentNet[netId] = 1;
      wiresOf(netId, netWires);
      for (const w of netWires) tellWire(o, w);
      o = room(q, 3 + netWires.length);
      o.ints[o.len++] = -1;
      o.ints[o.len++] = netId;
      o.ints[o.len++] = netWires.length;
      for (const w of netWires) o.ints[o.len++] = w;
    }
    for (let j = off; j < off + len; j++) tellWire(o, src[j]!);
    o = room(q, S + 2 + len);
    for (let k = 0; k < S; k++) o.ints[o.len++] = scratch[k]!;
    o.ints[o.len++] = netId;
    o.ints[o.len++] = len;
    for (let j = off; j < off + len; j++) o.ints[o.len++] = src[j]!;
  };
  /** Each other worker's state, wire and network numbers in this worker's (-1: not told yet). */
  const theirNode = Array.from({ length: N }, () => new Int32Array(64).fill(-1));
  const theirWire = Array.from({ length: N }, () => new Int32Array(64).fill(-1));
  const theirNet = Array.from({ length: N }, () => new Int32Array(64).fill(-1));
  const inWires: number[] = [];
  interface Batch {
    ints: Int32Array;
    len: number;
    nodes: Array<[number, string]>;
    wires: Array<[number, string]>;
  }
  const receiveBatch = (q: number, m: Batch) => {
    for (const [id, text] of m.nodes) {
      theirNode[q] = cover(theirNode[q]!, id, -1);
      theirNode[q]![id] = texts!.nodeFrom(text);
    }
    for (const [w, text] of m.wires) {
      theirWire[q] = cover(theirWire[q]!, w, -1);
      theirWire[q]![w] = texts!.wireFrom(text);
    }
    const a = m.ints;
    const nodeOf = theirNode[q]!;
    const wireOf = theirWire[q]!;
    let x = 0;
    while (x < m.len && possible === null) {
      if (a[x] === -1) {
        const n = a[x + 1]!;
        const cnt = a[x + 2]!;
        inWires.length = 0;
        for (let j = 0; j < cnt; j++) inWires.push(wireOf[a[x + 3 + j]!]!);
        theirNet[q] = cover(theirNet[q]!, n, -1);
        theirNet[q]![n] = internWires(inWires);
        x += 3 + cnt;
      } else if (a[x] === -2) {
        // A receipt another worker stepped: kept as if stepped here, unless it was.
        const id = nodeOf[a[x + 2]!]!;
        const w = wireOf[a[x + 3]!]!;
        const len = a[x + 6]!;
        stepRoom(id, w);
        if (byStateWire[id * wireCap + w] === 0) {
          const sends: number[] = [];
          for (let j = 0; j < len; j++) sends.push(wireOf[a[x + 7 + j]!]!);
          keepStep(
            id,
            w,
            addResult(id, { next: nodeOf[a[x + 4]!]!, sends, violation: null }, true),
          );
        }
        x += 7 + len;
      } else {
        for (let k = 0; k < P; k++) scratch[k] = nodeOf[a[x + k]!]!;
        for (let k = P; k < S; k++) scratch[k] = a[x + k]!;
        const netId = theirNet[q]![a[x + S]!]!;
        const len = a[x + S + 1]!;
        inWires.length = 0;
        for (let j = 0; j < len; j++) inWires.push(wireOf[a[x + S + 2 + j]!]!);
        merge(netId, inWires, 0, len);
        x += S + 2 + len;
      }
    }
  };
  let idle = false;
  /** Takes in every batch waiting; true if there was one. */
  const pollAll = (): boolean => {
    let got = false;
    for (let q = 0; q < N; q++) {
      const port = part!.ports[q];
      if (!port) continue;
      for (;;) {
        const m = receiveMessageOnPort(port);
        if (m === undefined) break;
        // Busy again before the batch counts as received (see `terminated`).
        if (idle) {
          idle = false;
          Atomics.store(ctl, slot(me, IDLE), 0);
          Atomics.add(ctl, slot(me, EPOCH), 1);
        }
        Atomics.add(ctl, slot(me, RECV), 1);
        receiveBatch(q, m.message as Batch);
        got = true;
      }
    }
    return got;
  };
  /** The lowest (level, rank) queued here, as one number (-1: none, or first in first out). */
  const lowestPos = (): number => {
    if (!ranked || cycle || queued === 0) return -1;
    while (levels[lowLevel]!.size === 0) lowLevel++;
    const l = levels[lowLevel]!;
    while (l.ranks[l.lowest]!.length === 0) l.lowest++;
    return lowLevel * 2 ** 21 + Math.min(l.lowest, 2 ** 21 - 1);
  };
  let published = -1;
  /**
   * Moving on to a higher (level, rank): what this worker found below is sent first, so that the
   * others explore as few configurations before their predecessors' steps have reached them.
   * (Waiting for the others to reach the same rank was tried: 8 s of waiting per worker in the
   * first 4 million configurations at 3/2/3/1, and no faster.)
   */
  const moveOn = () => {
    const pos = lowestPos();
    if (pos !== published) {
      flushAll();
      published = pos;
    }
  };
  /**
   * Termination: every worker idle (queue empty, batches sent) and as many batches received as
   * sent, with no worker leaving idle while the counts were read (its epoch unchanged).
   */
  const terminated = (): boolean => {
    const epochs: number[] = [];
    for (let q = 0; q < N; q++) epochs.push(Atomics.load(ctl, slot(q, EPOCH)));
    let sent = 0;
    let received = 0;
    for (let q = 0; q < N; q++) {
      if (Atomics.load(ctl, slot(q, IDLE)) === 0) return false;
      sent += Atomics.load(ctl, slot(q, SENT));
      received += Atomics.load(ctl, slot(q, RECV));
    }
    if (sent !== received) return false;
    for (let q = 0; q < N; q++)
      if (Atomics.load(ctl, slot(q, EPOCH)) !== epochs[q] || Atomics.load(ctl, slot(q, IDLE)) === 0)
        return false;
    Atomics.store(ctl, CTL_DONE, 1);
    return true;
  };
  const halted = () => Atomics.load(ctl, CTL_STOP) !== 0 || Atomics.load(ctl, CTL_DONE) !== 0;
  let turns = 0;
  /** The parallel search's turn: true when this worker may explore its lowest configuration. */
  const parallelTurn = (): boolean => {
    if ((++turns & 15) === 0) {
      pollAll();
      if (halted()) return false;
    }
    if (possible !== null) return false;
    if (queued > 0) {
      moveOn();
      return true;
    }
    flushAll();
    for (let spins = 0; ; spins++) {
      if (queued === 0 && !idle) {
        idle = true;
        Atomics.store(ctl, slot(me, IDLE), 1);
      }
      pollAll();
      if (possible !== null || halted()) return false;
      if (queued > 0) return true;
      if (terminated()) return false;
      if (spins > 100) Atomics.wait(ctl, CTL_SLEEP, 0, 0.2);
    }
  };

  const networkOf = (nodes: readonly number[], budgets: readonly number[]): number[] | null => {
    const probe = Int32Array.from([...nodes, ...budgets]);
    const c = table[find(probe)]!;
    if (c < 0) return null;
    return wiresOf(conf[c * R + S]!);
  };
  const dump = (): string[] => {
    if (texts === undefined) throw new Error('dump needs the model to give its states as text');
    const out: string[] = [];
    for (let c = 0; c < count; c++) {
      const nodes = Array.from(conf.subarray(c * R, c * R + P));
      const budgets = Array.from(conf.subarray(c * R + P, c * R + S));
      const ws = wiresOf(conf[c * R + S]!);
      const text = (ns: number[], wsIn: number[]) =>
        createHash('sha256')
          .update(JSON.stringify([ns.map(texts.node), budgets, wsIn.map(texts.wire).sort()]))
          .digest('base64');
      let d = text(nodes, ws);
      if (sym?.applies(budgets)) {
        const e = text(nodes.map(partnerOf), ws.map(sym.wire));
        if (e < d) d = e;
      }
      out.push(d);
    }
    return out;
  };
  const totals = (): Totals => ({
    configurations: count,
    expansions,
    transitions,
    messages: widest,
    order: ranked && !cycle ? 'rank' : 'fifo',
    elapsedMs: performance.now() - started,
    networkOf,
    dump,
  });

  for (let k = 0; k < P; k++) scratch[k] = init.nodes[k]!;
  for (let k = 0; k < B; k++) scratch[P + k] = init.budgets[k]!;
  tmp.fill(0);
  const empty = internNet();
  if (part === null || ownerOf() === me) merge(empty, [], 0, 0); // from the empty network
  let lastProgress = started;
  let lastExpansions = 0;
  const row = new Int32Array(S);
  let net = new Uint32Array(W);
  for (;;) {
    if (part !== null ? !parallelTurn() : queued === 0 || possible !== null) break;
    const c = dequeue();
    queued--;
    inQueue[c] = 0;
    expansions++;
    // Snapshots: steps below may add to this configuration's own network (a step that leads
    // back to it); that growth queues it again.
    row.set(conf.subarray(c * R, c * R + S));
    const netId = conf[c * R + S]!;
    if (net.length !== W) net = new Uint32Array(W);
    net.set(nets.subarray(netId * W, netId * W + W));
    const byState = localsFor(row);
    for (let i = 0; i < P; i++)
      for (const t of localFor(i, row[i]!, byState)) take(row, net, netId, i, t.x, t.budgets);
    // Receipts, participant by participant, skipping those known to change nothing (counted).
    let messages = 0;
    for (let k = 0; k < net.length; k++) {
      messages += bitCount(net[k]!);
      let unknown = net[k]! & ~known[k]!;
      while (unknown !== 0) {
        const bit = unknown & -unknown;
        unknown ^= bit;
        to((k << 5) | (31 - Math.clz32(bit)));
      }
    }
    if (messages > widest) widest = messages;
    for (let t = 0; t < P && possible === null; t++) {
      const id = row[t]!;
      for (let k = 0; k < net.length && possible === null; k++) {
        let word = net[k]! & toBits[t * W + k]!;
        if (word === 0) continue;
        const nw = wireCap >>> 5; // a step below may grow the tables
        if (id < stateCap && k < nw) {
          const skip = word & noop[id * nw + k]!;
          transitions += bitCount(skip);
          word ^= skip;
        }
        while (word !== 0) {
          const bit = word & -word;
          word ^= bit;
          take(row, net, netId, t, receiveResult(t, id, (k << 5) | (31 - Math.clz32(bit))), null);
          if (possible !== null) break;
        }
      }
    }
    if ((expansions & 1023) === 0) {
      const now = performance.now();
      const heapFull =
        (expansions & 8191) === 0 &&
        process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers >= maxHeap;
      let found = count;
      if (part !== null) {
        Atomics.store(ctl, slot(me, COUNT), count);
        found = 0;
        for (let q = 0; q < N; q++) found += Atomics.load(ctl, slot(q, COUNT));
      }
      if (found >= maxStates || now - started >= maxMs || heapFull) {
        Atomics.store(ctl, CTL_STOP, 1);
        return {
          ...totals(),
          kind: 'bound',
          bound: found >= maxStates ? 'states' : heapFull ? 'memory' : 'seconds',
        };
      }
      if (options.onProgress && now - lastProgress >= progressMs) {
        options.onProgress({
          configurations: count,
          expansions,
          queued,
          elapsedMs: now - started,
          perSec: ((expansions - lastExpansions) * 1000) / (now - lastProgress),
          heapMb: (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) / 2 ** 20,
        });
        lastProgress = now;
        lastExpansions = expansions;
      }
    }
  }
  if (possible !== null) {
    Atomics.store(ctl, CTL_STOP, 1);
    return { ...totals(), kind: 'possible', violation: possible };
  }
  return { ...totals(), kind: 'clean' };
}
