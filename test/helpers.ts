// Test helpers: reset the runtime between tests and capture pino output.
// Each vitest file runs in its own process, so this only cleans up within one file.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  flush,
  kill,
  type Logger,
  logger,
  processes,
  registered,
  self,
  setLogger,
  sleep,
  trapExit,
  unregister,
  whereis,
} from '../actors/index.ts';

/** Kills every process but the top-level one, and clears the top-level mailbox. */
export async function resetRuntime(): Promise<void> {
  trapExit(true);
  const me = self();
  for (const pid of processes()) if (!pid.equals(me)) kill(pid);
  for (const name of registered()) if (whereis(name)?.equals(me)) unregister(name);
  await sleep(5);
  flush();
  trapExit(false);
}

/** Routes logs to an array for the duration of `fn`. */
export async function captureLogs<T>(
  fn: () => Promise<T>,
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
    const result = await fn();
    return { result, lines };
  } finally {
    setLogger(previous);
  }
}

/** Polls `cond` until it holds (every 2 ms, up to `timeoutMs`). */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
