// Where a participant's durable state lives: acceptor records, decisions, the reserved round.
// LMDB on disk (one environment per data dir, writes of a turn grouped into one commit), or memory.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { diskCodec } from '../../actors/codec.ts';
import { ActorError, nodeName } from '../../actors/index.ts';
import type { AcceptorRecord, LeadPromise } from './messages.ts';

export interface PaxosStore {
  readonly records: Map<number, AcceptorRecord>;
  readonly decided: Map<number, unknown>;
  reservedRound: number;
  /** The acceptor's term promise (every instance from `lead.from` on), or null. */
  lead: LeadPromise | null;
  /**
   * Instances below the floor were compacted away (a replica's snapshot covers them): their
   * records and decisions are gone, and the participant takes no part in them any more.
   */
  floor: number;
  /** Makes the record durable; a promise means: send nothing that depends on it before it settles. */
  persistRecord(inst: number, record: AcceptorRecord): Promise<unknown> | undefined;
  persistDecision(inst: number, value: unknown): Promise<unknown> | undefined;
  persistReserved(round: number): Promise<unknown> | undefined;
  persistLead(lead: LeadPromise): Promise<unknown> | undefined;
  /** Forgets records and decisions of instances below `below` (raises the floor, durably). */
  compact(below: number): Promise<unknown> | undefined;
  /**
   * The participants this name was started with, once started (kept with the data): a data
   * directory reused by a participant of another cluster would replay that cluster's decisions.
   */
  members: string[] | undefined;
  /** Records the membership on first use; throws invalid_argument if it differs from the kept one. */
  claim(participants: string[]): void;
}

/** The membership check of a store (shared by both kinds). */
function claimMembers(
  s: PaxosStore,
  name: string,
  where: string,
  participants: string[],
): string[] | undefined {
  const wanted = [...participants].sort();
  if (s.members === undefined) {
    s.members = wanted;
    return wanted;
  }
  if (s.members.length !== wanted.length || s.members.some((m, i) => m !== wanted[i])) {
    throw new ActorError(
      'invalid_argument',
      `${where} holds participant '${name}' of the cluster [${s.members.join(', ')}], not [${wanted.join(', ')}]: its decisions belong to that cluster. Start with another data directory, or remove this one`,
    );
  }
  return undefined;
}

export interface StorageOptions {
  /** 'lmdb' (on disk) or 'memory' (lost with the process). */
  kind?: 'lmdb' | 'memory';
  /** Data directory for LMDB (default ./data/<node's short name>). */
  dir?: string;
  /** false: do not wait for the disk (fast, and UNSAFE: a machine crash may lose promises). */
  sync?: boolean;
}

let configured: StorageOptions = {};

/**
 * Sets how participants started from now on store their state. Defaults, from the environment:
 * ACTORCLUSTER_PAXOS_STORAGE (lmdb|memory), ACTORCLUSTER_DATA_DIR, ACTORCLUSTER_NOSYNC=1. Without
 * them, a named node keeps its state in LMDB under ./data/<name>; an unnamed process in memory.
 */
export function configureStorage(options: StorageOptions): void {
  configured = { ...options };
}

/** The storage options in force (configureStorage, else the environment, else the defaults). */
export function effectiveOptions(): Required<StorageOptions> {
  const env = process.env;
  const node = nodeName();
  const named = node !== 'nonode';
  const kind =
    configured.kind ??
    (env.ACTORCLUSTER_PAXOS_STORAGE as 'lmdb' | 'memory' | undefined) ??
    (named ? 'lmdb' : 'memory');
  const short = node.split('@')[0]!;
  const dir = configured.dir ?? env.ACTORCLUSTER_DATA_DIR ?? `./data/${short}`;
  const sync = configured.sync ?? env.ACTORCLUSTER_NOSYNC !== '1';
  return { kind, dir, sync };
}

const memoryStores = new Map<string, PaxosStore>();

/**
 * The store of participant `name` (its state as last persisted). Loaded once per process and
 * name: later opens (a restarted participant, a replica replaying its log) share it.
 */
export function openStore(name: string): PaxosStore {
  const options = effectiveOptions();
  return options.kind === 'memory' ? memoryStore(name) : lmdbStore(options.dir, options.sync, name);
}

function memoryStore(name: string): PaxosStore {
  let store = memoryStores.get(name);
  if (!store) {
    const records = new Map<number, AcceptorRecord>();
    const decided = new Map<number, unknown>();
    const s: PaxosStore = {
      records,
      decided,
      reservedRound: 0,
      lead: null,
      floor: 0,
      persistRecord: (inst, record) => {
        records.set(inst, record);
        return undefined;
      },
      persistLead: (lead) => {
        s.lead = lead;
        return undefined;
      },
      persistDecision: (inst, value) => {
        decided.set(inst, value);
        return undefined;
      },
      persistReserved: (round) => {
        s.reservedRound = Math.max(s.reservedRound, round);
        return undefined;
      },
      compact: (below) => {
        raiseFloor(s, below);
        return undefined;
      },
      members: undefined,
      claim: (participants) => {
        claimMembers(s, name, 'this process (in memory)', participants);
      },
    };
    store = s;
    memoryStores.set(name, store);
  }
  return store;
}

const environments = new Map<string, RootDatabase>();

/** The LMDB environment of a data dir (one per dir and process, shared by every store in it). */
export function environment(dir: string, sync: boolean): RootDatabase {
  const path = resolve(dir);
  let db = environments.get(path);
  if (!db) {
    mkdirSync(path, { recursive: true });
    // lmdb-js commits the writes of one event-loop turn as one transaction (one sync for all).
    // Values are encoded exactly as on the wire (actors/codec.ts): a Set comes back a Set.
    // noSubdir: false: a directory even if its name has a dot (lmdb-js takes that for a file).
    db = open({ path, noSubdir: false, compression: false, noSync: !sync, encoder: diskCodec() });
    environments.set(path, db);
  }
  return db;
}

/**
 * Writes what `write` writes in one transaction, all or nothing, after every write queued before
 * (resolves at commit). Not `db.transaction`: that runs its callback on the main thread while
 * lmdb-js's write thread waits for it, and a process.exit meanwhile never returns (the exit waits
 * for the write thread). Here the writes are queued at once, and the write thread needs nothing
 * more from this thread.
 */
export function batched(db: RootDatabase, write: () => void): Promise<unknown> {
  return db.batch(write);
}

/**
 * A write's promise resolves at commit; on disk means flushed. What a reply depends on waits for
 * the flush (one flush covers every write committed in the same turn: group commit stays).
 */
export function flushedAfter(
  db: RootDatabase,
  sync: boolean,
  committed: Promise<unknown>,
): Promise<unknown> {
  return sync ? committed.then(() => db.flushed) : committed;
}

/** LMDB stores already loaded, by data dir and name (one load per name, as for memory stores). */
const lmdbStores = new Map<string, PaxosStore>();

function lmdbStore(dir: string, sync: boolean, name: string): PaxosStore {
  const key = `${resolve(dir)}|${name}`;
  let store = lmdbStores.get(key);
  if (!store) {
    store = loadLmdbStore(dir, sync, name);
    lmdbStores.set(key, store);
  }
  return store;
}

function loadLmdbStore(dir: string, sync: boolean, name: string): PaxosStore {
  const db = environment(dir, sync);
  const durable = (committed: Promise<unknown>) => flushedAfter(db, sync, committed);
  const records = new Map<number, AcceptorRecord>();
  const decided = new Map<number, unknown>();
  for (const { key, value } of db.getRange({
    start: [name, 'rec', 0],
    end: [name, 'rec', Number.MAX_SAFE_INTEGER],
  })) {
    records.set((key as [string, string, number])[2], value as AcceptorRecord);
  }
  for (const { key, value } of db.getRange({
    start: [name, 'dec', 0],
    end: [name, 'dec', Number.MAX_SAFE_INTEGER],
  })) {
    decided.set((key as [string, string, number])[2], value);
  }
  const s: PaxosStore = {
    records,
    decided,
    reservedRound: (db.get([name, 'reserved']) as number | undefined) ?? 0,
    lead: (db.get([name, 'lead']) as LeadPromise | undefined) ?? null,
    floor: (db.get([name, 'floor']) as number | undefined) ?? 0,
    members: db.get([name, 'members']) as string[] | undefined,
    claim: (participants) => {
      const first = claimMembers(s, name, `the data directory ${resolve(dir)}`, participants);
      if (first) void flushedAfter(db, sync, db.put([name, 'members'], first));
    },
    persistRecord: (inst, record) => {
      records.set(inst, record);
      return durable(db.put([name, 'rec', inst], record));
    },
    persistDecision: (inst, value) => {
      decided.set(inst, value);
      return durable(db.put([name, 'dec', inst], value));
    },
    persistReserved: (round) => {
      s.reservedRound = Math.max(s.reservedRound, round);
      return durable(db.put([name, 'reserved'], s.reservedRound));
    },
    persistLead: (lead) => {
      s.lead = lead;
      return durable(db.put([name, 'lead'], lead));
    },
    compact: (below) => {
      // What goes is what memory holds below the floor: every entry on disk was loaded into it or
      // written through it (some maybe not committed yet), and only raiseFloor drops any.
      const doomed = {
        rec: [...records.keys()].filter((inst) => inst < below),
        dec: [...decided.keys()].filter((inst) => inst < below),
      };
      if (!raiseFloor(s, below)) return undefined;
      return durable(
        batched(db, () => {
          for (const [kind, insts] of Object.entries(doomed))
            for (const inst of insts) void db.remove([name, kind, inst]);
          void db.put([name, 'floor'], below);
        }),
      );
    },
  };
  return s;
}

/** Raises the floor and drops what lies below it from memory; false if it was already there. */
function raiseFloor(s: PaxosStore, below: number): boolean {
  if (below <= s.floor) return false;
  for (const map of [s.records, s.decided] as Map<number, unknown>[]) {
    for (const inst of map.keys()) if (inst < below) map.delete(inst);
  }
  s.floor = below;
  return true;
}

/** The decisions of participant `name` from instance `from` on, in order (a replica's replay). */
export function decisionsFrom(store: PaxosStore, from: number): Array<[number, unknown]> {
  return [...store.decided].filter(([inst]) => inst >= from).sort(([a], [b]) => a - b);
}

/** Closes every LMDB environment (tests; a node closes them on exit anyway). */
export async function closeStores(): Promise<void> {
  const dbs = [...environments.values()];
  environments.clear();
  lmdbStores.clear(); // the next open reads from disk again
  await Promise.all(dbs.map((db) => db.close()));
}

/** Forgets the in-memory store of `name` (a fresh start under the same name). */
export function dropMemoryStore(name: string): void {
  memoryStores.delete(name);
}
