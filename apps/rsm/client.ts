// The client side of a replicated service: start replicas, resolve a server (pid or replica
// name), validate an operation before anything is proposed, call with retries under one reqId.
// Misuse (bad arguments, unknown names) rejects the returned promise with a typed ActorError;
// functions that return a pid (start) throw it.
import { checkValue } from '../../actors/codec.ts';
import {
  ActorError,
  CALL_TIMEOUT_MS_DEFAULT,
  call,
  demonitor,
  Global,
  isDown,
  isPid,
  kill,
  monitor,
  type Pid,
  type Ref,
  receive,
  showValue,
  sleep,
  spawnOpt,
  TIMEOUT,
} from '../../actors/index.ts';
import { spawnOn } from '../../transport/index.ts';
import { type ReconfigOp, type ReconfigResult, replicaOptionsProblem } from './core.ts';
import { type Machine, type Op, requestId } from './machine.ts';
import {
  type ReplicaError,
  type ReplicaRequest,
  type ReplicaStatus,
  replica,
  replicaName,
  type ServiceOptions,
} from './replica.ts';

/** Per-call options of every client function. */
export interface CallOptions {
  /** The request id (default: a fresh one). Pass the same id to retry a request safely. */
  reqId?: string;
  /** How long one attempt waits (default 5000 ms). */
  timeoutMs?: number;
  /** Attempts at the same server, under the same reqId, when one times out (default 3). */
  attempts?: number;
}

const NAME = /^[A-Za-z0-9_.@-]+$/;

function checkName(what: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ActorError(
      'invalid_argument',
      `${what} must be a non-empty name of letters, digits and _ . @ -, got ${showValue(name)}`,
    );
  }
}

/** Checks start's arguments and that no replica of that name runs; returns the replica's pid. */
export function startReplica<S, O extends Op, R>(
  machine: Machine<S, O, R>,
  name: string,
  procs: string[],
  serviceOptions: ServiceOptions = {},
): Pid {
  if (typeof serviceOptions !== 'object' || serviceOptions === null)
    throw new ActorError('invalid_argument', 'options must be an object');
  const { protocol, join, ...options } = serviceOptions;
  checkName('a replica name', name);
  if (!Array.isArray(procs) || procs.length === 0)
    throw new ActorError('invalid_argument', 'procs must be a non-empty array of replica names');
  for (const p of procs) checkName('every replica in procs', p);
  if (join !== undefined && typeof join !== 'boolean')
    throw new ActorError('invalid_argument', `join must be true or false, got ${showValue(join)}`);
  if (join && protocol === 'epaxos')
    throw new ActorError('invalid_argument', 'join is for Paxos services (EPaxos has EPaxos.join)');
  if (join) {
    if (procs.includes(name) || new Set(procs).size !== procs.length)
      throw new ActorError(
        'invalid_argument',
        `a joining replica's procs are distinct running replicas other than '${name}', got ${showValue(procs)}`,
      );
  } else if (!procs.includes(name) || new Set(procs).size !== procs.length) {
    throw new ActorError(
      'invalid_argument',
      `procs must be distinct names including '${name}', got ${showValue(procs)}`,
    );
  }
  const problem = replicaOptionsProblem(options);
  if (problem) throw new ActorError('invalid_argument', problem);
  if (protocol !== undefined && protocol !== 'paxos' && protocol !== 'epaxos')
    throw new ActorError(
      'invalid_argument',
      `protocol must be 'paxos' or 'epaxos', got ${showValue(protocol)}`,
    );
  if (protocol === 'epaxos' && !machine.keysOf)
    throw new ActorError('invalid_argument', `the ${machine.service} service cannot run on EPaxos`);
  const holder = Global.whereis(replicaName(machine.service, name));
  if (holder) {
    throw new ActorError(
      'name_taken',
      `a ${machine.service} replica named '${name}' is already running (${holder}); kill it first`,
    );
  }
  return spawnOpt(replica<S, O, R>, [machine, name, [...procs], serviceOptions], {
    label: `${machine.service} ${name}`,
  });
}

/** A pid, or the name a replica was started with. Throws unknown_name for a name not running. */
export function resolveServer(service: string, server: unknown): Pid {
  if (isPid(server)) return server;
  if (typeof server === 'string') {
    const pid = Global.whereis(replicaName(service, server));
    if (!pid)
      throw new ActorError('unknown_name', `no ${service} replica named '${server}' is running`);
    return pid;
  }
  throw new ActorError(
    'invalid_argument',
    `expected a server: a pid from start, or the name of a ${service} replica, got ${showValue(server)}`,
  );
}

/**
 * Sends an operation to a replica and resolves with its result once the replica has applied
 * it. A timed-out attempt is retried under the same reqId, so it is applied at most once.
 */
export function submit<R>(server: Pid, op: Op, options: CallOptions): Promise<R> {
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS_DEFAULT;
  if (!Number.isInteger(attempts) || attempts < 1)
    return Promise.reject(
      new ActorError('invalid_argument', `attempts must be an integer >= 1, got ${attempts}`),
    );
  const request = { rsm: 'op', op } satisfies ReplicaRequest<Op>;
  // One promise per attempt (operations are the hot path): no async function around the call.
  const attempt = (n: number): Promise<R> => {
    const again = (err: unknown): Promise<R> => {
      if (err instanceof ActorError && err.code === 'timeout' && n < attempts)
        return attempt(n + 1);
      throw err;
    };
    return call<R | ReplicaError>(server, request, timeoutMs).then((result) => {
      if (typeof result === 'object' && result !== null && 'rsmError' in result) {
        const e = (result as ReplicaError).rsmError;
        return again(new ActorError(e.code as never, e.message));
      }
      return result as R;
    }, again);
  };
  return attempt(1);
}

/** Resolves the server, validates the operation (before anything is proposed), submits it. */
export function runOp<S, O extends Op, R, T = R>(
  machine: Machine<S, O, R>,
  server: unknown,
  op: O,
  options: CallOptions,
): Promise<T> {
  let pid: Pid;
  try {
    pid = resolveServer(machine.service, server);
    machine.validate(op);
    checkValue(op, 'an operation'); // e.g. an item name with a lone surrogate
  } catch (err) {
    return Promise.reject(err); // misuse rejects the returned promise, as from an async function
  }
  return submit<T>(pid, op, options);
}

/** Where a replica stands in the log (applied position, leader, pending requests). */
export async function status(
  service: string,
  server: unknown,
  timeoutMs = CALL_TIMEOUT_MS_DEFAULT,
): Promise<ReplicaStatus> {
  const pid = resolveServer(service, server);
  return await call<ReplicaStatus>(pid, { rsm: 'status' } satisfies ReplicaRequest<Op>, timeoutMs);
}

/** Options of addReplica and removeReplica. */
export interface ReconfigOptions extends CallOptions {
  /**
   * addReplica: the node to start the new replica on (it must have loaded the services:
   * `--load Services=apps/services.ts`); default this node.
   */
  node?: string;
  /** addReplica: how long to wait for the new replica to catch up and serve (default 30000 ms). */
  readyTimeoutMs?: number;
}

/** What addReplica and removeReplica resolve to: the new configuration. */
export interface Membership {
  epoch: number;
  members: string[];
  /** addReplica: the new replica's pid. */
  pid?: Pid;
}

/** A refused reconfiguration as the client's error: its code, and what to say. */
const RECONFIG_REFUSALS = {
  already_member: ['already_member', 'is already a SERVICE replica'],
  not_member: ['not_member', 'is not a SERVICE replica'],
  last_member: ['invalid_argument', 'is the last SERVICE replica; a service needs one'],
} as const;
/** How long addReplica waits for the new replica to serve, by default. */
const READY_TIMEOUT_MS = 30_000;

/** Orders a reconfiguration through the log at `server`; throws a typed error if refused. */
async function reconfigure(
  service: string,
  pid: Pid,
  op: Omit<ReconfigOp, 'reqId'>,
  options: CallOptions,
): Promise<ReconfigResult & { ok: true }> {
  const r = await submit<ReconfigResult>(
    pid,
    { reqId: options.reqId ?? requestId(), ...op } as ReconfigOp,
    options,
  );
  if (r.ok) return r;
  throw refusal(service, r.error, (op.add ?? op.remove)!, r.members);
}

/** A refused reconfiguration of replica `name` as the client's typed error. */
function refusal(
  service: string,
  error: keyof typeof RECONFIG_REFUSALS,
  name: string,
  members: string[],
): ActorError {
  const [code, why] = RECONFIG_REFUSALS[error];
  return new ActorError(
    code,
    `'${name}' ${why.replace('SERVICE', service)} (members: ${members.join(', ')})`,
  );
}

/**
 * Waits until replica `name` serves (registered under its name) and returns its pid. With
 * `joiner` (monitored by `ref`), only that process counts, and its stopping first is an error.
 */
async function untilServing(
  service: string,
  name: string,
  epoch: number,
  readyMs: number,
  joiner?: { pid: Pid; ref: Ref },
): Promise<Pid> {
  const deadline = Date.now() + readyMs;
  for (;;) {
    const serving = Global.whereis(replicaName(service, name));
    if (serving && (joiner === undefined || serving.equals(joiner.pid))) return serving;
    const left = deadline - Date.now();
    if (left <= 0)
      throw new ActorError(
        'timeout',
        `${service} replica '${name}' is a member (epoch ${epoch}) but did not catch up within ${readyMs} ms; it goes on trying`,
      );
    if (joiner === undefined) {
      await sleep(Math.min(left, 20));
      continue;
    }
    const down = await receive((m) => isDown(m) && m.ref.equals(joiner.ref), Math.min(left, 20));
    if (down !== TIMEOUT)
      throw new ActorError(
        'exit',
        `${service} replica '${name}' stopped before it served (${showValue(isDown(down) ? down.reason : down)}); it is a member of epoch ${epoch} all the same: start it again with { join: true }, or removeReplica it`,
      );
  }
}

/**
 * Adds replica `name` to a running Paxos service: starts it (on `options.node`, or here) as a
 * joining replica that catches up from the members (from their snapshot, then the log), orders
 * the reconfiguration through the log at `server`, and resolves once the new replica serves.
 */
export async function addReplica<S, O extends Op, R>(
  machine: Machine<S, O, R>,
  server: unknown,
  name: unknown,
  options: ReconfigOptions = {},
): Promise<Membership> {
  const service = machine.service;
  checkName('a replica name', name);
  const pid = resolveServer(service, server);
  const st = await status(service, pid, options.timeoutMs);
  if (st.members === undefined)
    throw new ActorError('not_supported', `the ${service} service runs on EPaxos: use EPaxos.join`);
  const readyMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  if (st.members.includes(name)) {
    if (options.reqId === undefined) throw refusal(service, 'already_member', name, st.members);
    // A retry of an addition already applied: the log remembers its result under its reqId (any
    // other request is refused with already_member). The replica it started serves, or will.
    const r = await reconfigure(service, pid, { rsm: 'reconfig', add: name }, options);
    const serving = await untilServing(service, name, r.epoch, readyMs);
    return { epoch: r.epoch, members: r.members, pid: serving };
  }
  if (Global.whereis(replicaName(service, name)))
    throw new ActorError('name_taken', `a ${service} replica named '${name}' is already running`);
  const joiner =
    options.node === undefined
      ? startReplica(machine, name, st.members, { join: true })
      : await spawnOn(options.node, `Services.${service}`, [name, st.members, { join: true }]);
  const ref = monitor(joiner);
  try {
    const r = await reconfigure(service, pid, { rsm: 'reconfig', add: name }, options);
    // Serving once it has applied the reconfiguration and caught up: registered under its name.
    await untilServing(service, name, r.epoch, readyMs, { pid: joiner, ref });
    return { epoch: r.epoch, members: r.members, pid: joiner };
  } catch (err) {
    // Not added (refused, or the call failed before the reconfiguration was ordered): stop it.
    if (!(err instanceof ActorError && (err.code === 'timeout' || err.code === 'exit')))
      kill(joiner);
    throw err;
  } finally {
    demonitor(ref, { flush: true });
  }
}

/**
 * Removes replica `name` from a running Paxos service through the log at `server` (which may be
 * `name` itself). The removed replica stops once it has applied the reconfiguration; callers it
 * had not answered get a `not_member` error and retry at a member.
 */
export async function removeReplica<S, O extends Op, R>(
  machine: Machine<S, O, R>,
  server: unknown,
  name: unknown,
  options: CallOptions = {},
): Promise<Membership> {
  const service = machine.service;
  checkName('a replica name', name);
  const pid = resolveServer(service, server);
  const r = await reconfigure(service, pid, { rsm: 'reconfig', remove: name }, options);
  return { epoch: r.epoch, members: r.members };
}
