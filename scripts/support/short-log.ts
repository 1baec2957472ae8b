// Runtime logs for interactive scripts: one short human-readable line per entry on stderr
// (`[warn] node down: ... key=value`), so stdout stays a clean transcript.
import { pino } from 'pino';
import { setLogger } from '../../actors/index.ts';

/** Installs the short stderr logger at `level` (default: LOG_LEVEL, else `fallback`). */
export function useShortLogs(fallback = 'warn', level = process.env.LOG_LEVEL ?? fallback): void {
  setLogger(
    pino(
      { level, base: undefined },
      {
        write(line: string) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          const label = pino.levels.labels[entry.level as number] ?? String(entry.level);
          const { msg, level: _l, time: _t, err: _e, ...fields } = entry;
          const detail = Object.entries(fields)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          process.stderr.write(`[${label}] ${String(msg)}${detail ? ` ${detail}` : ''}\n`);
        },
      },
    ),
  );
}
