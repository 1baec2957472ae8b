// Explicit-state breadth-first exploration of a model: every reachable state once (by the hash of
// its canonical key), invariants checked on every transition, the shortest trace to a violation.
import { getHeapStatistics } from 'node:v8';
import { VisitedSet } from './visited.ts';

/** One transition out of a state: what happened, the state after, and a broken invariant if any. */
export interface Successor<S, St> {
  step: St;
  next: S;
  violation: string | null;
}

/** A model: its start, a canonical key per state, and every transition out of a state. */
export interface Model<S, St> {
  initial(): S;
  /** Equal keys must mean equal future behaviour (the key is what is hashed). */
  key(s: S): string;
  /**
   * Deterministic: the same state gives the same successors in the same order. With `only`,
   * just the steps it accepts (a model may skip the others before computing them; a search of
   * a restricted model filters what comes back, so ignoring `only` is correct, only slower).
   */
  successors(s: S, only?: (step: St) => boolean): Array<Successor<S, St>>;
}

export interface ExploreOptions {
  /** Stop (cleanly) once this many distinct states were found. */
  maxStates?: number;
  /** Stop (cleanly) after this long, in seconds. */
  maxSeconds?: number;
  /**
   * Stop (cleanly) once the JavaScript heap holds this many MB (default: 80% of the heap's
   * limit, so that a large search stops with what it covered instead of running out of memory).
   */
  maxHeapMb?: number;
  /** Called about every `progressMs` (default 2000) with where the search stands. */
  onProgress?: (p: Progress) => void;
  progressMs?: number;
}

export interface Progress {
  states: number;
  transitions: number;
  frontier: number;
  depth: number;
  elapsedMs: number;
  statesPerSec: number;
  heapMb: number;
}

interface Totals {
  /** Distinct states found (each checked). */
  states: number;
  /** Transitions taken (successors computed, duplicates included). */
  transitions: number;
  elapsedMs: number;
}

export type ExploreResult<St> =
  /** Every reachable state explored; `depth` is the longest shortest path. */
  | (Totals & { kind: 'clean'; depth: number })
  /** Stopped at a bound: every state within `depth` steps was found and checked. */
  | (Totals & { kind: 'bound'; depth: number; bound: 'states' | 'seconds' | 'memory' })
  /** `trace` is a shortest sequence of steps from the initial state to a broken invariant. */
  | (Totals & { kind: 'violation'; depth: number; violation: string; trace: St[] });

/** A search's bounds with their defaults (no bound on states or time; 80% of the heap limit). */
export function searchLimits(options: {
  maxStates?: number;
  maxSeconds?: number;
  maxHeapMb?: number;
  progressMs?: number;
}): { maxStates: number; maxMs: number; maxHeap: number; progressMs: number } {
  return {
    maxStates: options.maxStates ?? Number.POSITIVE_INFINITY,
    maxMs: (options.maxSeconds ?? Number.POSITIVE_INFINITY) * 1000,
    maxHeap: (options.maxHeapMb ?? (0.8 * getHeapStatistics().heap_size_limit) / 2 ** 20) * 2 ** 20,
    progressMs: options.progressMs ?? 2000,
  };
}

export function explore<S, St>(
  model: Model<S, St>,
  options: ExploreOptions = {},
): ExploreResult<St> {
  const started = performance.now();
  const { maxStates, maxMs, maxHeap, progressMs } = searchLimits(options);
  const visited = new VisitedSet();
  // Parent pointers: state i was first reached from parent[i] by its successor number via[i].
  let parent = new Int32Array(1 << 16);
  let via = new Uint16Array(1 << 16);
  let count = 0;
  const record = (p: number, v: number): number => {
    if (count === parent.length) {
      const np = new Int32Array(parent.length * 2);
      np.set(parent);
      parent = np;
      const nv = new Uint16Array(via.length * 2);
      nv.set(via);
      via = nv;
    }
    parent[count] = p;
    via[count] = v;
    return count++;
  };
  const init = model.initial();
  visited.add(model.key(init));
  record(-1, 0);
  let frontier: Array<{ s: S; id: number }> = [{ s: init, id: 0 }];
  let depth = 0;
  let transitions = 0;
  let lastProgress = started;
  let lastStates = 0;
  const totals = (): Totals => ({
    states: visited.size,
    transitions,
    elapsedMs: performance.now() - started,
  });
  const trace = (id: number, last: number): St[] => {
    const path: number[] = [last];
    for (let i = id; i > 0; i = parent[i]!) path.push(via[i]!);
    path.reverse();
    const steps: St[] = [];
    let s = init;
    for (const v of path) {
      const succ = model.successors(s)[v]!;
      steps.push(succ.step);
      s = succ.next;
    }
    return steps;
  };
  while (frontier.length > 0) {
    const next: Array<{ s: S; id: number }> = [];
    for (let f = 0; f < frontier.length; f++) {
      const { s, id } = frontier[f]!;
      const succs = model.successors(s);
      if (succs.length > 0xffff) throw new Error('more than 65535 successors of one state');
      for (let v = 0; v < succs.length; v++) {
        const succ = succs[v]!;
        transitions++;
        if (succ.violation !== null) {
          return {
            ...totals(),
            kind: 'violation',
            depth: depth + 1,
            violation: succ.violation,
            trace: trace(id, v),
          };
        }
        if (visited.add(model.key(succ.next))) next.push({ s: succ.next, id: record(id, v) });
      }
      if ((f & 255) === 0) {
        const now = performance.now();
        const heapFull = (f & 4095) === 0 && process.memoryUsage().heapUsed >= maxHeap;
        if (visited.size >= maxStates || now - started >= maxMs || heapFull) {
          return {
            ...totals(),
            kind: 'bound',
            depth,
            bound: visited.size >= maxStates ? 'states' : heapFull ? 'memory' : 'seconds',
          };
        }
        if (options.onProgress && now - lastProgress >= progressMs) {
          options.onProgress({
            states: visited.size,
            transitions,
            frontier: frontier.length - f + next.length,
            depth,
            elapsedMs: now - started,
            statesPerSec: ((visited.size - lastStates) * 1000) / (now - lastProgress),
            heapMb: process.memoryUsage().heapUsed / 2 ** 20,
          });
          lastProgress = now;
          lastStates = visited.size;
        }
      }
    }
    frontier = next;
    if (next.length > 0) depth++;
  }
  return { ...totals(), kind: 'clean', depth };
}

/**
 * The model restricted to the steps of a trace (matched by `stepKey`): each may be taken any
 * number of times, in any order, or not at all, and no other step is. A search of it finds the
 * shortest run made of those steps that breaks an invariant (a trace's minimum: no step of it
 * can be dropped or moved to make a shorter one), or shows that none does.
 */
export function within<S, St>(
  model: Model<S, St>,
  steps: readonly St[],
  stepKey: (step: St) => string,
): Model<S, St> {
  const allowed = new Set(steps.map(stepKey));
  // A model may hand out the same step object again (the EPaxos model's deliveries): its key once.
  const keys = new WeakMap<object, string>();
  const keyOf = (step: St): string => {
    if (typeof step !== 'object' || step === null) return stepKey(step);
    let k = keys.get(step);
    if (k === undefined) {
      k = stepKey(step);
      keys.set(step, k);
    }
    return k;
  };
  const only = (step: St) => allowed.has(keyOf(step));
  return {
    initial: () => model.initial(),
    key: (s) => model.key(s),
    successors: (s) => model.successors(s, only).filter((x) => only(x.step)),
  };
}
