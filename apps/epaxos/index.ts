// The EPaxos API in the shape of the seed's Erlang library (eepaxos): init a partition's local
// replica, start_cluster, call and cast commands; camelCase with the seed's snake_case aliases.
import { checkValue } from '../../actors/codec.ts';
import {
  ActorError,
  call as callProcess,
  Global,
  isAlive,
  type Pid,
  Supervisor,
  showValue,
  sleep,
  spawnOpt,
} from '../../actors/index.ts';
import type { StorageOptions } from '../paxos/storage.ts';
import { requestId } from '../rsm/machine.ts';
import { type EpaxosMachine, kvMachine } from './machine.ts';
import type { Command } from './messages.ts';
import { majorityOf } from './replica.ts';
import {
  type EpaxosStatus,
  epaxosServer,
  type FenceReply,
  type Outcome,
  type ServerConfig,
  type ServerRequest,
  serverName,
} from './server.ts';
import {
  type EpaxosStore,
  openEpaxosStore,
  type StoredCheckpoint,
  storageOptions,
} from './storage.ts';

export type { EpaxosMachine, EpaxosStatus, Outcome };
export { kvMachine, serverName };

/** A command as callers give it: the keys it touches (it interferes with commands sharing one). */
export interface CommandInput {
  keys: string[];
  op: unknown;
}

export interface InitOptions {
  /** What commands are executed with (default: kvMachine, a key-value map). */
  machine?: EpaxosMachine;
  /** Where the replica keeps its records (default: configureStorage's, see apps/paxos/storage.ts). */
  storage?: StorageOptions;
  /** How long call waits for a command to execute, unless the call says (default 5000 ms). */
  timeoutMs?: number;
  /** Link the replica's supervisor to the caller: it stops when the caller exits (default false). */
  linked?: boolean;
  /**
   * Checkpoint every this many executed instances (default 1000; 0: never): the machine's
   * snapshot (it needs snapshot() and restore()) is saved with what it covers, a restart restores
   * it, and records every replica's checkpoint covers are dropped.
   */
  checkpointEvery?: number;
}

export interface CallOptions {
  /** Which of this node's replicas of the partition proposes (default: the first one started). */
  replica?: string;
  timeoutMs?: number;
}

/** Replicas a partition may have. */
const REPLICAS_MAX = 64;
/** Keys one command may touch. */
const KEYS_MAX = 64;
const CALL_TIMEOUT_MS = 5000;
const CHECKPOINT_EVERY = 1000;
/** How long a join may take, unless its options say (default). */
const JOIN_TIMEOUT_MS = 10_000;
/** How often a join looks whether every replica has executed up to the fences. */
const DRAIN_POLL_MS = 5;
/** How often a call looks whether its restarted replica is registered again. */
const RESTART_POLL_MS = 5;
/** How often startCluster looks at the registry. */
const CLUSTER_POLL_MS = 5;
/** Cast outcomes kept for outcome()/lookup(): past this many, the oldest settled are dropped. */
const OUTCOMES_MAX = 10_000;

interface LocalReplica {
  partitionId: string;
  me: string;
  /** The node list it was started with (a join since may have added replicas: membersOf). */
  nodeList: string[];
  /** Its store (the replica's data, the membership kept with it). */
  store: EpaxosStore;
  machine: EpaxosMachine;
  timeoutMs: number;
  sup: Pid;
}

/** This node's replicas, by partition, then by replica name (several per partition in tests). */
const local = new Map<string, Map<string, LocalReplica>>();

interface CastEntry {
  promise: Promise<Outcome>;
  outcome?: Outcome;
}
const casts = new Map<string, CastEntry>();

function invalid(message: string): never {
  throw new ActorError('invalid_argument', message);
}

function checkPartitionId(partitionId: unknown): asserts partitionId is string {
  if (typeof partitionId !== 'string' || partitionId.length === 0 || partitionId.includes(':'))
    invalid(`a partition id must be a non-empty string without ':', got ${showValue(partitionId)}`);
}

function checkTimeout(timeoutMs: unknown, what = 'timeoutMs'): asserts timeoutMs is number {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
    invalid(`${what} must be a number > 0, got ${showValue(timeoutMs)}`);
}

function checkOptions(options: unknown): asserts options is InitOptions {
  if (typeof options !== 'object' || options === null) invalid('options must be an object');
  const { machine, storage, timeoutMs, linked, checkpointEvery } = options as InitOptions;
  if (
    machine !== undefined &&
    (typeof machine !== 'object' ||
      machine === null ||
      typeof machine.empty !== 'function' ||
      typeof machine.apply !== 'function')
  )
    invalid('options.machine must have empty() and apply(state, op, cmd)');
  if (storage !== undefined) {
    if (typeof storage !== 'object' || storage === null)
      invalid('options.storage must be an object');
    if (storage.kind !== undefined && storage.kind !== 'lmdb' && storage.kind !== 'memory')
      invalid(`options.storage.kind must be 'lmdb' or 'memory', got ${showValue(storage.kind)}`);
    if (storage.dir !== undefined && (typeof storage.dir !== 'string' || storage.dir === ''))
      invalid('options.storage.dir must be a non-empty string');
    if (storage.sync !== undefined && typeof storage.sync !== 'boolean')
      invalid('options.storage.sync must be true or false');
  }
  if (timeoutMs !== undefined) checkTimeout(timeoutMs, 'options.timeoutMs');
  if (linked !== undefined && typeof linked !== 'boolean')
    invalid('options.linked must be true or false');
  if (
    checkpointEvery !== undefined &&
    !(Number.isSafeInteger(checkpointEvery) && (checkpointEvery as number) >= 0)
  )
    invalid(`options.checkpointEvery must be an integer >= 0, got ${showValue(checkpointEvery)}`);
  if (machine !== undefined && (machine.snapshot === undefined) !== (machine.restore === undefined))
    invalid('options.machine must have both snapshot(state) and restore(snapshot), or neither');
}

/** init's and join's arguments; throws invalid_argument. */
function checkInit(
  partitionId: unknown,
  nodeList: unknown,
  localNodeId: unknown,
  options: unknown,
): asserts nodeList is string[] {
  checkPartitionId(partitionId);
  if (
    !Array.isArray(nodeList) ||
    nodeList.length === 0 ||
    nodeList.length > REPLICAS_MAX ||
    !nodeList.every((n) => typeof n === 'string' && n.length > 0) ||
    new Set(nodeList).size !== nodeList.length
  )
    invalid(
      `nodeList must be 1..${REPLICAS_MAX} distinct non-empty names, got ${showValue(nodeList)}`,
    );
  if (
    typeof localNodeId !== 'number' ||
    !Number.isInteger(localNodeId) ||
    localNodeId < 1 ||
    localNodeId > nodeList.length
  )
    invalid(
      `localNodeId must be an integer in 1..${nodeList.length} (its 1-based place in nodeList), got ${showValue(localNodeId)}`,
    );
  checkOptions(options);
}

/**
 * Starts this node's replica number `localNodeId` (1-based) of partition `partitionId`, whose
 * replicas are `nodeList`: names (several replicas of a partition may run in one process, as
 * 'r1', 'r2', 'r3') or node names ('name@host:port', one replica per node). The replica is a
 * supervised process registered globally as `epaxos:<partitionId>:<name>`. Returns 'ok'.
 */
function init(
  partitionId: string,
  nodeList: string[],
  localNodeId: number,
  options: InitOptions = {},
): 'ok' {
  checkInit(partitionId, nodeList, localNodeId, options);
  const me = nodeList[localNodeId - 1]!;
  const mine = local.get(partitionId);
  const running = mine?.get(me);
  if (running && isAlive(running.sup))
    throw new ActorError(
      'already_running',
      `replica '${me}' of partition '${partitionId}' already runs here; EPaxos.stop it first`,
    );
  const sibling = [...(mine?.values() ?? [])].find((r) => isAlive(r.sup));
  const siblingList = sibling && membersOf(sibling);
  if (siblingList && [...siblingList].sort().join('\u0000') !== [...nodeList].sort().join('\u0000'))
    invalid(
      `partition '${partitionId}' runs here with the node list [${siblingList.join(', ')}], not [${nodeList.join(', ')}]`,
    );
  const holder = Global.whereis(serverName(partitionId, me));
  if (holder)
    throw new ActorError(
      'name_taken',
      `replica '${me}' of partition '${partitionId}' is already running (${holder})`,
    );
  const storage = storageOptions(options.storage);
  // Data kept for this replica must belong to this node list (throws invalid_argument if not).
  const store = openEpaxosStore(partitionId, me, storage);
  store.claim(nodeList);
  const config: ServerConfig = {
    partitionId,
    me,
    replicas: [...nodeList],
    machine: options.machine ?? (kvMachine as EpaxosMachine),
    storage,
    checkpointEvery: options.checkpointEvery ?? CHECKPOINT_EVERY,
  };
  const sup = (options.linked ? Supervisor.startLink : Supervisor.start)(
    [
      {
        id: 'server',
        start: () =>
          spawnOpt(epaxosServer, [config], { label: `EPaxos ${serverName(partitionId, me)}` }),
      },
    ],
    { strategy: 'one_for_one', maxRestarts: 10, periodMs: 10_000 },
  );
  const entry: LocalReplica = {
    partitionId,
    me,
    nodeList: [...nodeList],
    store,
    machine: config.machine,
    timeoutMs: options.timeoutMs ?? CALL_TIMEOUT_MS,
    sup,
  };
  if (mine) mine.set(me, entry);
  else local.set(partitionId, new Map([[me, entry]]));
  return 'ok';
}

/** How many of the partition's replicas are registered (reachable by name) now. */
function registeredCount(nodeList: readonly string[], partitionId: string): number {
  return nodeList.filter((r) => Global.whereis(serverName(partitionId, r)) !== undefined).length;
}

/**
 * Resolves 'ok' once, for every partition started on this node, all its replicas ('all') or a
 * majority of them ('minimum') are registered; { ok: false, error: 'timeout' } after timeoutMs.
 */
async function startCluster(
  available: 'all' | 'minimum',
  timeoutMs: number,
): Promise<'ok' | { ok: false; error: 'timeout' }> {
  if (available !== 'all' && available !== 'minimum')
    invalid(`available must be 'all' or 'minimum', got ${showValue(available)}`);
  checkTimeout(timeoutMs);
  if (local.size === 0) invalid('no partition is started on this node: call EPaxos.init first');
  const ready = () =>
    [...local].every(([partitionId, replicas]) => {
      const nodeList = replicas.values().next().value!.nodeList;
      const need = available === 'all' ? nodeList.length : majorityOf(nodeList.length);
      return registeredCount(nodeList, partitionId) >= need;
    });
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() >= deadline) return { ok: false, error: 'timeout' };
    await sleep(Math.min(CLUSTER_POLL_MS, Math.max(1, deadline - performance.now())));
  }
  return 'ok';
}

function localReplica(partitionId: string, replica: string | undefined): LocalReplica {
  checkPartitionId(partitionId);
  const mine = local.get(partitionId);
  if (!mine || mine.size === 0)
    invalid(`partition '${partitionId}' is not started on this node: call EPaxos.init first`);
  if (replica === undefined) return mine.values().next().value!;
  const r = mine.get(replica);
  if (!r)
    invalid(
      `no replica '${String(replica)}' of partition '${partitionId}' runs here (here: ${[...mine.keys()].join(', ')})`,
    );
  return r;
}

/** Checks a call's arguments; returns what to run it with. Throws invalid_argument. */
function prepare(
  partitionId: string,
  command: CommandInput,
  options: CallOptions,
): { rep: LocalReplica; cmd: Command; timeoutMs: number } {
  if (typeof options !== 'object' || options === null) invalid('call options must be an object');
  const rep = localReplica(partitionId, options.replica);
  if (typeof command !== 'object' || command === null || Array.isArray(command))
    invalid(`a command is { keys: string[], op }, got ${showValue(command)}`);
  const { keys, op } = command;
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    keys.length > KEYS_MAX ||
    !keys.every((k) => typeof k === 'string' && k.length > 0)
  )
    invalid(
      `a command's keys must be 1..${KEYS_MAX} non-empty strings (commands sharing a key are ordered), got ${showValue(keys)}`,
    );
  rep.machine.validate?.(op);
  checkValue(op, 'an EPaxos op');
  const timeoutMs = options.timeoutMs ?? rep.timeoutMs;
  checkTimeout(timeoutMs);
  return { rep, cmd: { id: requestId(), keys: [...new Set(keys)], op }, timeoutMs };
}

/**
 * Proposes at the local replica until the command has executed there, or the time is up. A
 * replica restarted meanwhile is asked again with the same command id: it waits for the
 * instance it had written, or proposes it anew (a command is applied once per id).
 */
/** The partition's replicas now: as kept with the replica's data (a join changes them). */
function membersOf(rep: LocalReplica): string[] {
  return rep.store.members ?? rep.nodeList;
}

async function run(rep: LocalReplica, cmd: Command, timeoutMs: number): Promise<Outcome> {
  const members = membersOf(rep);
  if (registeredCount(members, rep.partitionId) < majorityOf(members.length))
    return { ok: false, error: 'exceed_failure_tolerant' };
  const name = serverName(rep.partitionId, rep.me);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return { ok: false, error: 'timeout' };
    const pid = Global.whereis(name);
    if (!pid) {
      await sleep(Math.min(RESTART_POLL_MS, left)); // being restarted by its supervisor
      continue;
    }
    try {
      return await callProcess<Outcome>(pid, { op: 'propose', cmd } satisfies ServerRequest, left);
    } catch (err) {
      if (!(err instanceof ActorError)) throw err;
      if (err.code === 'timeout') return { ok: false, error: 'timeout' };
      if (err.code !== 'exit' && err.code !== 'noproc' && err.code !== 'noconnection') throw err;
    }
  }
}

/**
 * Proposes `command` ({ keys, op }) at this node's replica of the partition and resolves once
 * it has executed there: { ok: true, result }; { ok: false, error: 'exceed_failure_tolerant' }
 * at once when fewer than a majority of the replicas are registered; { ok: false, error:
 * 'timeout' } after options.timeoutMs (default: init's, 5000 ms). Misuse throws invalid_argument.
 */
async function call(
  partitionId: string,
  command: CommandInput,
  options: CallOptions = {},
): Promise<Outcome> {
  const { rep, cmd, timeoutMs } = prepare(partitionId, command, options);
  return await run(rep, cmd, timeoutMs);
}

/** As call, without waiting: returns a key at once; outcome(key) resolves to what call would. */
function cast(partitionId: string, command: CommandInput, options: CallOptions = {}): string {
  const { rep, cmd, timeoutMs } = prepare(partitionId, command, options);
  const key = cmd.id;
  let settle: (o: Outcome) => void = () => {};
  const entry: CastEntry = { promise: new Promise<Outcome>((r) => (settle = r)) };
  casts.set(key, entry);
  // Its own process: the caller may exit, or flush its mailbox, meanwhile.
  spawnOpt(
    async () => {
      let outcome: Outcome;
      try {
        outcome = await run(rep, cmd, timeoutMs);
      } catch {
        outcome = { ok: false, error: 'timeout' };
      }
      entry.outcome = outcome;
      settle(outcome);
    },
    [],
    { label: `EPaxos cast ${key}` },
  );
  if (casts.size > OUTCOMES_MAX)
    for (const [k, e] of casts) {
      if (casts.size <= OUTCOMES_MAX) break;
      if (e.outcome) casts.delete(k);
    }
  return key;
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0)
    invalid(`a cast key is the string cast returned, got ${showValue(key)}`);
}

export const EPaxos = {
  init,
  startCluster,
  start_cluster: startCluster,
  call,
  cast,
  /** The outcome of a cast: resolves when the command has executed here (or failed, as call). */
  outcome(key: string): Promise<Outcome> {
    checkKey(key);
    const entry = casts.get(key);
    if (!entry) invalid(`no cast with the key '${key}' is known here`);
    return entry.promise;
  },
  /** The outcome of a cast if it is known, else undefined. */
  lookup(key: string): Outcome | undefined {
    checkKey(key);
    return casts.get(key)?.outcome;
  },
  /** A replica's view (options.replica: which of this node's replicas; default the first). */
  async status(partitionId: string, options: { replica?: string } = {}): Promise<EpaxosStatus> {
    const rep = localReplica(partitionId, options?.replica);
    const pid = Global.whereis(serverName(partitionId, rep.me));
    if (!pid)
      throw new ActorError(
        'noproc',
        `replica '${rep.me}' of partition '${partitionId}' is not running (being restarted?)`,
      );
    return await callProcess<EpaxosStatus>(pid, { op: 'status' } satisfies ServerRequest, 5000);
  },
  /** This node's replicas of a partition, by name. */
  replicas(partitionId: string): string[] {
    checkPartitionId(partitionId);
    return [...(local.get(partitionId)?.keys() ?? [])];
  },
  /**
   * Stops this node's replica `replica` of the partition, or all of them (their durable state
   * stays: init starts them again from it).
   */
  async stop(partitionId: string, replica?: string): Promise<void> {
    checkPartitionId(partitionId);
    const mine = local.get(partitionId);
    if (!mine) return;
    for (const [name, rep] of [...mine]) {
      if (replica !== undefined && name !== replica) continue;
      mine.delete(name);
      try {
        await Supervisor.stop(rep.sup, 'shutdown');
      } catch (err) {
        if (!(err instanceof ActorError)) throw err; // already dead
      }
    }
    if (mine.size === 0) local.delete(partitionId);
  },
  join,
};

/**
 * Adds this node's replica `nodeList[localNodeId - 1]` to the running partition whose replicas
 * are the rest of `nodeList` (the seed's join). Every current replica must be up. They stop
 * proposing (their callers wait), learn or recover every instance up to each one's last, and
 * execute them all; one of them checkpoints, and the new replica starts from that checkpoint.
 * Then each takes the new configuration (a restart in it), and proposing goes on, the new
 * replica counting in every quorum. Before the switch, a failure (a replica down, the time up)
 * undoes the fence and throws: nothing changed. Resolves 'ok'; misuse throws invalid_argument.
 */
async function join(
  partitionId: string,
  nodeList: string[],
  localNodeId: number,
  options: InitOptions = {},
): Promise<'ok'> {
  checkInit(partitionId, nodeList, localNodeId, options);
  const me = nodeList[localNodeId - 1]!;
  const members = nodeList.filter((r) => r !== me);
  if (members.length === 0)
    invalid("nodeList must hold the partition's replicas and the joining one");
  const machine = options.machine ?? (kvMachine as EpaxosMachine);
  if (!machine.snapshot || !machine.restore)
    invalid('a joining replica starts from a snapshot: the machine needs snapshot() and restore()');
  const storage = storageOptions(options.storage);
  const store = openEpaxosStore(partitionId, me, storage);
  if (store.records.size > 0 || store.checkpoint || store.members)
    invalid(
      `replica '${me}' of partition '${partitionId}' has data here already: a joining replica starts empty (join under a new name, or use another data directory)`,
    );
  const timeoutMs = options.timeoutMs ?? JOIN_TIMEOUT_MS;
  const deadline = performance.now() + timeoutMs;
  const ask = async <T>(r: string, req: ServerRequest): Promise<T> => {
    const pid = Global.whereis(serverName(partitionId, r));
    if (!pid)
      throw new ActorError(
        'noproc',
        `replica '${r}' of partition '${partitionId}' is not running: every current replica must be up for one to join`,
      );
    return await callProcess<T>(pid, req, Math.max(1, deadline - performance.now()));
  };
  let cp: StoredCheckpoint;
  try {
    const fences: FenceReply[] = [];
    for (const r of members) fences.push(await ask<FenceReply>(r, { op: 'fence' }));
    for (const f of fences)
      if (f.replicas.length !== members.length || f.replicas.some((r) => !members.includes(r)))
        invalid(
          `nodeList must be the partition's replicas [${f.replicas.join(', ')}] and the joining one, got [${nodeList.join(', ')}]`,
        );
    const upTo = Object.fromEntries(members.map((r, i) => [r, fences[i]!.frontier]));
    for (const r of members) await ask(r, { op: 'drain', upTo });
    for (const r of members)
      while (!(await ask<boolean>(r, { op: 'drained', upTo }))) {
        if (performance.now() >= deadline)
          throw new ActorError('timeout', `replica '${r}' did not execute every instance in time`);
        await sleep(DRAIN_POLL_MS);
      }
    const got = await ask<StoredCheckpoint | { error: string } | undefined>(members[0]!, {
      op: 'checkpoint',
    });
    if (!got || 'error' in got)
      throw new ActorError(
        'not_supported',
        `replica '${members[0]}' could not checkpoint: ${got?.error ?? 'no checkpoint written'}`,
      );
    cp = got;
  } catch (err) {
    for (const r of members)
      try {
        await ask(r, { op: 'unfence' });
      } catch {
        // down or slow: it unfences when its supervisor restarts it
      }
    throw err;
  }
  // From here on the join goes forward: the new replica's data first, then the switch.
  store.claim(nodeList);
  await store.persistCheckpoint(cp);
  const failed: string[] = [];
  for (const r of members)
    try {
      await ask(r, { op: 'switch', replicas: [...nodeList] });
    } catch {
      failed.push(r);
    }
  init(partitionId, nodeList, localNodeId, options);
  // Back once the new replica is registered, and a majority of the new configuration.
  while (
    Global.whereis(serverName(partitionId, me)) === undefined ||
    registeredCount(nodeList, partitionId) < majorityOf(nodeList.length)
  ) {
    if (performance.now() >= deadline) break;
    await sleep(DRAIN_POLL_MS);
  }
  if (failed.length > 0)
    throw new ActorError(
      'incomplete',
      `replica '${me}' joined, but [${failed.join(', ')}] did not take the new configuration: they stay fenced (passive) until restarted with the node list [${nodeList.join(', ')}]`,
    );
  return 'ok';
}
