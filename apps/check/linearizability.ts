// A linearizability checker for histories of the replicated inventory (history.ts): is there one
// order of the operations, each taking effect at an instant between its call and its return,
// in which the sequential inventory model (apps/inventory/machine.ts) gives every recorded output?
//
// The search is Wing & Gong's, with Lowe's memoisation as in Porcupine: the calls and returns
// sit in one time-ordered, doubly linked list (equal times: calls first, so operations that
// merely touch count as concurrent); a depth-first search repeatedly places an operation whose
// call comes before the first remaining return and whose recorded output is what the model
// gives, lifting its call and return out of the list; when nothing can be placed it backtracks.
// Every configuration found to lead nowhere (placed entries, model state) is cached, so none
// is explored twice (see configKey). The search keeps an explicit stack (no recursion): long
// histories cannot overflow the call stack.
//
// Indeterminate entries (no response seen, or a response that is not a model result, see
// HistoryEntry) return at +Infinity and constrain nothing: they have no return in the list and
// may be placed at any point after their call, or never (indeterminate reads are dropped).
//
// Four reductions keep the search small; none loses a solution. Among the linearizations, take
// one with the fewest indeterminate entries, then with those as late as possible, then with
// the operations that change nothing (reads, refusals) as early as possible, then with those
// in call order. Each reduction only cuts branches that such a linearization does not take:
// 1. An indeterminate entry that would change nothing is not placed (leave it out instead).
// 2. When a pending determinate entry that changes nothing fits the current state, it is the
//    only move tried: it can be moved to the front (nothing unplaced precedes it in real time,
//    and it changes no state), which puts nothing later and only moves such entries earlier.
// 3. A run of indeterminate entries is placed only just before a determinate entry X that
//    fits after the run but not before any entry of it: were X to fit before the run's entry
//    I, X could go before I and the rest of the run (the adds first, then the others: all still
//    succeed, with the same effects), leaving them later. So an indeterminate entry is placed
//    only while some pending X does not fit yet, the run must end with such an X, and X must
//    be fixable: every item it needs to rise (fall) has an in-flight add (remove or order).
// 4. Each entry of the run touches an item of X or, transitively through in-flight
//    indeterminate entries, one linked to it: one that does not commutes with X and with those
//    that do, so it could go after X.
// Candidates are tried in order of their intervals' midpoints; an indeterminate entry that makes
// a pending X fit on its own is tried just before X, one that does not after everything else.
// A first search allows only short runs (at most two entries: a lost response usually shows
// right away), which keeps it from wandering through combinations of entries that never took
// effect; when it finds nothing but had to leave a move out, the complete search follows.
import type { InventoryResult } from '../inventory/machine.ts';
import { type HistoryEntry, type InventoryInput, validateHistory } from './history.ts';

export { HistoryError } from './history.ts';

/** An entry that could not be placed after the longest linearizable prefix found. */
export interface UnplacedEntry {
  id: number;
  client: string;
  input: InventoryInput;
  call: number;
  ret: number;
  output: unknown;
  /** What the model returns for this operation in the state after that prefix. */
  model: InventoryResult;
  /** The model agrees with the recorded output there (but no continuation from it succeeds). */
  matchesHere: boolean;
}

export type CheckResult =
  | {
      ok: true;
      /**
       * Entry ids in a valid order: every determinate entry, and the indeterminate entries the
       * search chose to have taken effect (one left out is taken never to have taken effect).
       */
      linearization: number[];
    }
  | {
      ok: false;
      /** A short explanation: the longest linearizable prefix and the entries left unplaced. */
      reason: string;
      /** Entry ids of the longest linearizable prefix the search found. */
      longestPrefix: number[];
      /** The model's stock after that prefix (items with a positive quantity). */
      stockAfterPrefix: Record<string, number>;
      /** The determinate entries pending after that prefix, none of which could be placed. */
      unplaced: UnplacedEntry[];
    }
  | { ok: 'unknown'; reason: 'timeout' };

export interface CheckOptions {
  /** Give up after this long and return `{ ok: 'unknown' }` (default 60 s). */
  timeoutMs?: number;
  /** Stock before the history starts (default: empty). */
  initial?: Record<string, number>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * The longest runs of indeterminate entries allowed by successive searches (the last: any).
 * Measured on generated histories (3,000 operations, 20 to 100 indeterminate), [2, Infinity]
 * beat [1, Infinity], [1, 2, Infinity], [1, 2, 3, 4, Infinity] and [3, Infinity].
 */
const RUN_LIMITS = [2, Number.POSITIVE_INFINITY];
/** How many failed sets of placed indeterminate entries the cache keeps per configuration key. */
const FAILURES_KEPT_PER_KEY = 16;

/** An entry with its items numbered; the model state is the quantity of each item, by number. */
interface Op {
  entry: HistoryEntry;
  determinate: boolean;
  kind: InventoryInput['kind'];
  items: number[];
  qtys: number[];
}

type Stock = number[];

/** The model: the next state (the same array when nothing changes) and the output. */
function step(stock: Stock, op: Op, names: string[]): { next: Stock; result: InventoryResult } {
  switch (op.kind) {
    case 'add': {
      const i = op.items[0]!;
      const next = stock.slice();
      next[i] = stock[i]! + op.qtys[0]!;
      return { next, result: { ok: true, stock: Object.fromEntries([[names[i]!, next[i]!]]) } };
    }
    case 'remove':
    case 'order': {
      for (let k = 0; k < op.items.length; k++) {
        const i = op.items[k]!;
        const qty = op.qtys[k]!;
        if (stock[i]! < qty) {
          const result: InventoryResult = {
            ok: false,
            error: 'insufficient_stock',
            item: names[i]!,
            requested: qty,
            available: stock[i]!,
          };
          return { next: stock, result };
        }
      }
      const next = stock.slice();
      const touched: Array<[string, number]> = [];
      for (let k = 0; k < op.items.length; k++) {
        const i = op.items[k]!;
        next[i] = stock[i]! - op.qtys[k]!;
        touched.push([names[i]!, next[i]!]);
      }
      return { next, result: { ok: true, stock: Object.fromEntries(touched) } };
    }
    case 'view':
      return { next: stock, result: { ok: true, stock: stockRecord(stock, names) } };
    case 'get': {
      const i = op.items[0]!;
      return {
        next: stock,
        result: { ok: true, stock: Object.fromEntries([[names[i]!, stock[i]!]]) },
      };
    }
  }
}

function stockRecord(stock: Stock, names: string[]): Record<string, number> {
  const present: Array<[string, number]> = [];
  for (let i = 0; i < stock.length; i++) if (stock[i]! > 0) present.push([names[i]!, stock[i]!]);
  return Object.fromEntries(present);
}

/**
 * How the current stock would have to change for the entry's recorded output to be what the
 * model gives: (item, +1) for an item that must rise, (item, -1) for one that must fall; 'never'
 * when no stock gives that output; null when the output is not understood (no conclusion).
 */
function neededMoves(
  stock: Stock,
  op: Op,
  names: string[],
): Array<[number, 1 | -1]> | 'never' | null {
  const out = op.entry.output as Record<string, unknown>;
  const moves: Array<[number, 1 | -1]> = [];
  const want = (i: number, qty: unknown): boolean => {
    if (typeof qty !== 'number') return false;
    if (stock[i]! < qty) moves.push([i, 1]);
    else if (stock[i]! > qty) moves.push([i, -1]);
    return true;
  };
  if (out.ok === false) {
    if (op.kind !== 'remove' && op.kind !== 'order') return 'never';
    const short = op.items.findIndex((i) => names[i] === out.item);
    if (short < 0 || !want(op.items[short]!, out.available)) return null;
    for (let k = 0; k < short; k++) {
      const i = op.items[k]!;
      if (stock[i]! < op.qtys[k]!) moves.push([i, 1]);
    }
    return moves;
  }
  const got = out.stock;
  if (typeof got !== 'object' || got === null) return null;
  const after = got as Record<string, unknown>;
  const sign = op.kind === 'add' ? -1 : 1;
  const items = op.kind === 'view' ? names.map((_, i) => i) : op.items;
  for (let k = 0; k < items.length; k++) {
    const i = items[k]!;
    let qty = op.kind === 'view' ? (after[names[i]!] ?? 0) : after[names[i]!];
    if (
      typeof qty === 'number' &&
      (op.kind === 'add' || op.kind === 'remove' || op.kind === 'order')
    )
      qty += sign * op.qtys[k]!;
    if (!want(i, qty)) return null;
  }
  return moves;
}

/** Structural equality of JSON-like values; object key order is ignored. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  for (const k of keys) if (!Object.hasOwn(rb, k) || !deepEqual(ra[k], rb[k])) return false;
  return true;
}

/** A model-shaped result constrains the check; anything else makes the entry indeterminate. */
function isModelShaped(output: unknown): boolean {
  return (
    typeof output === 'object' &&
    output !== null &&
    typeof (output as { ok?: unknown }).ok === 'boolean'
  );
}

/** A configuration on the search stack, with the move taken from it. */
interface Frame {
  /** The moves from it, in the order tried; the states they lead to; which one was taken. */
  moves: number[];
  afters: Stock[];
  pos: number;
  /** The determinate entries an indeterminate move from here must be followed by. */
  misfits: number[] | null;
  /** The run of indeterminate entries it is in (reduction 3), or null, and its length so far. */
  targets: number[] | null;
  runLength: number;
  state: Stock;
  /** Its cache key, and the indeterminate entries placed in it (sorted). */
  key: string;
  indets: number[];
}

/** Where the search got furthest before it had to backtrack. */
interface DeadEnd {
  prefix: number[];
  state: Stock;
  pending: number[];
  blocking: number;
}

/**
 * Checks that the history is linearizable with respect to the inventory model. Throws a
 * HistoryError for a malformed history (say `ret < call`, or duplicate ids).
 */
export function checkLinearizable(history: HistoryEntry[], opts: CheckOptions = {}): CheckResult {
  validateHistory(history);
  const start = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = start + timeoutMs;
  // A search with short runs of indeterminate entries, given up to half the time, then the
  // complete search. A search that left no move out is conclusive.
  for (const maxRun of RUN_LIMITS) {
    const last = maxRun === Number.POSITIVE_INFINITY;
    const now = performance.now();
    const { result, limited } = search(
      history,
      opts.initial ?? {},
      maxRun,
      last ? deadline : now + (deadline - now) / 2,
    );
    if (result.ok === true || (result.ok === false && !limited) || last) return result;
  }
  throw new Error('unreachable: the last search is the complete one');
}

/**
 * The search, with runs of indeterminate entries at most `maxRun` long (the complete search
 * when Infinity). `limited`: the limit left out a move (so a failure is not conclusive).
 */
function search(
  history: HistoryEntry[],
  initial: Record<string, number>,
  maxRun: number,
  deadline: number,
): { result: CheckResult; limited: boolean } {
  let limited = false;

  // Number the items.
  const itemIndex = new Map<string, number>();
  const names: string[] = [];
  const itemOf = (item: string): number => {
    let i = itemIndex.get(item);
    if (i === undefined) {
      i = names.length;
      itemIndex.set(item, i);
      names.push(item);
    }
    return i;
  };
  for (const [item, qty] of Object.entries(initial)) {
    if (!Number.isSafeInteger(qty) || qty < 0)
      throw new RangeError(`initial stock of '${item}' must be a non-negative integer, got ${qty}`);
    itemOf(item);
  }

  // Compile the entries the search considers: every determinate entry, and the indeterminate
  // ones that could change the state (an indeterminate read can always be left out).
  const ops: Op[] = [];
  for (const entry of history) {
    const determinate = entry.ret !== null && isModelShaped(entry.output);
    const input = entry.input;
    if (!determinate && (input.kind === 'get' || input.kind === 'view')) continue;
    const items: number[] = [];
    const qtys: number[] = [];
    switch (input.kind) {
      case 'add':
      case 'remove':
        items.push(itemOf(input.item));
        qtys.push(input.qty);
        break;
      case 'order':
        for (const line of input.lines) {
          items.push(itemOf(line.item));
          qtys.push(line.qty);
        }
        break;
      case 'get':
        items.push(itemOf(input.item));
        break;
      case 'view':
        break;
    }
    ops.push({ entry, determinate, kind: input.kind, items, qtys });
  }

  // The time-ordered list of determinate calls and returns (node 0 is the head sentinel; node
  // 2k+1 is the call of ops[k], 2k+2 its return), and the call-ordered list of indeterminate
  // entries (node 0 the head, node j+1 is indet[j]). Equal times: calls before returns, so
  // operations that merely touch are taken as concurrent.
  const det: number[] = [];
  const indet: number[] = [];
  for (let k = 0; k < ops.length; k++) (ops[k]!.determinate ? det : indet).push(k);
  const nodeCount = 2 * ops.length + 1;
  const next = new Int32Array(nodeCount).fill(-1);
  const prev = new Int32Array(nodeCount).fill(-1);
  const events: Array<{ node: number; time: number; rank: number; id: number }> = [];
  for (const k of det) {
    const e = ops[k]!.entry;
    events.push({ node: 2 * k + 1, time: e.call, rank: 0, id: e.id });
    events.push({ node: 2 * k + 2, time: e.ret!, rank: 1, id: e.id });
  }
  events.sort((a, b) => a.time - b.time || a.rank - b.rank || a.id - b.id);
  let last = 0;
  for (const ev of events) {
    next[last] = ev.node;
    prev[ev.node] = last;
    last = ev.node;
  }
  indet.sort(
    (a, b) => ops[a]!.entry.call - ops[b]!.entry.call || ops[a]!.entry.id - ops[b]!.entry.id,
  );
  const inext = new Int32Array(indet.length + 1).fill(-1);
  const iprev = new Int32Array(indet.length + 1).fill(-1);
  const indetNode = new Int32Array(ops.length).fill(-1);
  for (let j = 0; j < indet.length; j++) {
    inext[j] = j + 1;
    iprev[j + 1] = j;
    indetNode[indet[j]!] = j + 1;
  }

  const unlink = (nx: Int32Array, pv: Int32Array, n: number): void => {
    nx[pv[n]!] = nx[n]!;
    if (nx[n]! !== -1) pv[nx[n]!] = pv[n]!;
  };
  const relink = (nx: Int32Array, pv: Int32Array, n: number): void => {
    nx[pv[n]!] = n;
    if (nx[n]! !== -1) pv[nx[n]!] = n;
  };
  const lift = (k: number): void => {
    if (ops[k]!.determinate) {
      unlink(next, prev, 2 * k + 1);
      unlink(next, prev, 2 * k + 2);
    } else unlink(inext, iprev, indetNode[k]!);
  };
  const unlift = (k: number): void => {
    if (ops[k]!.determinate) {
      relink(next, prev, 2 * k + 2);
      relink(next, prev, 2 * k + 1);
    } else relink(inext, iprev, indetNode[k]!);
  };

  let state: Stock = names.map((name) => initial[name] ?? 0);
  let targets: number[] | null = null;
  /** How many indeterminate entries the current run has placed. */
  let runLength = 0;

  // Configurations found to lead nowhere. A configuration is the set of placed entries, the
  // model state and the run it is in (reduction 3). Its key: the determinate entries placed
  // are all those before `frontier` in call order (the first one not placed) plus the few after
  // it that are (called no later than the frontier's return, or they could not have gone
  // before it), then the state and the run. The indeterminate entries placed are kept apart: a
  // configuration with the same key and more of them placed can do nothing that one with fewer
  // could not (it has fewer left to place, and the reductions allow more moves with more in
  // flight), so when the one with fewer failed, it fails too.
  const byCall = det
    .slice()
    .sort((a, b) => ops[a]!.entry.call - ops[b]!.entry.call || ops[a]!.entry.id - ops[b]!.entry.id);
  const rankOf = new Int32Array(ops.length).fill(-1);
  for (let r = 0; r < byCall.length; r++) rankOf[byCall[r]!] = r;
  const isPlaced = new Uint8Array(ops.length);
  let frontier = 0;
  const placedIndets: number[] = [];
  const failed = new Map<string, number[][]>();
  const configKey = (): string => {
    let key = `${frontier}`;
    if (frontier < byCall.length) {
      const limit = ops[byCall[frontier]!]!.entry.ret!;
      for (let r = frontier + 1; r < byCall.length; r++) {
        const k = byCall[r]!;
        if (ops[k]!.entry.call > limit) break;
        if (isPlaced[k]) key += `,${r}`;
      }
    }
    const run =
      targets === null
        ? '-'
        : `${maxRun === Number.POSITIVE_INFINITY ? '' : runLength}:${targets.join(',')}`;
    return `${key}|${state.join(',')}|${run}`;
  };
  const subset = (a: number[], b: number[]): boolean => {
    let j = 0;
    for (const x of a) {
      while (j < b.length && b[j]! < x) j++;
      if (j === b.length || b[j] !== x) return false;
    }
    return true;
  };
  const hasFailed = (key: string, indets: number[]): boolean =>
    failed.get(key)?.some((f) => subset(f, indets)) ?? false;
  const recordFailure = (key: string, indets: number[]): void => {
    const list = failed.get(key);
    if (list === undefined) failed.set(key, [indets]);
    else {
      if (list.length >= FAILURES_KEPT_PER_KEY) list.shift();
      list.push(indets);
    }
  };

  /** Calls before the first remaining return (the determinate entries that may go next). */
  const pendingCalls = (): { pending: number[]; blocking: number } => {
    const pending: number[] = [];
    let n = next[0]!;
    while (n !== -1 && n % 2 === 1) {
      pending.push((n - 1) / 2);
      n = next[n]!;
    }
    return { pending, blocking: n === -1 ? -1 : (n - 2) / 2 };
  };
  const mid = (k: number): number => (ops[k]!.entry.call + ops[k]!.entry.ret!) / 2;

  // The search: the current configuration and its moves.
  let expanded = false;
  let moves: number[] = [];
  let afters: Stock[] = [];
  let pos = 0;
  let misfits: number[] | null = null;
  let remaining = det.length;
  const stack: Frame[] = [];
  let best: DeadEnd | null = null;
  let iterations = 0;

  /** Works out the moves from the current configuration, in the order to try them. */
  const expand = (): void => {
    moves = [];
    afters = [];
    misfits = null;
    const { pending, blocking } = pendingCalls();
    const fitting: Array<{ k: number; after: Stock }> = [];
    const misfitting: number[] = [];
    for (const k of pending) {
      const { next: after, result } = step(state, ops[k]!, names);
      if (!deepEqual(result, ops[k]!.entry.output)) {
        if (targets === null || targets.includes(k)) misfitting.push(k);
        continue;
      }
      if (after === state) {
        // Reduction 2 (in a run, the entry that ends it must be this one).
        if (targets === null || targets.includes(k)) {
          moves.push(k);
          afters.push(after);
        }
        return;
      }
      if (targets === null || targets.includes(k)) fitting.push({ k, after });
    }

    // The indeterminate entries in flight (called before the first remaining return).
    const time = ops[blocking]!.entry.ret!;
    const inFlight: number[] = [];
    const canRaise = new Set<number>();
    const canLower = new Set<number>();
    for (let j = inext[0]!; j !== -1; j = inext[j]!) {
      const k = indet[j - 1]!;
      const op = ops[k]!;
      if (op.entry.call > time) break;
      inFlight.push(k);
      for (const i of op.items) (op.kind === 'add' ? canRaise : canLower).add(i);
    }
    const fixable = misfitting.filter((k) => {
      const need = neededMoves(state, ops[k]!, names);
      // No moves needed, yet it does not fit: its output depends on nothing that could change.
      if (need === 'never' || need?.length === 0) return false;
      return !need?.some(([i, dir]) => !(dir > 0 ? canRaise : canLower).has(i));
    });
    const ordered: Array<{ k: number; after: Stock; key: number; rank: number }> = fitting.map(
      (f, rank) => ({ ...f, key: mid(f.k), rank }),
    );
    if (fixable.length > 0 && inFlight.length > 0 && runLength >= maxRun) limited = true;
    else if (fixable.length > 0 && inFlight.length > 0) {
      misfits = fixable;
      const lastOfRun = runLength + 1 >= maxRun;
      // Reduction 4: the items of the misfits, closed over the in-flight entries.
      let relevant = inFlight;
      if (!fixable.some((k) => ops[k]!.kind === 'view')) {
        const items = new Set<number>();
        for (const k of fixable) for (const i of ops[k]!.items) items.add(i);
        const touches = (k: number): boolean => ops[k]!.items.some((i) => items.has(i));
        for (let grew = true; grew; ) {
          grew = false;
          for (const k of inFlight) {
            if (!touches(k)) continue;
            for (const i of ops[k]!.items) {
              if (items.has(i)) continue;
              items.add(i);
              grew = true;
            }
          }
        }
        relevant = inFlight.filter(touches);
      }
      for (let r = relevant.length - 1; r >= 0; r--) {
        const k = relevant[r]!;
        const after = step(state, ops[k]!, names).next;
        if (after === state) continue; // reduction 1
        let key = Number.POSITIVE_INFINITY;
        for (const x of fixable) {
          if (mid(x) < key && deepEqual(step(after, ops[x]!, names).result, ops[x]!.entry.output))
            key = mid(x);
        }
        if (lastOfRun && key === Number.POSITIVE_INFINITY) {
          limited = true;
          continue;
        }
        // Latest called first among equals: an older one is likelier never to take effect.
        ordered.push({ k, after, key, rank: fitting.length + ordered.length });
      }
    }
    ordered.sort((a, b) => a.key - b.key || a.rank - b.rank);
    for (const m of ordered) {
      moves.push(m.k);
      afters.push(m.after);
    }
  };

  /** Places entry k, leading to state `after` in run `run`. */
  const enter = (k: number, after: Stock, run: number[] | null): void => {
    lift(k);
    isPlaced[k] = 1;
    if (ops[k]!.determinate) {
      remaining--;
      while (frontier < byCall.length && isPlaced[byCall[frontier]!]) frontier++;
      runLength = 0;
    } else {
      placedIndets.push(k);
      runLength++;
    }
    state = after;
    targets = run;
  };
  /** Undoes enter(k) (the last entry placed), back to `before`, in run `run` of length `length`. */
  const leave = (k: number, before: Stock, run: number[] | null, length: number): void => {
    unlift(k);
    isPlaced[k] = 0;
    if (ops[k]!.determinate) {
      remaining++;
      frontier = Math.min(frontier, rankOf[k]!);
    } else placedIndets.pop();
    state = before;
    targets = run;
    runLength = length;
  };

  let key = configKey();
  let indets: number[] = [];
  while (remaining > 0) {
    if ((++iterations & 1023) === 0 && performance.now() > deadline) {
      return { result: { ok: 'unknown', reason: 'timeout' }, limited };
    }
    if (!expanded) {
      expand();
      expanded = true;
      pos = 0;
    }
    if (pos >= moves.length) {
      // No move from here leads anywhere: backtrack.
      if (best === null || stack.length > best.prefix.length) {
        const { pending, blocking } = pendingCalls();
        best = { prefix: stack.map((f) => f.moves[f.pos]!), state, pending, blocking };
      }
      recordFailure(key, indets);
      const frame = stack.pop();
      if (frame === undefined) return { result: failure(best, ops, names), limited };
      leave(frame.moves[frame.pos]!, frame.state, frame.targets, frame.runLength);
      ({ moves, afters, misfits, key, indets } = frame);
      pos = frame.pos + 1;
      continue;
    }
    const k = moves[pos]!;
    const before = state;
    const run = targets;
    const length = runLength;
    enter(k, afters[pos]!, ops[k]!.determinate ? null : misfits);
    const childKey = configKey();
    const childIndets = ops[k]!.determinate ? indets : placedIndets.slice().sort((a, b) => a - b);
    if (hasFailed(childKey, childIndets)) {
      leave(k, before, run, length);
      pos++;
      continue;
    }
    stack.push({
      moves,
      afters,
      pos,
      misfits,
      targets: run,
      runLength: length,
      state: before,
      key,
      indets,
    });
    key = childKey;
    indets = childIndets;
    expanded = false;
  }
  return {
    result: { ok: true, linearization: stack.map((f) => ops[f.moves[f.pos]!]!.entry.id) },
    limited,
  };
}

function describeInput(input: InventoryInput): string {
  switch (input.kind) {
    case 'add':
    case 'remove':
      return `${input.kind} ${input.item} x${input.qty}`;
    case 'order':
      return `order [${input.lines.map((l) => `${l.item} x${l.qty}`).join(', ')}]`;
    case 'view':
      return 'view';
    case 'get':
      return `get ${input.item}`;
  }
}

function describeIds(ids: number[]): string {
  if (ids.length === 0) return 'none';
  const shown = ids.length <= 24 ? ids : [...ids.slice(0, 4), '…', ...ids.slice(-16)];
  return shown.map((id) => (typeof id === 'number' ? `#${id}` : id)).join(', ');
}

function failure(
  best: DeadEnd | null,
  ops: Op[],
  names: string[],
): Extract<CheckResult, { ok: false }> {
  // best is set before the search can fail (the first backtrack records it).
  const dead = best!;
  const prefix = dead.prefix.map((k) => ops[k]!.entry.id);
  const stockAfterPrefix = Object.fromEntries(
    Object.entries(stockRecord(dead.state, names)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const unplaced: UnplacedEntry[] = dead.pending.map((k) => {
    const op = ops[k]!;
    const model = step(dead.state, op, names).result;
    const e = op.entry;
    return {
      id: e.id,
      client: e.client,
      input: e.input,
      call: e.call,
      ret: e.ret!,
      output: e.output,
      model,
      matchesHere: deepEqual(model, e.output),
    };
  });
  const blocking = ops[dead.blocking]!.entry;
  const determinate = ops.filter((op) => op.determinate).length;
  const placedDet = dead.prefix.filter((k) => ops[k]!.determinate).length;
  const lines = unplaced.map(
    (u) =>
      `  #${u.id} (${u.client}, ${u.call}..${u.ret}) ${describeInput(u.input)} -> ` +
      `${JSON.stringify(u.output)}; ` +
      (u.matchesHere
        ? 'fits here, but no continuation after it fits'
        : `the model gives ${JSON.stringify(u.model)}`),
  );
  const reason =
    `not linearizable: the longest linearizable prefix found places ${prefix.length} ` +
    `entries (${placedDet} of the ${determinate} determinate ones): ${describeIds(prefix)}; ` +
    `it leaves stock ` +
    `${JSON.stringify(stockAfterPrefix)}; #${blocking.id} (${describeInput(blocking.input)}) ` +
    `returned at ${blocking.ret}, so it or another pending entry must take effect next, but ` +
    `none can:\n${lines.join('\n')}`;
  return { ok: false, reason, longestPrefix: prefix, stockAfterPrefix, unplaced };
}
