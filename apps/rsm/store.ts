// Where a replica keeps its snapshot (the applied state at a log position). With it, the Paxos
// store below the snapshot can be compacted away and a restart replays only what follows.
import { effectiveOptions, environment, flushedAfter } from '../paxos/storage.ts';
import type { Snapshot } from './core.ts';

export type { Snapshot };

export interface ReplicaStore {
  load(): Snapshot | undefined;
  /** Makes the snapshot durable (a promise with LMDB). */
  save(snapshot: Snapshot): Promise<unknown> | undefined;
}

const memory = new Map<string, Snapshot>();

/** The store of replica `name` (LMDB or memory, as the Paxos store: see configureStorage). */
export function openReplicaStore(name: string): ReplicaStore {
  const options = effectiveOptions();
  if (options.kind === 'memory') {
    return {
      load: () => memory.get(name),
      save: (snapshot) => {
        memory.set(name, snapshot);
        return undefined;
      },
    };
  }
  const db = environment(options.dir, options.sync);
  const key = [name, 'snapshot'];
  return {
    load: () => db.get(key) as Snapshot | undefined,
    save: (snapshot) => flushedAfter(db, options.sync, db.put(key, snapshot)),
  };
}

/** Forgets the in-memory snapshot of `name` (a fresh start under the same name). */
export function dropReplicaStore(name: string): void {
  memory.delete(name);
}
