// Request/reply between processes: call (synchronous, with timeout), cast, reply.
// The wire shapes are `{ type: '$call', from, request }` and `{ type: '$cast', request }`.
import { type Dest, resolveDest, send } from './api.ts';
import { ActorError, check } from './errors.ts';
import { kernel } from './kernel.ts';
import type { From } from './messages.ts';
import { Pid } from './pid.ts';

/** Default call timeout, as in Elixir's GenServer.call. */
export const CALL_TIMEOUT_MS_DEFAULT = 5000;

/**
 * Sends `request` to `dest` and waits for its reply. Throws ActorError `noproc` if the process
 * does not exist, `exit` if it dies before replying, `timeout` after `timeoutMs`
 * (pass Infinity to wait forever), `calling_self` if a process calls itself.
 */
export function call<R = unknown>(
  dest: Dest,
  request: unknown,
  timeoutMs: number = CALL_TIMEOUT_MS_DEFAULT,
): Promise<R> {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
    return Promise.reject(
      new ActorError(
        'invalid_argument',
        `call timeout must be a positive number of milliseconds (or Infinity), got ${String(timeoutMs)}`,
      ),
    );
  }
  let pid: Pid;
  try {
    pid = resolveDest(dest, 'call');
  } catch (err) {
    // Elixir: a call to an unregistered name exits with noproc.
    if (err instanceof ActorError && err.code === 'unknown_name') {
      return Promise.reject(new ActorError('noproc', err.message));
    }
    return Promise.reject(err);
  }
  // Not an async function: one promise per call, not two (calls are the hot path).
  return kernel.call(kernel.current(), pid, request, timeoutMs) as Promise<R>;
}

/** Sends an asynchronous request; never fails, even if `dest` is dead or unregistered. */
export function cast(dest: Dest, request: unknown): void {
  try {
    send(dest, { type: '$cast', request });
  } catch (err) {
    if (err instanceof ActorError && err.code === 'unknown_name') return;
    throw err;
  }
}

/** Answers a call; `from` is the `from` field of the `$call` message. */
export function reply(from: From, value: unknown): void {
  check(
    typeof from === 'object' && from !== null && from.pid instanceof Pid && from.ref !== undefined,
    'reply expects the `from` of a $call message',
  );
  if (!kernel.current().alive) return;
  kernel.reply(from, value);
}
