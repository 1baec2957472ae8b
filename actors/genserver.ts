// GenServer: handler-style processes (init, handleCall, handleCast, handleInfo, terminate).
// A GenServer is an ordinary process running a receive loop over one behaviour object.

import type { Dest } from './api.ts';
import { receive, self, spawnOpt } from './api.ts';
import { CALL_TIMEOUT_MS_DEFAULT, call, cast, reply } from './call.ts';
import { ActorError, ExitSignal } from './errors.ts';
import { kernel } from './kernel.ts';
import { logger } from './log.ts';
import { NONE } from './mailbox.ts';
import { type From, isCall, isCast, isExit } from './messages.ts';
import type { Pid } from './pid.ts';
import type { ExitReason } from './reason.ts';

/** What handleCall returns: reply now, reply later with `reply(from, v)`, or stop. */
export type CallResult<S, R = unknown> =
  | { reply: R; state: S }
  | { noreply: true; state: S }
  | { stop: ExitReason; reply?: R; state: S };

/** What handleCast and handleInfo return: the next state, or stop. */
export type NoReplyResult<S> = { state: S } | { stop: ExitReason; state: S };

type Awaitable<T> = T | Promise<T>;

/**
 * A GenServer behaviour. Method parameters may be declared with narrower types than
 * `unknown` (your own request unions); the runtime passes whatever was sent.
 */
export interface GenServerSpec<S, A extends unknown[] = []> {
  /** Runs first, in the new process, before any message; returns the initial state. */
  init(...args: A): Awaitable<S>;
  handleCall?(request: unknown, from: From, state: S): Awaitable<CallResult<S>>;
  handleCast?(request: unknown, state: S): Awaitable<NoReplyResult<S>>;
  /** Any other message: EXIT (when trapping exits), DOWN, timers, plain sends. */
  handleInfo?(msg: unknown, state: S): Awaitable<NoReplyResult<S>>;
  /** Runs when the server stops (a stop result, a crash in a handler, or its parent's exit while trapping exits). */
  terminate?(reason: ExitReason, state: S): Awaitable<void>;
}

export interface StartOptions {
  /** Register the server locally under this name. */
  name?: string;
  /** Trap exits (so terminate runs when the parent, e.g. a supervisor, shuts it down). */
  trapExit?: boolean;
  /** A label for logs and listings. */
  label?: string;
}

interface StopRequest {
  readonly type: '$gen_stop';
  readonly reason: ExitReason;
}

function isStopRequest(request: unknown): request is StopRequest {
  return (
    typeof request === 'object' &&
    request !== null &&
    (request as { type?: unknown }).type === '$gen_stop'
  );
}

function start<S, A extends unknown[]>(
  spec: GenServerSpec<S, A>,
  args: A,
  options: StartOptions,
  link: boolean,
): Pid {
  if (typeof spec !== 'object' || spec === null || typeof spec.init !== 'function') {
    throw new ActorError(
      'invalid_argument',
      'GenServer.start expects a behaviour object with an init function',
    );
  }
  if (!Array.isArray(args))
    throw new ActorError(
      'invalid_argument',
      'GenServer.start expects its init arguments as an array',
    );
  const parent = self();
  return spawnOpt(serve<S, A>, [spec, args, parent], {
    link,
    trapExit: options.trapExit,
    label: options.label ?? 'GenServer',
    name: options.name,
  });
}

async function serve<S, A extends unknown[]>(
  spec: GenServerSpec<S, A>,
  args: A,
  parent: Pid,
): Promise<void> {
  let state = (await spec.init(...args)) as S;
  const stop = async (reason: ExitReason, last: S): Promise<never> => {
    if (spec.terminate) await spec.terminate(reason, last);
    throw new ExitSignal(reason);
  };
  const proc = kernel.current();
  for (;;) {
    // A busy server takes queued messages without a promise each (receive when it must wait).
    let msg = kernel.takeNow(proc);
    if (msg === NONE) msg = await receive();
    // Handlers are often synchronous; awaiting only real promises saves a promise per message.
    let result: CallResult<S> | NoReplyResult<S> | Promise<CallResult<S> | NoReplyResult<S>>;
    try {
      if (isCall(msg)) {
        if (isStopRequest(msg.request)) {
          await stop(msg.request.reason, state);
        }
        if (!spec.handleCall)
          throw new Error(`${self()} (${spec.constructor?.name ?? 'GenServer'}) has no handleCall`);
        result = spec.handleCall(msg.request, msg.from, state);
        if (isThenable(result)) result = await result;
        if ('reply' in result) reply(msg.from, result.reply);
      } else if (isCast(msg)) {
        if (!spec.handleCast) throw new Error(`${self()} has no handleCast`);
        result = spec.handleCast(msg.request, state);
        if (isThenable(result)) result = await result;
      } else if (isExit(msg) && msg.from.equals(parent)) {
        // OTP: a server trapping exits stops when its parent (e.g. its supervisor) exits.
        await stop(msg.reason, state);
        return;
      } else if (spec.handleInfo) {
        result = spec.handleInfo(msg, state);
        if (isThenable(result)) result = await result;
      } else {
        logger().warn(
          { pid: String(self()), msg: String(msg) },
          'GenServer got an unexpected message; ignored',
        );
        continue;
      }
    } catch (err) {
      if (err instanceof ExitSignal) throw err;
      if (spec.terminate) {
        try {
          await spec.terminate(err, state);
        } catch (terminateErr) {
          logger().error({ pid: String(self()), err: terminateErr }, 'GenServer terminate threw');
        }
      }
      throw err;
    }
    if (result === null || typeof result !== 'object' || !('state' in result)) {
      throw new Error(
        `GenServer handler returned ${String(result)}; expected { state }, { reply, state } or { stop, state }`,
      );
    }
    state = result.state;
    if ('stop' in result) await stop(result.stop, state);
  }
}

// A promise of any realm (handlers written in the REPL's vm context return its promises).
function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Handler-style processes with call/cast, in the shape of Elixir's GenServer. */
export const GenServer = {
  /** Starts a server (init runs in the new process before any message). Returns its pid at once. */
  start<S, A extends unknown[]>(
    spec: GenServerSpec<S, A>,
    args: A,
    options: StartOptions = {},
  ): Pid {
    return start(spec, args, options, false);
  },
  /** As start, linked to the caller. */
  startLink<S, A extends unknown[]>(
    spec: GenServerSpec<S, A>,
    args: A,
    options: StartOptions = {},
  ): Pid {
    return start(spec, args, options, true);
  },
  call,
  cast,
  reply,
  /**
   * Stops a server: its terminate runs, then it exits with `reason`. Resolves once it has
   * exited; throws `noproc` if it is not running, `timeout` if it does not stop in time.
   */
  async stop(
    dest: Dest,
    reason: ExitReason = 'normal',
    timeoutMs: number = CALL_TIMEOUT_MS_DEFAULT,
  ): Promise<void> {
    try {
      await call(dest, { type: '$gen_stop', reason } satisfies StopRequest, timeoutMs);
    } catch (err) {
      if (err instanceof ActorError && err.code === 'exit') {
        if (err.reason === reason) return;
      }
      throw err;
    }
  },
};
