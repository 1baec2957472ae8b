// What a node shows about itself (for the live cluster view and the REPL): probes that
// processes register to describe their state, and short rings of recent events by channel.
// Generic: the runtime does not know what a probe describes (Paxos, a replica, ...).
import { kernel } from './kernel.ts';
import type { Pid } from './pid.ts';

interface Probe {
  kind: string;
  owner: Pid;
  describe: () => unknown;
}

const probes = new Map<string, Probe>();

/**
 * Registers `describe` as a probe of `kind` owned by `owner`: it is shown while the owner is
 * alive and forgotten after. One probe per kind and owner (a second replaces the first).
 */
export function registerProbe(kind: string, owner: Pid, describe: () => unknown): void {
  probes.set(`${kind}|${owner.key}`, { kind, owner, describe });
}

/** What every live probe says now (a probe that throws says `{ error }`). */
export function readProbes(): Array<{ kind: string; owner: Pid; data: unknown }> {
  const out: Array<{ kind: string; owner: Pid; data: unknown }> = [];
  for (const [key, p] of probes) {
    if (!kernel.lookup(p.owner)) {
      probes.delete(key);
      continue;
    }
    let data: unknown;
    try {
      data = p.describe();
    } catch (err) {
      data = { error: String(err) };
    }
    out.push({ kind: p.kind, owner: p.owner, data });
  }
  return out;
}

const rings = new Map<string, { keep: number; entries: unknown[] }>();
let sequence = 0;

/** Appends an event to `channel`'s ring (the last `keep` are kept), stamped with time and sequence. */
export function recordEvent(channel: string, event: Record<string, unknown>, keep = 200): void {
  let ring = rings.get(channel);
  if (!ring) {
    ring = { keep, entries: [] };
    rings.set(channel, ring);
  }
  ring.entries.push({ seq: sequence++, t: Date.now(), ...event });
  if (ring.entries.length > ring.keep * 2) ring.entries.splice(0, ring.entries.length - ring.keep);
}

/** The recent events of `channel`, oldest first (at most its `keep`). */
export function recentEvents(channel: string): unknown[] {
  const ring = rings.get(channel);
  return ring ? ring.entries.slice(-ring.keep) : [];
}
