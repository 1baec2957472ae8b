// Fault injection rules for one sending direction of a link (node -> peer): partition, delay
// with jitter, drop and duplicate with a probability. A link with no rules pays one null check.

export interface LinkFaults {
  /** Drop every frame to the peer (a partition in this direction). */
  partitioned: boolean;
  /** Hold every frame this long (plus or minus jitter) before sending; order is kept. */
  delayMs: number;
  jitterMs: number;
  /** Probability of dropping each process signal (not heartbeats or node control). */
  dropP: number;
  /** Probability of sending each process signal twice. */
  dupP: number;
}

export type FaultSpec =
  | { type: 'partition' }
  | { type: 'delay'; delayMs: number; jitterMs: number }
  | { type: 'drop'; p: number }
  | { type: 'duplicate'; p: number };

export function noFaults(): LinkFaults {
  return { partitioned: false, delayMs: 0, jitterMs: 0, dropP: 0, dupP: 0 };
}

export function isClear(f: LinkFaults): boolean {
  return !f.partitioned && f.delayMs === 0 && f.jitterMs === 0 && f.dropP === 0 && f.dupP === 0;
}

/** Applies one rule on top of the current ones. */
export function withFault(current: LinkFaults | null, spec: FaultSpec): LinkFaults {
  const next = { ...(current ?? noFaults()) };
  switch (spec.type) {
    case 'partition':
      next.partitioned = true;
      break;
    case 'delay':
      next.delayMs = spec.delayMs;
      next.jitterMs = spec.jitterMs;
      break;
    case 'drop':
      next.dropP = spec.p;
      break;
    case 'duplicate':
      next.dupP = spec.p;
      break;
  }
  return next;
}

/** A small seeded PRNG (mulberry32) so fault runs can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable 32-bit hash of a string (to derive per-link seeds). */
export function hash32(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
