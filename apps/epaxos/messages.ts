// EPaxos's types: instances, commands, ballots, the replica's durable record per instance, the
// messages between replicas and the effects the pure core (replica.ts) asks its runner for.

/** An instance `R.n`: the n-th command replica R leads. Written `${replica}.${n}` as a key. */
export type InstanceKey = string;

export function instanceKey(replica: string, n: number): InstanceKey {
  return `${replica}.${n}`;
}

/** Splits `R.n` (replica names may hold dots: the number is after the last one). */
export function parseInstance(key: InstanceKey): { replica: string; n: number } {
  const dot = key.lastIndexOf('.');
  return { replica: key.slice(0, dot), n: Number(key.slice(dot + 1)) };
}

/**
 * A client command. Two commands interfere when their key sets meet or either holds `'*'`
 * (ALL_KEYS); a no-op (`keys` empty, `id` empty) interferes with nothing. `op` is the
 * application's, opaque here.
 */
export interface Command {
  id: string;
  keys: string[];
  op: unknown;
}

export const NOOP: Command = { id: '', keys: [], op: null };

export function isNoop(cmd: Command): boolean {
  return cmd.id === '' && cmd.keys.length === 0;
}

/** `(n, replica)`, totally ordered; `(0, R)` is the ballot of R's own first round for R.n. */
export interface Ballot {
  n: number;
  replica: string;
}

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.n !== b.n) return a.n - b.n;
  return a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0;
}

export function sameBallot(a: Ballot, b: Ballot): boolean {
  return a.n === b.n && a.replica === b.replica;
}

/** The attributes agreement is about: dependencies (sorted instance keys) and a sequence number. */
export interface Attrs {
  seq: number;
  deps: InstanceKey[];
}

export type Status = 'preaccepted' | 'accepted' | 'committed';

/**
 * What a replica keeps per instance, durably. Two ballots, as in classic Paxos: `bal` is the
 * highest promised, `vbal` the one under which `status`, `cmd` and the attributes were written.
 * (One variable for both is the flaw Sutra found in the original recovery: a promise would
 * look like an acceptance at the promised ballot.)
 */
export interface InstanceRecord {
  /** Unknown when only a promise was made (a prepare for an instance never seen). */
  cmd: Command | null;
  seq: number;
  deps: InstanceKey[];
  status: Status | null;
  bal: Ballot;
  vbal: Ballot | null;
  /** Pre-accepted under the leader's first ballot without adding to its attributes. */
  unchanged: boolean;
}

/** What a replica reports to an explicit prepare. */
export interface PrepareReport {
  cmd: Command | null;
  seq: number;
  deps: InstanceKey[];
  status: Status | null;
  vbal: Ballot | null;
  unchanged: boolean;
}

export type EpaxosMsg =
  | {
      type: 'preaccept';
      inst: InstanceKey;
      ballot: Ballot;
      cmd: Command;
      seq: number;
      deps: InstanceKey[];
    }
  | {
      type: 'preaccept_ok';
      inst: InstanceKey;
      ballot: Ballot;
      seq: number;
      deps: InstanceKey[];
      unchanged: boolean;
    }
  | {
      type: 'accept';
      inst: InstanceKey;
      ballot: Ballot;
      cmd: Command;
      seq: number;
      deps: InstanceKey[];
    }
  | { type: 'accept_ok'; inst: InstanceKey; ballot: Ballot }
  | { type: 'commit'; inst: InstanceKey; cmd: Command; seq: number; deps: InstanceKey[] }
  | { type: 'prepare'; inst: InstanceKey; ballot: Ballot }
  | { type: 'prepare_ok'; inst: InstanceKey; ballot: Ballot; report: PrepareReport }
  /** Is this instance committed where you are? (answered with a `commit`, or not at all) */
  | { type: 'ask'; inst: InstanceKey }
  /** A refusal: this replica promised `promised`, above the sender's ballot. */
  | { type: 'nack'; inst: InstanceKey; ballot: Ballot; promised: Ballot }
  /**
   * From a restarted replica: send me (as `commit`s) every instance committed where you are that
   * `executed` does not cover. `inst` is unused ('').
   */
  | { type: 'sync'; inst: ''; executed: ExecutedSummary }
  /**
   * The sender's last durable checkpoint covers, per command leader, every instance up to
   * `upTo[leader]`: once every replica's does, their records may be dropped. `inst` is unused.
   */
  | { type: 'checkpointed'; inst: ''; upTo: Record<string, number> };

/**
 * A set of instances in a few numbers: per command leader every instance numbered up to
 * `upTo[leader]` (-1: none), plus the instances in `above` (executed out of order).
 */
export interface ExecutedSummary {
  upTo: Record<string, number>;
  above: InstanceKey[];
}

/**
 * What a replica's checkpoint holds besides the application's snapshot: the instances executed
 * (the snapshot reflects exactly these), and per key the last of them that touches it (a new
 * command's dependencies start there).
 */
export interface Checkpoint {
  executed: ExecutedSummary;
  lastByKey: Record<string, InstanceKey>;
}

export type Effect =
  | { type: 'send'; to: string; msg: EpaxosMsg }
  /** Write the record durably; every later effect of the same step waits for the write. */
  | { type: 'persist'; inst: InstanceKey; record: InstanceRecord }
  /** Write the highest recovery ballot number this replica may use, before it is used. */
  | { type: 'reserve'; ballotN: number }
  /** Feed `{ type: 'timer', inst, ballot }` back after `afterMs`. */
  | { type: 'timer'; inst: InstanceKey; ballot: Ballot | null; afterMs: number }
  /** The instance is committed here, with these attributes (for observers and metrics). */
  | {
      type: 'committed';
      inst: InstanceKey;
      cmd: Command;
      seq: number;
      deps: InstanceKey[];
      fast: boolean | null;
    }
  /** Execute the command now: every replica executes interfering commands in the same order. */
  | { type: 'execute'; inst: InstanceKey; cmd: Command }
  /**
   * Snapshot the application now (it reflects exactly `checkpoint.executed`: every execute
   * before this effect, none after) and write both durably; later effects wait for the write.
   */
  | { type: 'checkpoint'; checkpoint: Checkpoint }
  /** Drop these records from the disk (every replica's checkpoint covers them). */
  | { type: 'trim'; insts: InstanceKey[] };
