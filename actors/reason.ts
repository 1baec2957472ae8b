// Exit reasons: the BEAM's conventions for what counts as a normal exit, and printing reasons.
// A reason is any value; these helpers give the conventional ones their meaning.
import { inspect, types } from 'node:util';

/** An exit reason. Conventional values: 'normal', 'shutdown', 'kill', 'killed', 'noproc',
 * 'noconnection', `{ shutdown: detail }`, or the Error a process threw. */
export type ExitReason = unknown;

/** 'normal', 'shutdown' and `{ shutdown: _ }` are clean exits: no crash report, and a
 * transient child is not restarted. */
export function isCleanExit(reason: ExitReason): boolean {
  if (reason === 'normal' || reason === 'shutdown') return true;
  return typeof reason === 'object' && reason !== null && 'shutdown' in reason;
}

/** A short human-readable form of a reason for logs and errors. */
export function formatReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if (isError(reason)) return `${reason.name}: ${reason.message}`;
  return inspect(reason, { depth: 4, breakLength: Number.POSITIVE_INFINITY });
}

/** True for Error objects, including those of another realm (the REPL, vm contexts). */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}
