// The runtime's pino logger: one root logger per Node.js process, child loggers per node/process.
// Level from LOG_LEVEL; silent under vitest unless LOG_LEVEL says otherwise. Logs go to stderr.
import { type Logger, pino } from 'pino';

function defaultLevel(): string {
  if (process.env.LOG_LEVEL) return process.env.LOG_LEVEL;
  return process.env.VITEST ? 'silent' : 'info';
}

let root: Logger = pino(
  { level: defaultLevel(), base: { pid: undefined, hostname: undefined } },
  pino.destination(2),
);

/** The current root logger. */
export function logger(): Logger {
  return root;
}

/** Replaces the root logger (tests capture crash reports this way; scripts add pretty output). */
export function setLogger(next: Logger): void {
  root = next;
}

export type { Logger };
