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
  violation(nodes: readonly number[], budgets: readonly number[]): string | null;
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
}

export interface MergedOptions {
  maxStates?: number;
  maxSeconds?: number;
  maxHeapMb?: number;
  onProgress?: (p: MergedProgress) => void;
  progressMs?: number;
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
  /** The network merged for a configuration (wire ids), or null if none was found. */
  networkOf(nodes: readonly number[], budgets: readonly number[]): number[] | null;
}

export type MergedResult =
  | (Totals & { kind: 'clean' })
  | (Totals & { kind: 'bound'; bound: 'states' | 'seconds' | 'memory' })
  /** A step from some entry broke an invariant: possible, to be confirmed by the exact search. */
  | (Totals & { kind: 'possible'; violation: string });

/** Runs the merged-network search to its fixpoint, or to a bound, or to a possible violation. */
export function exploreMerged(space: MergedSpace, options: MergedOptions = {}): MergedResult {
  const started = performance.now();
  const { maxStates, maxMs, maxHeap, progressMs } = searchLimits(options);
  const P = space.participants;
  const init = space.initial();
  const B = init.budgets.length;
  /** A configuration: P participant state ids, then B budgets, in one row of `conf`. */
  const S = P + B;

  // Configurations in rows of S ints, each with the number of its network.
  let capacity = 1 << 16;
  let conf = new Int32Array(capacity * S);
  let confNet = new Int32Array(capacity);
  let count = 0;
  // Networks in rows of W words (bit w: wire w), interned: configurations reached with the same
  // union share one row (most do: 3 participants, 2 ballots, 1 crash end with 18,479 distinct
  // networks for 306,859 configurations). A network only grows: a configuration whose network
  // grows points to another row, and rows are never freed.
  let W = 8;
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
  // First in, first out: measured against exploring new configurations first, or grown ones
  // first, this explores the fewest times over (3 participants, 2 ballots, 1 crash: 6.5 million
  // explorations against 10.7 and 12.1 million).
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
    const at = c * S;
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
      let i = hashRow(conf, c * S) & mask;
      while (table[i]! >= 0) i = (i + 1) & mask;
      table[i] = c;
    }
  };
  const growRows = () => {
    const cap = capacity * 2;
    const nc = new Int32Array(cap * S);
    nc.set(conf);
    conf = nc;
    const nn = new Int32Array(cap);
    nn.set(confNet);
    confNet = nn;
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
    W = nw;
    tmp = new Uint32Array(W);
    rehashNets(netTable.length);
  };
  const to = (w: number): number => {
    if (w >= wireTo.length) {
      const grown = new Int32Array(Math.max(wireTo.length * 2, w + 1)).fill(-1);
      grown.set(wireTo);
      wireTo = grown;
    }
    let t = wireTo[w]!;
    if (t < 0) {
      t = space.wireTo(w);
      wireTo[w] = t;
    }
    return t;
  };
  const enqueue = (c: number) => {
    if (inQueue[c]) return;
    inQueue[c] = 1;
    queue.push(c);
    queued++;
  };
  const dequeue = (): number => {
    const c = queue[head++]!;
    if (head > 1 << 20) {
      queue = queue.slice(head);
      head = 0;
    }
    return c;
  };

  const scratch = new Int32Array(S);
  const scratchBudgets = scratch.subarray(P);
  const sym = space.symmetry;
  const image = new Int32Array(S);
  /**
   * With a symmetry: if the image of the configuration in `scratch` is the smaller, puts it there
   * and returns its network (the image of `net` with the sends); else null.
   */
  const toImage = (
    net: Uint32Array,
    src: ArrayLike<number>,
    off: number,
    len: number,
  ): number[] | null => {
    if (sym === undefined || !sym.applies(scratchBudgets)) return null;
    image.set(scratch);
    for (let k = 0; k < P; k++) image[k] = sym.node(scratch[k]!);
    let k = 0;
    while (k < P && image[k] === scratch[k]) k++;
    if (k === P || image[k]! > scratch[k]!) return null;
    scratch.set(image);
    const out: number[] = [];
    for (let x = 0; x < net.length; x++) {
      let word = net[x]!;
      while (word !== 0) {
        const bit = word & -word;
        word ^= bit;
        out.push(sym.wire((x << 5) | (31 - Math.clz32(bit))));
      }
    }
    for (let j = off; j < off + len; j++) out.push(sym.wire(src[j]!));
    return out;
  };
  const NONE = new Uint32Array(0);
  /**
   * Merges `net` (W words) plus the sends src[off, off+len) into the configuration in `scratch`;
   * queues it if it grew.
   */
  const merge = (netIn: Uint32Array, srcIn: ArrayLike<number>, offIn: number, lenIn: number) => {
    let net = netIn;
    let src = srcIn;
    let off = offIn;
    let len = lenIn;
    const mapped = toImage(netIn, srcIn, offIn, lenIn);
    if (mapped !== null) {
      net = NONE;
      src = mapped;
      off = 0;
      len = mapped.length;
    }
    const end = off + len;
    for (let j = off; j < end; j++) if (src[j]! >>> 5 >= W) growWords((src[j]! >>> 5) + 1);
    const slot = find(scratch);
    let c = table[slot]!;
    if (c < 0) {
      const nodes = Array.from(scratch.subarray(0, P));
      const budgets = Array.from(scratchBudgets);
      const v = space.violation(nodes, budgets);
      if (v !== null) {
        possible ??= v;
        return;
      }
      if (count === capacity) growRows();
      c = count++;
      conf.set(scratch, c * S);
      table[slot] = c;
      if (count * 2 > table.length) growTable();
      tmp.fill(0);
      for (let k = 0; k < net.length; k++) tmp[k] = net[k]!;
      for (let j = off; j < end; j++) tmp[src[j]! >>> 5]! |= 1 << (src[j]! & 31);
      confNet[c] = internNet();
      enqueue(c);
      return;
    }
    const at = confNet[c]! * W;
    let grew = false;
    for (let k = 0; k < W; k++) {
      const before = nets[at + k]!;
      const after = k < net.length ? before | net[k]! : before;
      tmp[k] = after;
      if (after !== before) grew = true;
    }
    for (let j = off; j < end; j++) {
      const w = src[j]!;
      const bit = 1 << (w & 31);
      if ((tmp[w >>> 5]! & bit) === 0) {
        tmp[w >>> 5]! |= bit;
        grew = true;
      }
    }
    if (!grew) return;
    confNet[c] = internNet();
    enqueue(c);
  };

  const has = (net: Uint32Array, w: number) =>
    w >>> 5 < net.length && (net[w >>> 5]! & (1 << (w & 31))) !== 0;

  // Every step result the search used, in typed arrays (the hot path reads no objects): the
  // participant's next state, its sends (a range of `pool`) and flags.
  let resNext = new Int32Array(1 << 12);
  let resOff = new Int32Array(1 << 12);
  let resLen = new Int32Array(1 << 12);
  /** 1: the step breaks an invariant; 2: it changes nothing and sends nothing. */
  let resFlag = new Uint8Array(1 << 12);
  const resViolation = new Map<number, string>();
  let results = 0;
  let pool = new Int32Array(1 << 14);
  let poolLen = 0;
  const addResult = (id: number, r: StepResult): number => {
    if (results === resNext.length) {
      const n = results * 2;
      const grow32 = (a: Int32Array) => {
        const b = new Int32Array(n);
        b.set(a);
        return b;
      };
      resNext = grow32(resNext);
      resOff = grow32(resOff);
      resLen = grow32(resLen);
      const f = new Uint8Array(n);
      f.set(resFlag);
      resFlag = f;
    }
    while (poolLen + r.sends.length > pool.length) {
      const b = new Int32Array(pool.length * 2);
      b.set(pool);
      pool = b;
    }
    const x = results++;
    resNext[x] = r.next;
    resOff[x] = poolLen;
    resLen[x] = r.sends.length;
    for (const w of r.sends) pool[poolLen++] = w;
    let flag = 0;
    if (r.violation !== null) {
      flag |= 1;
      resViolation.set(x, r.violation);
    }
    if (r.next === id && r.sends.length === 0) flag |= 2;
    resFlag[x] = flag;
    return x;
  };
  // Receive results by (participant state, wire): result + 1 (0: not stepped yet).
  let stateCap = 1 << 10;
  let wireCap = 64;
  let byStateWire = new Int32Array(stateCap * wireCap);
  const receiveResult = (t: number, id: number, w: number): number => {
    if (id >= stateCap || w >= wireCap) {
      let sc = stateCap;
      while (sc <= id) sc *= 2;
      let wc = wireCap;
      while (wc <= w) wc *= 2;
      const grown = new Int32Array(sc * wc);
      for (let st = 0; st < stateCap; st++)
        grown.set(byStateWire.subarray(st * wireCap, st * wireCap + wireCap), st * wc);
      byStateWire = grown;
      stateCap = sc;
      wireCap = wc;
    }
    const k = id * wireCap + w;
    let x = byStateWire[k]! - 1;
    if (x < 0) {
      x = addResult(id, space.receive(t, id, w));
      byStateWire[k] = x + 1;
    }
    return x;
  };
  // Starts and crashes by participant state and budgets.
  const localCache = new Map<number, Array<{ x: number; budgets: number[] }>>();
  const small = B <= 3;
  const localFor = (
    i: number,
    id: number,
    budgets: number[],
  ): Array<{ x: number; budgets: number[] }> => {
    let key = -1;
    if (small && budgets.every((b) => b >= 0 && b < 256)) {
      key = id;
      for (let k = 0; k < 3; k++) key = key * 256 + (budgets[k] ?? 0);
    }
    let out = key >= 0 ? localCache.get(key) : undefined;
    if (out === undefined) {
      out = space.local(i, id, budgets).map((t) => ({
        x: addResult(id, t.r),
        budgets: t.budgets,
      }));
      if (key >= 0) localCache.set(key, out);
    }
    return out;
  };

  /** Configuration `row` takes participant i's step x (a result), with the budgets after. */
  const take = (
    row: Int32Array,
    net: Uint32Array,
    i: number,
    x: number,
    budgets: readonly number[] | null,
  ) => {
    transitions++;
    const flag = resFlag[x]!;
    if (flag & 1) {
      possible ??= resViolation.get(x)!;
      return;
    }
    // Changes nothing; or only uses up budget (a start or crash that leaves the participant as it
    // was): what follows is a subset of what follows from here, explored already.
    if (flag & 2) return;
    const next = resNext[x]!;
    const off = resOff[x]!;
    const len = resLen[x]!;
    if (next === row[i]) {
      let all = true;
      for (let j = off; j < off + len; j++) if (!has(net, pool[j]!)) all = false;
      if (all) return;
    }
    scratch.set(row);
    scratch[i] = next;
    if (budgets !== null) for (let k = 0; k < B; k++) scratch[P + k] = budgets[k]!;
    merge(net, pool, off, len);
  };

  const networkOf = (nodes: readonly number[], budgets: readonly number[]): number[] | null => {
    const probe = Int32Array.from([...nodes, ...budgets]);
    const c = table[find(probe)]!;
    if (c < 0) return null;
    const out: number[] = [];
    const at = confNet[c]! * W;
    for (let k = 0; k < W; k++)
      for (let b = 0; b < 32; b++) if (nets[at + k]! & (1 << b)) out.push(k * 32 + b);
    return out;
  };
  const totals = (): Totals => ({
    configurations: count,
    expansions,
    transitions,
    messages: widest,
    elapsedMs: performance.now() - started,
    networkOf,
  });

  for (let k = 0; k < P; k++) scratch[k] = init.nodes[k]!;
  for (let k = 0; k < B; k++) scratch[P + k] = init.budgets[k]!;
  merge(new Uint32Array(0), [], 0, 0);
  let lastProgress = started;
  let lastExpansions = 0;
  const row = new Int32Array(S);
  let net = new Uint32Array(W);
  while (queued > 0 && possible === null) {
    const c = dequeue();
    queued--;
    inQueue[c] = 0;
    expansions++;
    // Snapshots: steps below may add to this configuration's own network (a step that leads
    // back to it); that growth queues it again.
    row.set(conf.subarray(c * S, c * S + S));
    if (net.length !== W) net = new Uint32Array(W);
    net.set(nets.subarray(confNet[c]! * W, confNet[c]! * W + W));
    const budgets = Array.from(row.subarray(P));
    for (let i = 0; i < P; i++)
      for (const t of localFor(i, row[i]!, budgets)) take(row, net, i, t.x, t.budgets);
    let messages = 0;
    for (let k = 0; k < net.length && possible === null; k++) {
      let word = net[k]!;
      while (word !== 0) {
        const bit = word & -word;
        word ^= bit;
        const w = (k << 5) | (31 - Math.clz32(bit));
        messages++;
        const t = to(w);
        take(row, net, t, receiveResult(t, row[t]!, w), null);
        if (possible !== null) break;
      }
    }
    if (messages > widest) widest = messages;
    if ((expansions & 1023) === 0) {
      const now = performance.now();
      const heapFull =
        (expansions & 8191) === 0 &&
        process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers >= maxHeap;
      if (count >= maxStates || now - started >= maxMs || heapFull) {
        return {
          ...totals(),
          kind: 'bound',
          bound: count >= maxStates ? 'states' : heapFull ? 'memory' : 'seconds',
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
  if (possible !== null) return { ...totals(), kind: 'possible', violation: possible };
  return { ...totals(), kind: 'clean' };
}
