// The simulated network's delay distributions: fixed, uniform, exponential and long-tail
// (Pareto), parsed from `kind:args` text and sampled from the simulation's one seeded generator.

export type DelayDist =
  | { kind: 'fixed'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  | { kind: 'exponential'; meanMs: number }
  /** Pareto with shape PARETO_SHAPE and this mean: infinite variance, a few very late messages. */
  | { kind: 'long-tail'; meanMs: number };

/** The Pareto shape of `long-tail`: below 2 the variance is infinite (a heavy tail). */
export const PARETO_SHAPE = 1.5;

/** The forms `parseDelay` accepts, for help texts and error messages. */
export const DELAY_FORMS = 'fixed:MS, uniform:MIN..MAX, exponential:MEAN or long-tail:MEAN';

/** A bad delay specification: the message says what was expected. */
export class DelaySpecError extends Error {
  override name = 'DelaySpecError';
}

/** Parses `fixed:2`, `uniform:1..5`, `exponential:2` or `long-tail:2` (virtual ms). */
export function parseDelay(text: string): DelayDist {
  const spec = text.trim();
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1).trim();
  const fail = (why: string): never => {
    throw new DelaySpecError(`bad delay '${text}': ${why} (expected ${DELAY_FORMS})`);
  };
  const ms = (s: string, what: string): number => {
    const n = s.trim() === '' ? Number.NaN : Number(s);
    if (!Number.isFinite(n) || n < 0) fail(`${what} must be a number >= 0, got '${s}'`);
    return n;
  };
  switch (kind) {
    case 'fixed':
      return { kind, ms: ms(arg, 'the delay') };
    case 'exponential':
      return { kind, meanMs: ms(arg, 'the mean') };
    case 'long-tail': {
      const meanMs = ms(arg, 'the mean');
      if (meanMs <= 0) fail(`the mean must be > 0, got '${arg}'`);
      return { kind, meanMs };
    }
    case 'uniform': {
      const parts = arg.split('..');
      if (parts.length !== 2) fail(`uniform takes MIN..MAX, got '${arg}'`);
      const minMs = ms(parts[0]!, 'MIN');
      const maxMs = ms(parts[1]!, 'MAX');
      if (maxMs < minMs) fail(`MAX must be >= MIN, got '${arg}'`);
      return { kind, minMs, maxMs };
    }
    default:
      return fail(`unknown distribution '${kind}'`);
  }
}

/** One delay (virtual ms) drawn with `random` (uniform in [0, 1)). */
export function sampleDelay(d: DelayDist, random: () => number): number {
  switch (d.kind) {
    case 'fixed':
      return d.ms;
    case 'uniform':
      return d.minMs + random() * (d.maxMs - d.minMs);
    case 'exponential':
      return -Math.log(1 - random()) * d.meanMs;
    case 'long-tail': {
      // Pareto: scale xm with mean xm * a / (a - 1); inverse transform of 1 - u.
      const xm = (d.meanMs * (PARETO_SHAPE - 1)) / PARETO_SHAPE;
      return xm / (1 - random()) ** (1 / PARETO_SHAPE);
    }
  }
}

/** The text `parseDelay` reads back to the same distribution. */
export function formatDelay(d: DelayDist): string {
  switch (d.kind) {
    case 'fixed':
      return `fixed:${d.ms}`;
    case 'uniform':
      return `uniform:${d.minMs}..${d.maxMs}`;
    case 'exponential':
    case 'long-tail':
      return `${d.kind}:${d.meanMs}`;
  }
}

/** Which nodes can talk: everyone, or groups cut off from each other by a partition. */
export class Partitions {
  private groupOf: Map<string, number> | null = null;
  private current = -1;

  /** Cuts the nodes into `groups`; nodes in no group form one more group together. */
  cut(id: number, groups: readonly (readonly string[])[]): void {
    this.groupOf = new Map();
    groups.forEach((g, i) => {
      for (const n of g) this.groupOf!.set(n, i);
    });
    this.current = id;
  }

  /** Heals partition `id` (a later partition stays); with no id, whatever partition there is. */
  heal(id?: number): boolean {
    if (this.groupOf === null || (id !== undefined && id !== this.current)) return false;
    this.groupOf = null;
    return true;
  }

  reachable(a: string, b: string): boolean {
    return this.groupOf === null || (this.groupOf.get(a) ?? -1) === (this.groupOf.get(b) ?? -1);
  }
}

/**
 * The lossy network both simulators send through: each message arrives after a sampled delay,
 * and while faults are on it may be lost or duplicated (each copy with its own delay).
 */
export function lossyNetwork<E>(
  o: { delay: DelayDist; lossP: number; dupP: number },
  random: () => number,
  m: { messages: number; dropped: number; duplicated: number },
  clock: () => { now: number; faultsOn: boolean },
  schedule: (at: number, event: E) => void,
): (event: E) => void {
  return (event) => {
    const { now, faultsOn } = clock();
    m.messages++;
    if (faultsOn && random() < o.lossP) {
      m.dropped++;
      return;
    }
    schedule(now + sampleDelay(o.delay, random), event);
    if (faultsOn && random() < o.dupP) {
      m.duplicated++;
      schedule(now + sampleDelay(o.delay, random), event);
    }
  };
}
