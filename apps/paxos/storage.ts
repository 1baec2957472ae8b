// Where a participant's durable state lives: acceptor records, decisions, the reserved round.
// This store is in memory: it survives role restarts, not the node process (see README).
import type { AcceptorRecord } from './messages.ts';

export interface PaxosStore {
  readonly records: Map<number, AcceptorRecord>;
  readonly decided: Map<number, unknown>;
  reservedRound: number;
  /** Makes the record durable (called before the reply that depends on it). */
  persistRecord(inst: number, record: AcceptorRecord): void;
  persistDecision(inst: number, value: unknown): void;
  persistReserved(round: number): void;
}

const stores = new Map<string, PaxosStore>();

/** The store of participant `name` on this node (created empty on first use). */
export function memoryStore(name: string): PaxosStore {
  let store = stores.get(name);
  if (!store) {
    const records = new Map<number, AcceptorRecord>();
    const decided = new Map<number, unknown>();
    const s: PaxosStore = {
      records,
      decided,
      reservedRound: 0,
      persistRecord: (inst, record) => records.set(inst, record),
      persistDecision: (inst, value) => decided.set(inst, value),
      persistReserved: (round) => {
        s.reservedRound = Math.max(s.reservedRound, round);
      },
    };
    store = s;
    stores.set(name, store);
  }
  return store;
}

/** Forgets a participant's store (a fresh start under the same name). */
export function dropStore(name: string): void {
  stores.delete(name);
}
