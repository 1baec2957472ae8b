// Where an EPaxos replica's durable state lives: its instance records and the recovery ballot it
// reserved. LMDB (the data dir's environment, shared with Paxos: apps/paxos/storage.ts) or memory.
import { resolve } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { ActorError } from '../../actors/index.ts';
import {
  batched,
  closeStores,
  effectiveOptions,
  environment,
  flushedAfter,
  type StorageOptions,
} from '../paxos/storage.ts';
import type { Checkpoint, InstanceKey, InstanceRecord } from './messages.ts';
import type { DurableState } from './replica.ts';

/** A checkpoint as kept: the core's, and the shell's snapshot of the application beside it. */
export interface StoredCheckpoint {
  checkpoint: Checkpoint;
  snapshot: unknown;
}

export interface EpaxosStore {
  /** As last persisted (kept in step in memory: a restarted replica reads it from here). */
  readonly records: Map<InstanceKey, InstanceRecord>;
  ballotN: number;
  /** The last checkpoint written, if any. */
  checkpoint: StoredCheckpoint | undefined;
  /** The replicas this store's partition was started with (kept with the data), once started. */
  members: string[] | undefined;
  /** A promise means: carry out nothing that depends on the write before it settles. */
  persistRecord(inst: InstanceKey, record: InstanceRecord): Promise<unknown> | undefined;
  persistBallot(ballotN: number): Promise<unknown> | undefined;
  persistCheckpoint(checkpoint: StoredCheckpoint): Promise<unknown> | undefined;
  /** Drops these records (every replica's checkpoint covers them). */
  trim(insts: readonly InstanceKey[]): Promise<unknown> | undefined;
  /** Records the membership on first use; throws invalid_argument if it differs from the kept one. */
  claim(replicas: readonly string[]): void;
  /** The partition's replicas are these from now on (EPaxos.join), durably. */
  reconfigure(replicas: readonly string[]): Promise<unknown> | undefined;
}

/** What createReplica (replica.ts) starts from. */
export function durableState(store: EpaxosStore): DurableState {
  return {
    records: store.records,
    ballotN: store.ballotN,
    checkpoint: store.checkpoint?.checkpoint,
  };
}

/** Storage options for one replica: `override`'s fields over the configured ones (configureStorage). */
export function storageOptions(override: StorageOptions = {}): Required<StorageOptions> {
  const base = effectiveOptions();
  return {
    kind: override.kind ?? base.kind,
    dir: override.dir ?? base.dir,
    sync: override.sync ?? base.sync,
  };
}

const memoryStores = new Map<string, EpaxosStore>();
/** LMDB stores loaded, with the environment they were loaded from (reloaded if it was closed). */
const lmdbStores = new Map<string, { db: RootDatabase; store: EpaxosStore }>();

/**
 * The store of replica `replica` of partition `partitionId` (its state as last persisted).
 * Loaded once per process: a restarted replica shares it with its earlier incarnation.
 */
export function openEpaxosStore(
  partitionId: string,
  replica: string,
  options: Required<StorageOptions> = storageOptions(),
): EpaxosStore {
  const id = `${partitionId}\u0000${replica}`;
  if (options.kind === 'memory') {
    let store = memoryStores.get(id);
    if (!store) {
      store = memoryStore(partitionId, replica);
      memoryStores.set(id, store);
    }
    return store;
  }
  const key = `${resolve(options.dir)}\u0000${id}`;
  const db = environment(options.dir, options.sync);
  const loaded = lmdbStores.get(key);
  if (loaded && loaded.db === db) return loaded.store;
  const store = lmdbStore(db, options, partitionId, replica);
  lmdbStores.set(key, { db, store });
  return store;
}

function checkMembers(
  s: EpaxosStore,
  partitionId: string,
  replica: string,
  where: string,
  replicas: readonly string[],
): string[] | undefined {
  const wanted = [...replicas].sort(); // a set: the order of the node list does not matter
  if (s.members === undefined) {
    s.members = wanted;
    return wanted;
  }
  if (s.members.length !== wanted.length || s.members.some((m, i) => m !== wanted[i]))
    throw new ActorError(
      'invalid_argument',
      `${where} holds replica '${replica}' of EPaxos partition '${partitionId}' with the node list [${s.members.join(', ')}], not [${wanted.join(', ')}]: its instances belong to that cluster. Use another partition id or data directory`,
    );
  return undefined;
}

function memoryStore(partitionId: string, replica: string): EpaxosStore {
  const records = new Map<InstanceKey, InstanceRecord>();
  const s: EpaxosStore = {
    records,
    ballotN: 0,
    checkpoint: undefined,
    members: undefined,
    persistRecord: (inst, record) => {
      records.set(inst, record);
      return undefined;
    },
    persistBallot: (ballotN) => {
      s.ballotN = Math.max(s.ballotN, ballotN);
      return undefined;
    },
    persistCheckpoint: (checkpoint) => {
      s.checkpoint = checkpoint;
      return undefined;
    },
    trim: (insts) => {
      for (const inst of insts) records.delete(inst);
      return undefined;
    },
    claim: (replicas) => {
      checkMembers(s, partitionId, replica, 'this process (in memory)', replicas);
    },
    reconfigure: (replicas) => {
      s.members = [...replicas].sort();
      return undefined;
    },
  };
  return s;
}

/**
 * Keys: ['epaxos', partition, replica, 'rec', instance] | [..., 'ballot'] | [..., 'members'] |
 * [..., 'checkpoint'].
 */
function lmdbStore(
  db: RootDatabase,
  options: Required<StorageOptions>,
  partitionId: string,
  replica: string,
): EpaxosStore {
  const prefix = ['epaxos', partitionId, replica];
  const durable = (committed: Promise<unknown>) => flushedAfter(db, options.sync, committed);
  const records = new Map<InstanceKey, InstanceRecord>();
  // Instance keys are strings: every one sorts between '' and '\uffff'.
  for (const { key, value } of db.getRange({
    start: [...prefix, 'rec', ''],
    end: [...prefix, 'rec', '\uffff'],
  })) {
    records.set((key as string[])[4]!, value as InstanceRecord);
  }
  const s: EpaxosStore = {
    records,
    ballotN: (db.get([...prefix, 'ballot']) as number | undefined) ?? 0,
    checkpoint: db.get([...prefix, 'checkpoint']) as StoredCheckpoint | undefined,
    members: db.get([...prefix, 'members']) as string[] | undefined,
    persistRecord: (inst, record) => {
      records.set(inst, record);
      return durable(db.put([...prefix, 'rec', inst], record));
    },
    persistBallot: (ballotN) => {
      s.ballotN = Math.max(s.ballotN, ballotN);
      return durable(db.put([...prefix, 'ballot'], s.ballotN));
    },
    persistCheckpoint: (checkpoint) => {
      s.checkpoint = checkpoint;
      return durable(db.put([...prefix, 'checkpoint'], checkpoint));
    },
    trim: (insts) => {
      for (const inst of insts) records.delete(inst);
      // One transaction: written after the checkpoint that covers them (LMDB keeps the order).
      return durable(
        batched(db, () => {
          for (const inst of insts) void db.remove([...prefix, 'rec', inst]);
        }),
      );
    },
    claim: (replicas) => {
      const where = `the data directory ${resolve(options.dir)}`;
      const first = checkMembers(s, partitionId, replica, where, replicas);
      if (first) void durable(db.put([...prefix, 'members'], first));
    },
    reconfigure: (replicas) => {
      s.members = [...replicas].sort();
      return durable(db.put([...prefix, 'members'], s.members));
    },
  };
  return s;
}

/** Closes every LMDB environment (Paxos's too) and forgets the loaded stores (tests). */
export async function closeEpaxosStores(): Promise<void> {
  lmdbStores.clear();
  await closeStores();
}

/** Forgets the in-memory store of one replica (a fresh start under the same names). */
export function dropEpaxosMemoryStore(partitionId: string, replica: string): void {
  memoryStores.delete(`${partitionId}\u0000${replica}`);
}
