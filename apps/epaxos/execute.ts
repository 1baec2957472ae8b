// EPaxos execution, pure: from a committed instance, the strongly connected components of the
// committed dependency graph (Tarjan, iterative), dependencies first, by sequence number inside.
import type { Command, InstanceKey } from './messages.ts';

export interface Committed {
  cmd: Command;
  seq: number;
  deps: InstanceKey[];
}

export type ExecutionPlan =
  /** Execute these, in this order (every one committed, none executed yet). */
  | { ok: true; order: InstanceKey[] }
  /** A dependency reached from the start is not committed here yet. */
  | { ok: false; missing: InstanceKey };

/** Within a component: by sequence number, then by instance key (the same on every replica). */
export function compareInComponent(
  a: { key: InstanceKey; seq: number },
  b: { key: InstanceKey; seq: number },
): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * What may be executed starting from `start`: every committed, unexecuted instance it reaches,
 * component by component. Nothing if one of them reaches an instance that is not committed.
 */
export function planExecution(
  start: InstanceKey,
  committed: ReadonlyMap<InstanceKey, Committed>,
  executed: { has(inst: InstanceKey): boolean },
): ExecutionPlan {
  if (executed.has(start)) return { ok: true, order: [] };
  const index = new Map<InstanceKey, number>();
  const low = new Map<InstanceKey, number>();
  const onStack = new Set<InstanceKey>();
  const stack: InstanceKey[] = [];
  const order: InstanceKey[] = [];
  let next = 0;
  // Each frame: the vertex and the position in its dependency list.
  const frames: Array<{ v: InstanceKey; i: number }> = [];
  const open = (v: InstanceKey): ExecutionPlan | null => {
    if (!committed.has(v)) return { ok: false, missing: v };
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    frames.push({ v, i: 0 });
    return null;
  };
  const first = open(start);
  if (first) return first;
  while (frames.length > 0) {
    const frame = frames[frames.length - 1]!;
    const deps = committed.get(frame.v)!.deps;
    if (frame.i < deps.length) {
      const w = deps[frame.i++]!;
      if (executed.has(w)) continue;
      if (!index.has(w)) {
        const missing = open(w);
        if (missing) return missing;
      } else if (onStack.has(w)) {
        low.set(frame.v, Math.min(low.get(frame.v)!, index.get(w)!));
      }
      continue;
    }
    frames.pop();
    const v = frame.v;
    if (frames.length > 0) {
      const parent = frames[frames.length - 1]!.v;
      low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: Array<{ key: InstanceKey; seq: number }> = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        component.push({ key: w, seq: committed.get(w)!.seq });
        if (w === v) break;
      }
      component.sort(compareInComponent);
      for (const c of component) order.push(c.key);
    }
  }
  return { ok: true, order };
}
