// One simulated node's disk: a write is committed at once (a process crash keeps it) and flushed
// later, in order, with the other writes of its turn (group commit); power loss keeps the flushed.
import type { DurableState } from '../paxos/core.ts';
import type { AcceptorRecord, LeadPromise } from '../paxos/messages.ts';
import type { Snapshot } from '../rsm/core.ts';

/** The durable writes of the Paxos core's effects, and the replica's snapshots. */
export type DiskWrite =
  | { type: 'persist'; inst: number; record: AcceptorRecord }
  | { type: 'reserve'; round: number }
  | { type: 'persist_lead'; lead: LeadPromise }
  | { type: 'learn'; inst: number; value: unknown }
  /** The replica's snapshot (as apps/rsm/store.ts saves it). */
  | { type: 'snapshot'; snapshot: Snapshot }
  /** Records and decisions below `below` are dropped (as the Paxos store's compact does). */
  | { type: 'compact'; below: number };

/** What one node keeps on disk: its participant's state and its replica's snapshot. */
export interface NodeDurable extends DurableState {
  snapshot?: Snapshot;
}

/** How long one flush takes (virtual ms): drawn uniformly in [minMs, maxMs]. */
export interface FlushTiming {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_FLUSH: FlushTiming = { minMs: 0.2, maxMs: 2 };

/** Parses `0.2..2` (a range) or `1` (always that long), virtual ms; throws a clear Error. */
export function parseFlushTiming(text: string): FlushTiming {
  const parts = text.split('..');
  const nums = parts.map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
  if (parts.length > 2 || nums.some((n) => !Number.isFinite(n) || n < 0))
    throw new Error(`bad flush time '${text}': expected MS or MIN..MAX, numbers >= 0`);
  const minMs = nums[0]!;
  const maxMs = nums[1] ?? minMs;
  if (maxMs < minMs) throw new Error(`bad flush time '${text}': MAX must be >= MIN`);
  return { minMs, maxMs };
}

export function formatFlushTiming(f: FlushTiming): string {
  return f.minMs === f.maxMs ? `${f.minMs}` : `${f.minMs}..${f.maxMs}`;
}

/** A flush to schedule: call `flush(id)` at virtual time `at`. */
export interface PendingFlush {
  id: number;
  at: number;
}

interface Group<W> extends PendingFlush {
  turn: number;
  writes: W[];
  /** What waits for this flush (the effects after a write, as the actor shell holds them). */
  held: Array<() => void>;
}

export function emptyDurable(): NodeDurable {
  return { records: new Map(), decided: new Map(), reservedRound: 0, floor: 0, lead: null };
}

function cloneDurable(d: NodeDurable): NodeDurable {
  return {
    records: new Map(d.records),
    decided: new Map(d.decided),
    reservedRound: d.reservedRound,
    floor: d.floor,
    lead: d.lead,
    snapshot: d.snapshot,
  };
}

function applyWrite(d: NodeDurable, w: DiskWrite): void {
  switch (w.type) {
    case 'persist':
      d.records.set(w.inst, w.record);
      break;
    case 'reserve':
      d.reservedRound = Math.max(d.reservedRound, w.round);
      break;
    case 'persist_lead':
      d.lead = w.lead;
      break;
    case 'learn':
      d.decided.set(w.inst, w.value);
      break;
    case 'snapshot':
      if (!d.snapshot || w.snapshot.inst > d.snapshot.inst) d.snapshot = w.snapshot;
      break;
    case 'compact':
      if (w.below <= (d.floor ?? 0)) break;
      for (const map of [d.records, d.decided] as Map<number, unknown>[])
        for (const inst of map.keys()) if (inst < w.below) map.delete(inst);
      d.floor = w.below;
      break;
  }
}

/**
 * What a disk holds and how a write changes it: the Paxos node's by default, another core's
 * (apps/sim/epaxos-sim.ts) otherwise, so both simulators share one model of commit and flush.
 */
export interface DiskFormat<S, W> {
  empty(): S;
  clone(state: S): S;
  apply(state: S, write: W): void;
}

export const PAXOS_DISK: DiskFormat<NodeDurable, DiskWrite> = {
  empty: emptyDurable,
  clone: cloneDurable,
  apply: applyWrite,
};

export class Disk<S = NodeDurable, W = DiskWrite> {
  private committedState: S;
  private flushedState: S;
  /** Committed, not flushed yet, oldest first; they flush in this order. */
  private groups: Group<W>[] = [];
  private nextId = 0;
  /** Counters for the metrics. */
  readonly stats = { writes: 0, flushes: 0, lostWrites: 0 };

  /**
   * `random` draws each flush's duration (the simulation's one seeded generator); `format` is
   * the Paxos node's unless given (the cast: S and W default to its types).
   */
  constructor(
    private readonly random: () => number,
    private readonly timing: FlushTiming = DEFAULT_FLUSH,
    private readonly format: DiskFormat<S, W> = PAXOS_DISK as unknown as DiskFormat<S, W>,
  ) {
    this.committedState = format.empty();
    this.flushedState = format.empty();
  }

  /**
   * Commits a write. The writes of one `turn` (one simulated event) share a flush; the first
   * write of a turn opens one and returns it for the caller to schedule. A flush never ends
   * before an earlier one: what is flushed is always a prefix of what was committed.
   */
  write(w: W, now: number, turn: number): PendingFlush | null {
    this.format.apply(this.committedState, w);
    this.stats.writes++;
    const last = this.groups.at(-1);
    if (last && last.turn === turn) {
      last.writes.push(w);
      return null;
    }
    const took = this.timing.minMs + this.random() * (this.timing.maxMs - this.timing.minMs);
    const at = Math.max(now + took, last?.at ?? 0);
    const group: Group<W> = { id: this.nextId++, at, turn, writes: [w], held: [] };
    this.groups.push(group);
    return { id: group.id, at };
  }

  /** Runs `then` once the last write is flushed (at once if nothing is waiting to be). */
  afterFlush(then: () => void): void {
    const last = this.groups.at(-1);
    if (last) last.held.push(then);
    else then();
  }

  /**
   * Flushes the group `id` and every earlier one; returns what was held for them, in order, to
   * be run now. A group lost to a power loss is gone: its id flushes nothing.
   */
  flush(id: number): Array<() => void> {
    const held: Array<() => void> = [];
    while (this.groups.length > 0 && this.groups[0]!.id <= id) {
      const g = this.groups.shift()!;
      for (const w of g.writes) this.format.apply(this.flushedState, w);
      this.stats.flushes++;
      held.push(...g.held);
    }
    return held;
  }

  /** The process died: what it held is gone, but its committed writes still reach the disk. */
  crash(): void {
    for (const g of this.groups) g.held = [];
  }

  /** The machine lost power: every write not flushed is lost. Returns how many. */
  powerLoss(): number {
    const lost = this.groups.reduce((n, g) => n + g.writes.length, 0);
    this.groups = [];
    this.committedState = this.format.clone(this.flushedState);
    this.stats.lostWrites += lost;
    return lost;
  }

  /** Test only (the `amnesia` mutation): the disk forgets everything. */
  wipe(): void {
    this.groups = [];
    this.committedState = this.format.empty();
    this.flushedState = this.format.empty();
  }

  /** What a restarted process reads: every committed write. */
  committed(): S {
    return this.format.clone(this.committedState);
  }

  /** What survives a power loss. */
  flushed(): S {
    return this.format.clone(this.flushedState);
  }

  /** Writes committed and not flushed yet. */
  get unflushed(): number {
    return this.groups.reduce((n, g) => n + g.writes.length, 0);
  }
}
