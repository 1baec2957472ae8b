// Test helpers: reset the runtime between tests and capture pino output.
// Each vitest file runs in its own process, so this only cleans up within one file.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  flush,
  kill,
  type Logger,
  logger,
  type Pid,
  processes,
  processInfo,
  receive,
  registered,
  self,
  send,
  setLogger,
  spawn,
  spawnMonitor,
  TIMEOUT,
  trapExit,
  unregister,
  whereis,
} from '../actors/index.ts';
import { kernel } from '../actors/kernel.ts';
import { scaledMs } from '../transport/timeouts.ts';

/** Kills every process but the top-level one, and clears the top-level mailbox. */
export async function resetRuntime(): Promise<void> {
  trapExit(true);
  const me = self();
  for (const pid of processes()) if (!pid.equals(me)) kill(pid);
  for (const name of registered()) if (whereis(name)?.equals(me)) unregister(name);
  // Kills are synchronous; what they sent here (EXIT, DOWN) is already on its way through
  // nact, in order: once a marker sent now has arrived, all of it has, and flush drops it.
  await barrier();
  flush();
  trapExit(false);
}

/** Routes logs to an array for the duration of `fn` (which sees the lines as they come). */
export async function captureLogs<T>(
  fn: (lines: ReadonlyArray<Record<string, unknown>>) => Promise<T>,
): Promise<{ result: T; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  const previous: Logger = logger();
  setLogger(pino({ level: 'debug' }, sink));
  try {
    const result = await fn(lines);
    return { result, lines };
  } finally {
    setLogger(previous);
  }
}

/** Generous default for `waitUntil` (scaled by ACTORCLUSTER_TIMEOUT_SCALE). */
export const WAIT_MS = scaledMs(5000);

/**
 * Polls `cond` (every 2 ms) until it holds; after `timeoutMs` fails with "timed out waiting
 * for <what>". The one polling helper of the suite: wait on a condition, never on a sleep.
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** `waitUntil` without a description (kept for older callers; prefer `waitUntil`). */
export function until(cond: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  return waitUntil(cond, 'a condition', timeoutMs);
}

/**
 * Resolves once a marker sent now to the calling process through nact has arrived: every
 * message already dispatched to it (nact keeps order per receiver) has arrived too. The marker
 * comes from a helper process, since a message to oneself skips nact and is in the mailbox at once.
 */
export async function barrier(timeoutMs = WAIT_MS): Promise<void> {
  const me = self();
  const marker = { barrier: Symbol('barrier') };
  spawn(() => send(me, marker));
  const got = await receive((m) => m === marker, timeoutMs);
  if (got === TIMEOUT) throw new Error(`timed out after ${timeoutMs} ms waiting for a barrier`);
}

/** The pid of a process that has ended: its DOWN has arrived. */
export async function deadPid(): Promise<Pid> {
  const [pid, ref] = spawnMonitor(() => {});
  await expectReceive({ type: 'DOWN', ref }, 'a short-lived process to end');
  return pid;
}

/** Waits until local process `pid` is blocked in a receive (it has run up to there). */
export function untilWaiting(pid: Pid, what: string, timeoutMs = WAIT_MS): Promise<void> {
  return waitUntil(
    () => processInfo(pid)?.status === 'waiting',
    `${what} to wait in receive`,
    timeoutMs,
  );
}

/**
 * Waits until nact has handed every message sent to local process `pid` over to its runtime
 * mailbox (a white-box look at the kernel: the public API counts both queues as one).
 */
export function untilDelivered(pid: Pid, timeoutMs = WAIT_MS): Promise<void> {
  return waitUntil(
    () => (kernel.lookup(pid)?.inTransit ?? 0) === 0,
    `nact to hand every message for ${pid} to its mailbox`,
    timeoutMs,
  );
}

/**
 * Waits until the timeout of the receive (or sleep) local process `pid` is blocked in has
 * fired while the process is suspended (white-box: it takes effect only on resume).
 */
export function untilTimedOutWhileSuspended(pid: Pid, timeoutMs = WAIT_MS): Promise<void> {
  return waitUntil(
    () => kernel.lookup(pid)?.waiter?.timedOut === true,
    `the receive timeout of suspended ${pid} to fire`,
    timeoutMs,
  );
}

/**
 * Waits until every local process but the caller is idle: blocked in a receive without a
 * timeout, nothing in its mailbox or on its way there, no timer pending to it. Then nothing
 * more happens locally unless something new is sent: the barrier before "nothing else came".
 */
export function untilQuiet(what: string, timeoutMs = WAIT_MS): Promise<void> {
  const me = self();
  return waitUntil(
    () =>
      processes().every((pid) => {
        if (pid.equals(me)) return true;
        const proc = kernel.lookup(pid);
        if (proc === undefined) return true;
        return (
          proc.status() === 'waiting' &&
          proc.waiter?.timer == null &&
          proc.queueLength() === 0 &&
          proc.timers.size === 0
        );
      }),
    `every process to go quiet (${what})`,
    timeoutMs,
  );
}

/** Receives a message matching `pattern` or fails after `timeoutMs` saying what it waited for. */
export async function expectReceive<T = unknown>(
  pattern: object | ((m: unknown) => boolean) | null,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const msg = await receive(pattern, timeoutMs);
  if (msg === TIMEOUT) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return msg as T;
}
