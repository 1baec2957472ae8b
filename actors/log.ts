// The runtime's pino logger: one root logger per Node.js process, child loggers per node/process.
// Level from LOG_LEVEL; silent under vitest unless LOG_LEVEL says otherwise. Logs go to stderr:
// readable (pino-pretty) on a terminal, JSON lines otherwise; LOG_FORMAT=json|pretty overrides.
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

function defaultLevel(): string {
  if (process.env.LOG_LEVEL) return process.env.LOG_LEVEL;
  return process.env.VITEST ? 'silent' : 'info';
}

function destination() {
  const format = process.env.LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY,
      translateTime: 'HH:MM:ss.l',
      singleLine: true,
    });
  }
  return pino.destination(2);
}

let root: Logger = pino(
  { level: defaultLevel(), base: { pid: undefined, hostname: undefined } },
  destination(),
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
