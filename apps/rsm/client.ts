// The client side of a replicated service: start replicas, resolve a server (pid or replica
// name), validate an operation before anything is proposed, call with retries under one reqId.
// Misuse (bad arguments, unknown names) rejects the returned promise with a typed ActorError;
// functions that return a pid (start) throw it.
import { checkValue } from '../../actors/codec.ts';
import {
  ActorError,
  CALL_TIMEOUT_MS_DEFAULT,
  call,
  Global,
  isPid,
  type Pid,
  showValue,
  spawnOpt,
} from '../../actors/index.ts';
import { replicaOptionsProblem } from './core.ts';
import type { Machine, Op } from './machine.ts';
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
  const { protocol, ...options } = serviceOptions;
  checkName('a replica name', name);
  if (!Array.isArray(procs) || procs.length === 0)
    throw new ActorError('invalid_argument', 'procs must be a non-empty array of replica names');
  for (const p of procs) checkName('every replica in procs', p);
  if (!procs.includes(name) || new Set(procs).size !== procs.length) {
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
