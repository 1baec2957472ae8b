// What both simulators (simulator.ts for Paxos, epaxos-sim.ts) compute the same way at the end
// of a run: percentiles, the disks' totals, and the digest that says "same seed, same run".
import { hash32 } from '../../transport/faults.ts';

/** The p-th percentile of xs (0 for none), to 0.01. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 100) / 100;
}

/** Adds every disk's writes, flushes and lost writes to the run's metrics. */
export function addDiskStats(
  m: { diskWrites: number; flushes: number; lostWrites: number },
  disks: Iterable<{ stats: { writes: number; flushes: number; lostWrites: number } }>,
): void {
  for (const d of disks) {
    m.diskWrites += d.stats.writes;
    m.flushes += d.stats.flushes;
    m.lostWrites += d.stats.lostWrites;
  }
}

/** Eight hex digits over what was decided (in the order given) and the metrics. */
export function runDigest(decided: Array<[string | number, string]>, metrics: unknown): string {
  const log = decided.map(([i, v]) => `${i}:${v}`).join('\n');
  return hash32(`${log}\n${JSON.stringify(metrics)}`)
    .toString(16)
    .padStart(8, '0');
}
