// Generous waits (a node coming up, a test's own deadline) scaled by one setting, so a slow
// or loaded machine raises them all at once: ACTORCLUSTER_TIMEOUT_SCALE (default 1).
// Protocol timings (heartbeats, call timeouts, receive ... after) are not scaled here.

/** The environment variable that multiplies every generous wait. */
export const TIMEOUT_SCALE_ENV = 'ACTORCLUSTER_TIMEOUT_SCALE';
/** Upper bound on the scale: more than this is a typo, not a slow machine. */
const TIMEOUT_SCALE_MAX = 100;

/** Parses the scale from `text` (the variable's value); undefined or empty means 1. */
export function parseTimeoutScale(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 1;
  const scale = Number(text);
  if (!Number.isFinite(scale) || scale <= 0 || scale > TIMEOUT_SCALE_MAX) {
    throw new Error(
      `${TIMEOUT_SCALE_ENV} must be a number above 0 and at most ${TIMEOUT_SCALE_MAX} (e.g. 2 doubles every generous wait), got '${text}'`,
    );
  }
  return scale;
}

/** The scale in effect for this process (read once, at import). */
export const TIMEOUT_SCALE = parseTimeoutScale(process.env[TIMEOUT_SCALE_ENV]);

/** `ms` multiplied by ACTORCLUSTER_TIMEOUT_SCALE (rounded up to a whole millisecond). */
export function scaledMs(ms: number): number {
  return Math.ceil(ms * TIMEOUT_SCALE);
}

/** Base wait for a node process to print that it is up (tsx compiles it on start). */
export const NODE_START_BASE_MS = 30_000;
/** How long a launcher waits for a node process to come up, scaled. */
export const NODE_START_TIMEOUT_MS = scaledMs(NODE_START_BASE_MS);

/** How long a launched node may take to exit after SIGTERM before it is killed (scaled). */
export const NODE_STOP_GRACE_MS = scaledMs(10_000);
