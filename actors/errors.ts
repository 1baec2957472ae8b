// Typed errors thrown for misuse of the runtime (bad arguments, dead or unknown processes).
// Expected outcomes are values; only misuse and failed calls throw an ActorError.
import { inspect } from 'node:util';

export type ActorErrorCode =
  /** The target process does not exist (or died before answering a call). */
  | 'noproc'
  /** A call got no reply within its timeout. */
  | 'timeout'
  /** The called process exited while the call was pending; `reason` holds its exit reason. */
  | 'exit'
  /** A registered name is already held by another process. */
  | 'name_taken'
  /** The process already has a registered name. */
  | 'already_registered'
  /** No process is registered under the name. */
  | 'unknown_name'
  /** A process called itself, which would deadlock. */
  | 'calling_self'
  /** An argument has the wrong type or value. */
  | 'invalid_argument'
  /** The operation needs a local process but got a pid of another node. */
  | 'not_local'
  /** A supervisor child id is unknown. */
  | 'not_found'
  /** A supervisor child is already running (restartChild) or the id is taken (startChild). */
  | 'already_running'
  /** The node that holds the target is not connected. */
  | 'noconnection'
  /** A message is too large to send to another node. */
  | 'too_large'
  /** The operation exists in the API's shape but is not implemented (yet). */
  | 'not_supported'
  /** Fewer than a majority of a replicated service's replicas are reachable (eepaxos's name). */
  | 'exceed_failure_tolerant'
  /** A reconfiguration went only part of the way (EPaxos.join): the message says what is left. */
  | 'incomplete'
  /** A replicated service's replica that is not (or no longer) one of its members. */
  | 'not_member'
  /** A replica is already one of its service's members (addReplica). */
  | 'already_member';

export class ActorError extends Error {
  readonly code: ActorErrorCode;
  /** The exit reason, for `exit` (the callee's reason) and similar codes. */
  readonly reason: unknown;

  constructor(code: ActorErrorCode, message: string, reason?: unknown) {
    super(message);
    this.name = 'ActorError';
    this.code = code;
    this.reason = reason;
  }
}

/** Any value as a short line for an error message (never throws: BigInt, cycles, functions). */
export function showValue(value: unknown): string {
  const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Throws an `invalid_argument` ActorError unless `ok` holds. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new ActorError('invalid_argument', message);
}

/**
 * Thrown by `exit(reason)` inside a process to end it with `reason`. The runtime catches it at
 * the process boundary; catching it in user code swallows the exit (as `catch` does in Erlang).
 */
export class ExitSignal extends Error {
  readonly reason: unknown;

  constructor(reason: unknown) {
    super(`process exit: ${String(reason)}`);
    this.name = 'ExitSignal';
    this.reason = reason;
  }
}
