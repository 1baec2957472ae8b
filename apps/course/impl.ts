// The implementation under test: any module with the coursework's three functions, written on
// the actors API. Loaded by path (the coordinator checks it up front; every participant, on
// every node, loads it again by the same absolute path).
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Pid } from '../../actors/index.ts';
import { runnablePath } from '../../transport/launcher.ts';

/** The coursework's interface, as the harness calls it. */
export interface CourseImpl {
  /** Starts a participant registered globally as `name`; `upper` gets `{ type: 'decide', value }`. */
  start(name: string, participants: string[], upper: Pid): unknown;
  /** Stores the value this participant will propose; sends nothing. */
  propose(pid: Pid, value: unknown): unknown;
  /** Runs both phases as leader of a new ballot. */
  startBallot(pid: Pid): unknown;
}

/** This project's Paxos (its `Paxos` export has the three functions). */
export const DEFAULT_IMPL = fileURLToPath(new URL('../paxos/index.ts', import.meta.url));

/** The implementation cannot be used; the message names the module as the user gave it. */
export class ImplError extends Error {
  override name = 'ImplError';
}

const loaded = new Map<string, Promise<CourseImpl>>();

type Fn = (...args: unknown[]) => unknown;
const isFn = (v: unknown): v is Fn => typeof v === 'function';

/**
 * Loads the module at the absolute `path` (once per path) and finds the three functions: as
 * top-level exports, else on the default export, else on an export named `Paxos`.
 * `start_ballot` is preferred, `startBallot` accepted. Rejects with an ImplError whose message
 * starts with `shown` (how the user named the module) and says what is wrong.
 */
export function loadImpl(path: string, shown: string = path): Promise<CourseImpl> {
  let p = loaded.get(path);
  if (!p) {
    p = load(path, shown);
    loaded.set(path, p);
  }
  return p;
}

async function load(path: string, shown: string): Promise<CourseImpl> {
  if (!existsSync(path)) throw new ImplError(`${shown}: no such file (${path})`);
  if (!statSync(path).isFile()) throw new ImplError(`${shown}: not a file (${path})`);
  let mod: Record<string, unknown>;
  try {
    // On a node running compiled JavaScript, the module's compiled counterpart.
    mod = (await import(pathToFileURL(runnablePath(path)).href)) as Record<string, unknown>;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    throw new ImplError(`${shown} could not be loaded: ${text.trim().split('\n')[0]}`);
  }
  const candidates = [mod, mod.default, mod.Paxos].filter(
    (c): c is Record<string, unknown> =>
      (typeof c === 'object' || typeof c === 'function') && c !== null,
  );
  const api = candidates.find((c) => isFn(c.start));
  if (!api)
    throw new ImplError(
      `${shown} does not export start(name, participants, upper) (looked for top-level exports, the default export and an export named Paxos)`,
    );
  if (!isFn(api.propose)) throw new ImplError(`${shown} does not export propose(pid, value)`);
  const ballot = isFn(api.start_ballot)
    ? 'start_ballot'
    : isFn(api.startBallot)
      ? 'startBallot'
      : null;
  if (ballot === null)
    throw new ImplError(`${shown} does not export start_ballot(pid) (or startBallot(pid))`);
  // Called through the object, so methods that use `this` work.
  return {
    start: (name, participants, upper) => (api.start as Fn).call(api, name, participants, upper),
    propose: (pid, value) => (api.propose as Fn).call(api, pid, value),
    startBallot: (pid) => (api[ballot] as Fn).call(api, pid),
  };
}
